"""How customers reach their order without an account: order number plus email or postal code.

A successful lookup yields a signed, expiring link token; the tracking page never accepts a bare
order id, so order pages cannot be enumerated. Messages link with the same token. Failed lookups
are counted per brand and client address in the database (every worker shares the count). Every
customer page starts with its brand, by the slug in its address (:func:`get_brand_to_read`).
"""

from __future__ import annotations

import re
import unicodedata
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Dialect
from sqlmodel import Session, col, select

from postpurchase import throttle
from postpurchase.brands import BRAND_BY_SLUG, get_brand
from postpurchase.db import for_driver
from postpurchase.models import Brand, Customer, Order

TOKEN_SALT = "postpurchase.order-link"  # noqa: S105 (a signing namespace, not a key)
#: Links in messages stay valid this long (a return window plus slack).
TOKEN_MAX_AGE_SECONDS = 120 * 24 * 3600
#: Failed lookups allowed per client address and brand in the window, against guessing.
LOOKUP_FAILURES_ALLOWED = 10
LOOKUP_WINDOW = timedelta(minutes=15)
LOOKUP_SCOPE = "order-lookup"


#: Per engine (its dialect object), per slug: the brand's row as the driver gave it, and the brand
#: loaded from it, detached. Bounded by the brands that exist: unknown slugs are not kept.
_read_only_brands: weakref.WeakKeyDictionary[Dialect, dict[str, tuple[Any, Brand]]] = (
    weakref.WeakKeyDictionary()
)


def get_brand_to_read(*, session: Session, slug: str) -> Brand | None:
    """The brand ``slug`` for a request that only reads it (the customer pages): a brand kept per
    process and given again while its row in the database is unchanged, compared as the driver
    returns it; loaded anew, through the ORM, when any column changed.

    Every customer page starts with its brand, and loading it as an ORM row cost more than a tenth
    of a tracking page (``bench/page_profile.py``); the row read on the driver costs less than
    half of that. The brand is detached from ``session`` and shared by the process's later requests: its
    callers must not change it (nothing on the customer pages does; the merchant's settings
    change the row, which the next request sees).
    """
    if session.autoflush:
        session.flush()
    connection = session.connection()
    found = for_driver(BRAND_BY_SLUG, connection.dialect).rows(connection, {"slug": slug})
    if not found:
        return None
    kept = _read_only_brands.setdefault(connection.dialect, {})
    row = tuple(found[0])
    known = kept.get(slug)
    if known is not None and known[0] == row:
        return known[1]
    brand_id = row[0]  # the table's first column
    was_loaded = session.identity_map.get(session.identity_key(Brand, brand_id)) is not None
    brand = get_brand(session=session, slug=slug)
    if brand is None or was_loaded:  # gone meanwhile, or another part of the request holds it
        return brand
    session.expunge(brand)
    kept[slug] = (row, brand)
    return brand


def normalize_postal_code(value: str) -> str:
    """``〒150-0001``, ``１５０ー０００１`` and ``1500001`` are the same postal code."""
    return re.sub(r"[^0-9A-Za-z]", "", unicodedata.normalize("NFKC", value)).upper()


def normalize_order_number(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().lstrip("#").upper()


def find_order(
    *, session: Session, brand_id: int, number: str, email_or_postal: str
) -> Order | None:
    """The brand's order with this number whose email or shipping postal code matches."""
    wanted = normalize_order_number(number)
    secret = unicodedata.normalize("NFKC", email_or_postal).strip()
    if not wanted or not secret:
        return None
    candidates = session.exec(
        select(Order, Customer)
        .outerjoin(Customer, col(Customer.id) == Order.customer_id)
        .where(
            Order.brand_id == brand_id,
            col(Order.number).in_([wanted, "#" + wanted, wanted.lower()]),
        )
    ).all()
    for order, customer in candidates:
        if _matches(order, customer, secret):
            return order
    return None


@dataclass(frozen=True)
class Lookup:
    """The order found, or none; ``retry_after`` seconds when the address guessed too often."""

    order: Order | None
    retry_after: int = 0


def look_up_order(
    *,
    session: Session,
    brand_id: int,
    number: str,
    email_or_postal: str,
    address: str,
    now: datetime,
) -> Lookup:
    """:func:`find_order`, refused after too many failures from ``address`` for this brand.

    A failure is recorded here; the caller commits it even though the request fails.
    """
    key = f"{brand_id}:{address}"
    verdict = throttle.check(
        session=session,
        scope=LOOKUP_SCOPE,
        key=key,
        limit=LOOKUP_FAILURES_ALLOWED,
        window=LOOKUP_WINDOW,
        now=now,
    )
    if not verdict.allowed:
        return Lookup(order=None, retry_after=verdict.retry_after)
    order = find_order(
        session=session, brand_id=brand_id, number=number, email_or_postal=email_or_postal
    )
    if order is None:
        throttle.record_failure(
            session=session, scope=LOOKUP_SCOPE, key=key, window=LOOKUP_WINDOW, now=now
        )
    return Lookup(order=order)


def _matches(order: Order, customer: Customer | None, secret: str) -> bool:
    """Whether ``secret`` is the email of the order or its customer, or its shipping postal code."""
    if "@" in secret:
        emails = {order.email or "", (customer.email or "") if customer else ""}
        return secret.lower() in {e.strip().lower() for e in emails if e}
    wanted = normalize_postal_code(secret)
    return bool(wanted) and wanted == normalize_postal_code(order.shipping_postal_code or "")


@lru_cache(maxsize=64)
def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=TOKEN_SALT)


def order_token(secret_key: str, brand_id: int, order_id: int) -> str:
    return _serializer(secret_key).dumps([brand_id, order_id])


def order_from_token(
    secret_key: str, token: str, brand_id: int, max_age: int = TOKEN_MAX_AGE_SECONDS
) -> int | None:
    """The order id a token grants for this brand; None when forged, expired or for another brand."""
    try:
        token_brand, order_id = _serializer(secret_key).loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired, ValueError, TypeError):
        return None
    return int(order_id) if token_brand == brand_id else None


def order_link_path(secret_key: str, brand_slug: str, brand_id: int, order_id: int) -> str:
    """Path of the order's tracking page with a signed token: ``/<brand>/track/<token>``."""
    return f"/{brand_slug}/track/{order_token(secret_key, brand_id, order_id)}"


RETURN_LINK_SALT = "postpurchase.return-link"


def return_token(secret_key: str, brand_id: int, return_id: int) -> str:
    """A signed, expiring token granting one return's status page and label (never a bare id)."""
    return URLSafeTimedSerializer(secret_key, salt=RETURN_LINK_SALT).dumps([brand_id, return_id])


def return_from_token(
    secret_key: str, token: str, brand_id: int, max_age: int = TOKEN_MAX_AGE_SECONDS
) -> int | None:
    """The return id a token grants for this brand; None when forged, expired or for another brand."""
    try:
        token_brand, return_id = URLSafeTimedSerializer(secret_key, salt=RETURN_LINK_SALT).loads(
            token, max_age=max_age
        )
    except (BadSignature, SignatureExpired, ValueError, TypeError):
        return None
    return int(return_id) if token_brand == brand_id else None


def return_link_path(secret_key: str, brand_slug: str, brand_id: int, return_id: int) -> str:
    """Path of a return's status page with a signed token: ``/<brand>/returns/r/<token>``."""
    return f"/{brand_slug}/returns/r/{return_token(secret_key, brand_id, return_id)}"
