"""Brands (tenants) and their API keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, bindparam, or_
from sqlmodel import Session, col, select

from postpurchase.clock import utcnow
from postpurchase.models import ApiKey, Brand
from postpurchase.models.types import id_column

API_KEY_PREFIX = "pp_"


@dataclass(frozen=True)
class NewBrand:
    brand_id: int
    slug: str
    api_key: str
    signing_secret: str


class BrandExists(ValueError):
    pass


#: Slugs that would collide with the service's own top-level paths (``/<brand>/track``).
RESERVED_SLUGS = frozenset(
    {"api", "merchant", "webhooks", "static", "healthz", "admin", "readyz", "metrics"}
)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_signing_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


def create_brand(
    *,
    session: Session,
    slug: str,
    name: str,
    shopify_secret: str | None = None,
    locale: str = "ja",
    timezone: str = "Asia/Tokyo",
    currency: str = "JPY",
    country: str = "JP",
    settings: dict[str, Any] | None = None,
) -> NewBrand:
    """Create a brand with one API key; the key and signing secret are only ever returned here."""
    if slug in RESERVED_SLUGS or not slug.replace("-", "").isalnum() or slug != slug.lower():
        raise ValueError(
            f"brand slug {slug!r}: use lowercase letters, digits and '-', not {sorted(RESERVED_SLUGS)}"
        )
    if session.exec(select(Brand).where(Brand.slug == slug)).first() is not None:
        raise BrandExists(f"brand {slug!r} already exists")
    brand = Brand(
        slug=slug,
        name=name,
        locale=locale,
        timezone=timezone,
        currency=currency,
        country=country,
        signing_secret=new_signing_secret(),
        shopify_secret=shopify_secret,
        settings=settings or {},
    )
    session.add(brand)
    session.flush()
    assert brand.id is not None
    key = issue_api_key(session=session, brand_id=brand.id)
    return NewBrand(brand.id, slug, key, brand.signing_secret)


def issue_api_key(*, session: Session, brand_id: int, name: str = "default") -> str:
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(brand_id=brand_id, name=name, prefix=key[:10], key_hash=hash_api_key(key)))
    session.flush()
    return key


def _usable(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """Conditions of a key that is accepted at ``now``: not revoked, not past its grace period."""
    return (
        col(ApiKey.revoked_at).is_(None),
        or_(col(ApiKey.expires_at).is_(None), col(ApiKey.expires_at) > now),
    )


def brand_for_api_key(*, session: Session, key: str, now: datetime | None = None) -> Brand | None:
    """The brand a valid key belongs to (not revoked, not expired); None otherwise."""
    row = session.exec(
        select(ApiKey, Brand)
        .join(Brand, col(Brand.id) == ApiKey.brand_id)
        .where(ApiKey.key_hash == hash_api_key(key), *_usable(now or utcnow()))
    ).first()
    return row[1] if row else None


#: Every customer page starts with this read; built once, since building the statement cost about
#: as much as running it (bench/page_profile.py).
BRAND_BY_SLUG = select(Brand).where(Brand.slug == bindparam("slug"))


def get_brand(*, session: Session, slug: str) -> Brand | None:
    return session.exec(BRAND_BY_SLUG, params={"slug": slug}).first()


def touch_api_key(*, session: Session, key: str) -> None:
    api_key = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_api_key(key))).first()
    if api_key is not None:
        api_key.last_used_at = utcnow()


class KeyNotFound(LookupError):
    pass


@dataclass(frozen=True)
class RotatedKey:
    """The new key (shown once) and the keys it replaces, with when they stop working."""

    api_key: str
    key_id: int
    retired: list[ApiKey]


def list_api_keys(*, session: Session, brand_id: int) -> list[ApiKey]:
    return list(
        session.exec(select(ApiKey).where(ApiKey.brand_id == brand_id).order_by(col(ApiKey.id)))
    )


def key_state(key: ApiKey, now: datetime) -> str:
    """``active``, ``expiring`` (rotated out, still in its grace period), ``expired`` or ``revoked``."""
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is None:
        return "active"
    return "expiring" if key.expires_at > now else "expired"


def find_api_key(*, session: Session, brand_id: int, ref: str) -> ApiKey:
    """The brand's key whose id or prefix is ``ref``; :class:`KeyNotFound` if none or several match."""
    query = select(ApiKey).where(ApiKey.brand_id == brand_id)
    query = (
        query.where(ApiKey.id == int(ref))
        if ref.isdigit()
        else query.where(col(ApiKey.prefix).startswith(ref))
    )
    found = list(session.exec(query))
    if len(found) != 1:
        raise KeyNotFound(f"{'no' if not found else 'more than one'} API key {ref!r} in this brand")
    return found[0]


def rotate_api_key(
    *,
    session: Session,
    brand_id: int,
    now: datetime,
    grace: timedelta = timedelta(0),
    ref: str | None = None,
) -> RotatedKey:
    """Issue a new key and retire the brand's usable keys (or only the one ``ref`` names).

    With a grace period the old keys keep working until ``now + grace``, so senders can switch
    over without dropping events; without one they are revoked at once.
    """
    if ref is not None:
        retired = [find_api_key(session=session, brand_id=brand_id, ref=ref)]
    else:
        retired = list(
            session.exec(select(ApiKey).where(ApiKey.brand_id == brand_id, *_usable(now)))
        )
    for key in retired:
        if grace > timedelta(0):
            key.expires_at = min(key.expires_at or now + grace, now + grace)
        else:
            key.revoked_at = key.revoked_at or now
        session.add(key)
    name = retired[0].name if len(retired) == 1 else "default"
    new_key = issue_api_key(session=session, brand_id=brand_id, name=name)
    key_id = session.exec(
        select(id_column(ApiKey)).where(ApiKey.key_hash == hash_api_key(new_key))
    ).one()
    return RotatedKey(new_key, key_id, retired)


def revoke_api_key(*, session: Session, brand_id: int, ref: str, now: datetime) -> ApiKey:
    """Refuse the key from now on (idempotent: an already revoked key keeps its first revocation time)."""
    key = find_api_key(session=session, brand_id=brand_id, ref=ref)
    key.revoked_at = key.revoked_at or now
    session.add(key)
    session.flush()
    return key


def rotate_signing_secret(
    *, session: Session, brand_id: int, now: datetime, grace: timedelta = timedelta(0)
) -> str:
    """Give the brand a new webhook signing secret; the old one is still accepted for ``grace``."""
    brand = session.get(Brand, brand_id)
    if brand is None:
        raise LookupError(f"no brand {brand_id}")
    brand.previous_signing_secret = brand.signing_secret if grace > timedelta(0) else None
    brand.previous_signing_secret_until = now + grace if grace > timedelta(0) else None
    brand.signing_secret = new_signing_secret()
    session.add(brand)
    session.flush()
    return brand.signing_secret
