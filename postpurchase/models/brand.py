"""Tenants and who may act for them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from postpurchase.clock import utcnow
from postpurchase.models.enums import LinkPurpose, Role
from postpurchase.models.types import brand_fk, enum_field, json_field, utc_field


class Brand(SQLModel, table=True):
    """One tenant. A 3PL runs many brands in one installation; no query crosses brands."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, index=True, max_length=64)
    name: str = Field(max_length=200)
    locale: str = Field(default="ja", max_length=16)
    timezone: str = Field(default="Asia/Tokyo", max_length=64)
    currency: str = Field(default="JPY", max_length=3)
    country: str = Field(default="JP", max_length=2)
    #: HMAC key for generic intake signatures; random per brand, shown once by ``postpurchase init``.
    signing_secret: str = Field(max_length=128)
    #: Shopify app secret for ``X-Shopify-Hmac-Sha256``; None when the brand has no Shopify store.
    shopify_secret: str | None = Field(default=None, max_length=256)
    #: The signing secret before the last rotation, still accepted until ``previous_signing_secret_until``.
    previous_signing_secret: str | None = Field(default=None, max_length=128)
    previous_signing_secret_until: datetime | None = utc_field()
    #: Branding (colours, logo URL), sender identities, policies, trigger settings, EDD promise level.
    settings: dict[str, Any] = json_field()
    created_at: datetime = utc_field(nullable=False, default_factory=utcnow)


class ApiKey(SQLModel, table=True):
    """A secret that a WMS/OMS or the merchant API uses; only its SHA-256 is stored."""

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    name: str = Field(default="default", max_length=100)
    #: First characters of the key, kept in clear so a key can be found and named without the secret.
    prefix: str = Field(index=True, max_length=16)
    key_hash: str = Field(unique=True, max_length=64)
    scopes: list[str] = json_field(default_factory=lambda: ["events:write", "read"])
    created_at: datetime = utc_field(nullable=False, default_factory=utcnow)
    last_used_at: datetime | None = utc_field()
    revoked_at: datetime | None = utc_field()
    #: Set when the key was rotated out with a grace period: refused from this moment on.
    expires_at: datetime | None = utc_field()


class MerchantUser(SQLModel, table=True):
    """A person who signs in to the merchant pages. What they may see is in their
    :class:`Membership` rows; ``brand_id`` is only the brand the account was made for."""

    __table_args__ = (UniqueConstraint("brand_id", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    email: str = Field(max_length=254)
    name: str = Field(default="", max_length=200)
    password_hash: str = Field(max_length=255)
    #: Carried in the sign-in cookie; bumped on sign-out and password change so that every cookie
    #: issued before stops opening the merchant pages.
    session_version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    #: An installation operator (e.g. a 3PL's staff) holds this role in every brand, member or not.
    installation_role: Role | None = enum_field(Role, default=None, nullable=True)
    created_at: datetime = utc_field(nullable=False, default_factory=utcnow)


class Membership(SQLModel, table=True):
    """A user's role in one brand; a user may belong to several brands (an operator of a 3PL)."""

    __table_args__ = (UniqueConstraint("brand_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    user_id: int = Field(foreign_key="merchantuser.id", index=True, nullable=False)
    role: Role = enum_field(Role, default=Role.staff, nullable=False)
    created_at: datetime = utc_field(nullable=False, default_factory=utcnow)


class OneTimeLink(SQLModel, table=True):
    """An emailed link that works once until ``expires_at``: an invitation or a password reset.

    The link carries ``id`` and a random secret signed with the app's key; only the secret's
    SHA-256 is stored, so reading the table does not give working links.
    """

    id: int | None = Field(default=None, primary_key=True)
    purpose: LinkPurpose = enum_field(LinkPurpose, nullable=False)
    #: The brand an invitation is for (None for a password reset).
    brand_id: int | None = Field(default=None, foreign_key="brand.id", index=True)
    #: The user a password reset is for (None for an invitation).
    user_id: int | None = Field(default=None, foreign_key="merchantuser.id", index=True)
    email: str = Field(max_length=254)
    role: Role | None = enum_field(Role, default=None, nullable=True)
    secret_hash: str = Field(max_length=64)
    created_by: str = Field(default="", max_length=200)
    created_at: datetime = utc_field(nullable=False, default_factory=utcnow)
    expires_at: datetime = utc_field(nullable=False)
    used_at: datetime | None = utc_field()
    revoked_at: datetime | None = utc_field()
