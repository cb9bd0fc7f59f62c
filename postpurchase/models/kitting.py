"""What went into an order's box (owned by postpurchase.kitting)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from postpurchase.models.types import brand_fk, json_field, utc_field


class OrderKit(SQLModel, table=True):
    """The kitting decision for one order, made once when the order arrives.

    Holds no personal data (the card's text is kept as the brand wrote it, before the customer's
    name is put in), so it outlives an erasure and the insights can still compare kits.
    """

    __table_args__ = (UniqueConstraint("order_id"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    order_id: int = Field(foreign_key="order.id")
    #: Names of the kits (``kitting.rules[].name``) that matched; empty: no kit.
    kits: list[str] = json_field(default_factory=list)
    #: ``inserts``, ``samples``, ``gift_wrap`` and ``card`` (``{"locale", "text"}``, unfilled).
    contents: dict[str, Any] = json_field()
    gift: bool = False
    first_order: bool = False
    #: The outbox row's idempotency key of the WMS webhook; None when none was sent.
    message_key: str | None = Field(default=None, max_length=128)
    decided_at: datetime = utc_field(nullable=False)
