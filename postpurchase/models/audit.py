"""Who did what: one row per change a person or system made to a brand's configuration or data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from postpurchase.models.types import json_field, utc_field


class AuditEntry(SQLModel, table=True):
    """One action: ``actor`` (``user:<email>``, ``api:<key prefix>``, ``cli``, ``system``) did
    ``action`` (e.g. ``settings.update``, ``user.invite``) to ``subject`` (e.g. ``returns.window_days``)
    of a brand (``brand_id`` is empty for installation-wide actions), with the values before and
    after where a value changed, so that a change can be shown and undone."""

    __table_args__ = (Index("ix_auditentry_brand_at", "brand_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int | None = Field(default=None, foreign_key="brand.id", index=True)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=64)
    subject: str = Field(default="", max_length=200)
    before: Any = json_field(default_factory=lambda: None, nullable=True)
    after: Any = json_field(default_factory=lambda: None, nullable=True)
    at: datetime = utc_field(nullable=False)
