"""Delivery-date predictions and the fitted transit models (owned by postpurchase.edd)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from postpurchase.clock import utcnow
from postpurchase.models.types import brand_fk, json_field, utc_field


class DeliveryPrediction(SQLModel, table=True):
    """One prediction as it was made, with its inputs, so accuracy can be reported later.

    ``trigger`` says when it was made: ``checkout``, ``handover`` (the parcel announced) or
    ``status``.
    """

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    shipment_id: int | None = Field(default=None, foreign_key="shipment.id", index=True)
    order_id: int | None = Field(default=None, foreign_key="order.id", index=True)
    trigger: str = Field(max_length=16)
    status: str | None = Field(default=None, max_length=32)
    #: ``ordered`` or ``shipped``: which model (as of the order or of the hand-over) answered.
    as_of: str = Field(default="ordered", max_length=16)
    made_at: datetime = utc_field(nullable=False, default_factory=utcnow)
    predicted_date: date
    window_start: date
    window_end: date
    promise_date: date
    promise_level: float = 0.9
    model_fitted_at: datetime | None = utc_field()
    inputs: dict[str, Any] = json_field()
    basis: dict[str, Any] = json_field()


class TransitModelState(SQLModel, table=True):
    """The fitted transit model of a brand (one per as-of mode), refitted daily."""

    __table_args__ = (UniqueConstraint("brand_id", "as_of"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    as_of: str = Field(default="ordered", max_length=16)
    fitted_at: datetime = utc_field(nullable=False, default_factory=utcnow)
    sample_size: int = 0
    payload: dict[str, Any] = json_field()


class LeadTime(SQLModel, table=True):
    """One row of a brand's own lead-time table (cold start, see postpurchase.edd.leadtimes)."""

    __table_args__ = (UniqueConstraint("brand_id", "origin", "destination"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    #: JIS prefecture code (``13``) or carrier region key (``kanto``).
    origin: str = Field(max_length=16)
    destination: str = Field(max_length=16)
    days: int
    #: The earliest time slot the carrier makes on that day ("" when any).
    earliest_slot: str = Field(default="", max_length=16)
