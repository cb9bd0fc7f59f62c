"""Records of what was done to personal data (owned by postpurchase.privacy)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from postpurchase.clock import utcnow
from postpurchase.models.types import brand_fk, json_field, utc_field


class Erasure(SQLModel, table=True):
    """One customer erased: when, for which brand, and how many rows were anonymised; no personal data.

    ``reference`` is random, so it cannot be turned back into the customer; the operator hands it
    to whoever asked for the erasure as the receipt.
    """

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    reference: str = Field(unique=True, max_length=64)
    #: The anonymised customer row (it stays, with its orders, so figures do not change).
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    #: Rows changed per table, e.g. ``{"order": 2, "outboxmessage": 3}``.
    counts: dict[str, Any] = json_field()
    erased_at: datetime = utc_field(nullable=False, default_factory=utcnow)
