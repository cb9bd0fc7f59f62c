"""How customers reach their order without an account: order number plus email or postal code.

A successful lookup yields a signed, expiring link token; the tracking page never accepts a bare
order id, so order pages cannot be enumerated. Messages link with the same token.
"""

from __future__ import annotations

import re
import unicodedata

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlmodel import Session, select

from postpurchase.models import Customer, Order

TOKEN_SALT = "postpurchase.order-link"
#: Links in messages stay valid this long (a return window plus slack).
TOKEN_MAX_AGE_SECONDS = 120 * 24 * 3600


def normalize_postal_code(value: str) -> str:
    """``〒150-0001``, ``１５０ー０００１`` and ``1500001`` are the same postal code."""
    return re.sub(r"[^0-9A-Za-z]", "", unicodedata.normalize("NFKC", value)).upper()


def normalize_order_number(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().lstrip("#").upper()


def find_order(*, session: Session, brand_id: int, number: str, email_or_postal: str) -> Order | None:
    """The brand's order with this number whose email or shipping postal code matches."""
    wanted = normalize_order_number(number)
    secret = unicodedata.normalize("NFKC", email_or_postal).strip()
    if not wanted or not secret:
        return None
    candidates = session.exec(
        select(Order).where(Order.brand_id == brand_id,
                            Order.number.in_([wanted, "#" + wanted, wanted.lower()]))  # type: ignore[attr-defined]
    ).all()
    for order in candidates:
        if _matches(session, order, secret):
            return order
    return None


def _matches(session: Session, order: Order, secret: str) -> bool:
    if "@" in secret:
        emails = {order.email or ""}
        if order.customer_id is not None:
            customer = session.get(Customer, order.customer_id)
            emails.add((customer.email or "") if customer else "")
        return secret.lower() in {e.strip().lower() for e in emails if e}
    wanted = normalize_postal_code(secret)
    return bool(wanted) and wanted == normalize_postal_code(order.shipping_postal_code or "")


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=TOKEN_SALT)


def order_token(secret_key: str, brand_id: int, order_id: int) -> str:
    return _serializer(secret_key).dumps([brand_id, order_id])


def order_from_token(secret_key: str, token: str, brand_id: int,
                     max_age: int = TOKEN_MAX_AGE_SECONDS) -> int | None:
    """The order id a token grants for this brand; None when forged, expired or for another brand."""
    try:
        token_brand, order_id = _serializer(secret_key).loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired, ValueError, TypeError):
        return None
    return int(order_id) if token_brand == brand_id else None


def order_link_path(secret_key: str, brand_slug: str, brand_id: int, order_id: int) -> str:
    """Path of the order's tracking page with a signed token: ``/<brand>/track/<token>``."""
    return f"/{brand_slug}/track/{order_token(secret_key, brand_id, order_id)}"
