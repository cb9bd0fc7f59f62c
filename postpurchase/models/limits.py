"""Request counters shared by every worker process (a per-process counter is no limit at all)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from postpurchase.models.types import utc_field


class RateLimitWindow(SQLModel, table=True):
    """Requests counted for one key (e.g. ``edd:<address>``) in one fixed window.

    Only current windows are kept: opening a window deletes the expired ones
    (:func:`postpurchase.ratelimit.hit`).
    """

    __table_args__ = (UniqueConstraint("key", "window_start"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=128)
    window_start: datetime = utc_field(nullable=False, index=True)
    count: int = 0
