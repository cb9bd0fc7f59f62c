"""Brands (tenants) and their API keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlmodel import Session, select

from postpurchase.clock import utcnow
from postpurchase.models import ApiKey, Brand

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
RESERVED_SLUGS = frozenset({"api", "merchant", "webhooks", "static", "healthz", "admin"})


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


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
    settings: dict | None = None,
) -> NewBrand:
    """Create a brand with one API key; the key and signing secret are only ever returned here."""
    if slug in RESERVED_SLUGS or not slug.replace("-", "").isalnum() or slug != slug.lower():
        raise ValueError(f"brand slug {slug!r}: use lowercase letters, digits and '-', not {sorted(RESERVED_SLUGS)}")
    if session.exec(select(Brand).where(Brand.slug == slug)).first() is not None:
        raise BrandExists(f"brand {slug!r} already exists")
    brand = Brand(
        slug=slug,
        name=name,
        locale=locale,
        timezone=timezone,
        currency=currency,
        country=country,
        signing_secret="whsec_" + secrets.token_hex(24),
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


def brand_for_api_key(*, session: Session, key: str) -> Brand | None:
    """The brand a valid, unrevoked key belongs to; None otherwise."""
    row = session.exec(
        select(ApiKey, Brand)
        .join(Brand, Brand.id == ApiKey.brand_id)
        .where(ApiKey.key_hash == hash_api_key(key), ApiKey.revoked_at.is_(None))  # type: ignore[union-attr]
    ).first()
    return row[1] if row else None


def get_brand(*, session: Session, slug: str) -> Brand | None:
    return session.exec(select(Brand).where(Brand.slug == slug)).first()


def touch_api_key(*, session: Session, key: str) -> None:
    api_key = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_api_key(key))).first()
    if api_key is not None:
        api_key.last_used_at = utcnow()
