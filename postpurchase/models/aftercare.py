"""Returns and customer feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from postpurchase.clock import utcnow
from postpurchase.models.enums import (
    ConditionGrade,
    ExecutionKind,
    ExecutionState,
    ReservationState,
    RestockAction,
    ReturnMethod,
    ReturnResolution,
    ReturnState,
)
from postpurchase.models.types import brand_fk, enum_field, json_field, utc_field


class ReturnRequest(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("brand_id", "rma_number"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    order_id: int = Field(foreign_key="order.id", index=True)
    rma_number: str = Field(max_length=64)
    state: ReturnState = enum_field(ReturnState, default=ReturnState.requested)
    resolution: ReturnResolution = enum_field(ReturnResolution, default=ReturnResolution.refund)
    refund_amount: int = 0
    credit_amount: int = 0
    currency: str = Field(default="JPY", max_length=3)
    return_carrier_code: str | None = Field(default=None, max_length=32)
    return_tracking_number: str | None = Field(default=None, max_length=64)
    received_at: datetime | None = utc_field()
    attributes: dict[str, Any] = json_field()
    created_at: datetime = utc_field(nullable=False, default_factory=utcnow)
    updated_at: datetime = utc_field(nullable=False, default_factory=utcnow)


class ReturnLine(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    return_id: int = Field(foreign_key="returnrequest.id", index=True)
    #: The order line returned; None when the RMA came from outside (e.g. the WMS) naming only the SKU.
    #: The foreign key is named so that a migration can add it to the existing table (SQLite batch mode).
    order_line_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("orderline.id", name="fk_returnline_order_line_id"), index=True
        ),
    )
    sku: str = Field(max_length=128)
    variant: str | None = Field(default=None, max_length=128)
    quantity: int = 1
    reason_code: str = Field(default="other", max_length=64)
    comment: str | None = None
    condition: str | None = Field(default=None, max_length=64)
    exchange_sku: str | None = Field(default=None, max_length=128)
    #: Inspection grade, from the WMS's receipt report or the merchant's override.
    grade: ConditionGrade | None = enum_field(ConditionGrade, nullable=True)
    #: Restock decision; ``restock_fc_code`` is the centre whose stock it went back to.
    restock: RestockAction | None = enum_field(RestockAction, nullable=True)
    restock_fc_code: str | None = Field(default=None, max_length=64)


class ResolutionExecution(SQLModel, table=True):
    """One payout of a return (refund or store credit) through the platform: one row per RMA and kind,
    so a retried or doubled job finds the row and never pays twice."""

    __table_args__ = (UniqueConstraint("return_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    return_id: int = Field(foreign_key="returnrequest.id", index=True)
    kind: ExecutionKind = enum_field(ExecutionKind)
    state: ExecutionState = enum_field(ExecutionState, default=ExecutionState.pending)
    #: Minor units of ``currency``.
    amount: int
    currency: str = Field(max_length=3)
    #: Sent to the platform with the call (refund note, gift card code, webhook id), unique per row.
    idempotency_key: str = Field(max_length=64, unique=True)
    #: ``shopify`` or ``webhook``: where it was executed.
    via: str | None = Field(default=None, max_length=32)
    #: The platform's id of what it created (refund, gift card).
    external_id: str | None = Field(default=None, max_length=128)
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = utc_field(nullable=False, default_factory=utcnow)
    updated_at: datetime = utc_field(nullable=False, default_factory=utcnow)
    executed_at: datetime | None = utc_field()


class StockReservation(SQLModel, table=True):
    """Units of a SKU held for an exchange RMA: they count against the stock others are offered until
    the outbound order ships them, the RMA closes, or ``expires_at`` passes."""

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    return_id: int = Field(foreign_key="returnrequest.id", index=True)
    sku: str = Field(max_length=128, index=True)
    quantity: int
    state: ReservationState = enum_field(ReservationState, default=ReservationState.held)
    expires_at: datetime = utc_field(nullable=False)
    created_at: datetime = utc_field(nullable=False, default_factory=utcnow)
    #: When it stopped holding (shipped, released or expired).
    ended_at: datetime | None = utc_field()


class ReturnPhoto(SQLModel, table=True):
    """A photo the customer attached to a return, stored under the instance folder (``returns.photos``)."""

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    return_id: int = Field(foreign_key="returnrequest.id", index=True)
    #: The order line the photo shows (the form asks per line).
    order_line_id: int | None = Field(default=None, foreign_key="orderline.id")
    #: Random name of the file under ``return-photos/<brand id>/``; never the customer's file name.
    filename: str = Field(max_length=64)
    content_type: str = Field(max_length=32)
    size: int
    created_at: datetime = utc_field(nullable=False, default_factory=utcnow)


class DropOffPoint(SQLModel, table=True):
    """A place where customers hand return parcels over (a convenience store, a carrier office), from
    the table the brand loads (``postpurchase returns dropoffs import``). One row per brand, kind and
    code, so loading the same file again changes nothing."""

    __table_args__ = (UniqueConstraint("brand_id", "kind", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    #: The brand's own id of the point (store number); the name when the file has none.
    code: str = Field(max_length=128)
    kind: ReturnMethod = enum_field(ReturnMethod)
    name: str = Field(max_length=200)
    postal_code: str = Field(max_length=16, index=True)
    address: str = Field(max_length=500)
    latitude: float | None = None
    longitude: float | None = None


class Feedback(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    order_id: int | None = Field(default=None, foreign_key="order.id", index=True)
    shipment_id: int | None = Field(default=None, foreign_key="shipment.id", index=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    nps_score: int | None = None
    comment: str | None = None
    created_at: datetime = utc_field(nullable=False, default_factory=utcnow)
