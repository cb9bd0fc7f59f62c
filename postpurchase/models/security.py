"""Failed attempts counted across every worker, against guessing passwords and order details."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from postpurchase.models.types import utc_field


class ThrottleAttempt(SQLModel, table=True):
    """One failed attempt of ``key`` in ``scope`` (e.g. a sign-in email, a client address).

    The key is stored as its SHA-256 only: emails and addresses are personal data that the
    counter does not need in clear.
    """

    __table_args__ = (Index("ix_throttleattempt_scope_key_at", "scope", "key_hash", "attempted_at"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=64)
    key_hash: str = Field(max_length=64)
    attempted_at: datetime = utc_field(nullable=False, index=True)
