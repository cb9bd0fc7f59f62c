"""The merchant console's own state: internal notes on orders and parcels, and the exception queue."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from postpurchase.clock import utcnow
from postpurchase.models.types import brand_fk, enum_field, utc_field


class Resolution(StrEnum):
    """Why a merchant closed a parcel's case in the exception queue."""

    delivered = "delivered"  # it arrived after all
    redelivery_arranged = "redelivery_arranged"  # 再配達 booked with the carrier or the customer
    reshipped = "reshipped"  # a replacement was sent
    refunded = "refunded"
    customer_contacted = "customer_contacted"
    carrier_claim = "carrier_claim"  # a claim for a lost or damaged parcel was filed
    no_action_needed = "no_action_needed"


class InternalNote(SQLModel, table=True):
    """A note the merchant's staff keep on an order (never shown to the customer)."""

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    order_id: int | None = Field(default=None, foreign_key="order.id", index=True)
    shipment_id: int | None = Field(default=None, foreign_key="shipment.id", index=True)
    author: str = Field(max_length=254)
    body: str = Field(max_length=4000)
    created_at: datetime = utc_field(nullable=False, default_factory=utcnow)


class ExceptionCase(SQLModel, table=True):
    """What the merchant decided about a parcel in trouble: who looks at it, until when it waits,
    and whether it is resolved.

    The problem itself is worked out from the parcel each time the queue is read; a case only holds
    the people's side. ``resolved_kind`` is the problem that was resolved: if the parcel later gets
    into another kind of trouble, it comes back to the queue.
    """

    __table_args__ = (UniqueConstraint("brand_id", "shipment_id"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    shipment_id: int = Field(foreign_key="shipment.id", index=True)
    assignee_id: int | None = Field(default=None, foreign_key="merchantuser.id")
    #: Hidden from the queue until this local date (inclusive of the day before).
    snoozed_until: date | None = None
    resolved_at: datetime | None = utc_field()
    resolved_kind: str | None = Field(default=None, max_length=32)
    resolution: Resolution | None = enum_field(Resolution, nullable=True)
    updated_at: datetime = utc_field(nullable=False, default_factory=utcnow)
