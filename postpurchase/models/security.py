"""Counters shared by every worker process (a per-process counter is no limit at all): failed
attempts against guessing passwords and order details, and request rates of public endpoints."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from postpurchase.models.types import utc_field


class ThrottleAttempt(SQLModel, table=True):
    """One failed attempt of ``key`` in ``scope`` (e.g. a sign-in email, a client address).

    The key is stored as its SHA-256 only: emails and addresses are personal data that the
    counter does not need in clear.
    """

    __table_args__ = (
        Index("ix_throttleattempt_scope_key_at", "scope", "key_hash", "attempted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=64)
    key_hash: str = Field(max_length=64)
    attempted_at: datetime = utc_field(nullable=False, index=True)


class RateLimitWindow(SQLModel, table=True):
    """Requests counted for one key (e.g. ``edd:<address>``) in one fixed window.

    Only current windows are kept: opening a window deletes the expired ones
    (:func:`postpurchase.throttle.hit`).
    """

    __table_args__ = (UniqueConstraint("key", "window_start"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=128)
    window_start: datetime = utc_field(nullable=False, index=True)
    count: int = 0
