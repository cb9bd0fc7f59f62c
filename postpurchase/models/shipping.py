"""Shipments (one row per parcel) and their tracking events."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from carriers.status import Handover, Status
from postpurchase.clock import utcnow
from postpurchase.models.enums import DeliveryOption, TimeSlot
from postpurchase.models.types import brand_fk, enum_field, json_field, utc_field


class Shipment(SQLModel, table=True):
    """One parcel with one tracking number.

    A WMS shipment with several parcels becomes several rows sharing ``external_id``; each is
    tracked on its own. ``parcel_index`` orders them.
    """

    __table_args__ = (
        UniqueConstraint("brand_id", "external_id", "parcel_index"),
        # The merchant's parcel list, newest first, a page at a time: without it every page
        # sorted all of the brand's parcels (32 ms at 18,000, growing with the brand).
        Index("ix_shipment_brand_created", "brand_id", "created_at", "id"),
        # The API's list of a brand's parcels, by id, a page at a time: without it a page sorted
        # the brand's parcels or walked every brand's.
        Index("ix_shipment_brand_id_id", "brand_id", "id"),
        # A brand's carriers, one index probe each (the console's carrier filter), and the parcels
        # of one of them.
        Index("ix_shipment_brand_carrier", "brand_id", "carrier_code"),
        # The dashboard's parcels handed over and delivered in a period: without them each of
        # its counts read every parcel the brand ever had.
        Index("ix_shipment_brand_shipped", "brand_id", "shipped_at"),
        Index("ix_shipment_brand_delivered", "brand_id", "delivered_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Not indexed alone, as other brand-owned rows are: the indexes above begin with it.
    brand_id: int = Field(foreign_key="brand.id", nullable=False)
    order_id: int | None = Field(default=None, foreign_key="order.id", index=True)
    external_id: str = Field(max_length=128)
    parcel_index: int = 0
    fc_id: int | None = Field(default=None, foreign_key="fulfillmentcentre.id")
    carrier_code: str = Field(max_length=32)
    service: str = Field(default="standard", max_length=64)
    tracking_number: str | None = Field(default=None, max_length=64, index=True)
    status: Status = enum_field(Status, default=Status.pending, index=True)
    sub_status: str | None = Field(default=None, max_length=64)
    status_changed_at: datetime | None = utc_field()
    shipped_at: datetime | None = utc_field()
    delivered_at: datetime | None = utc_field()
    cancelled_at: datetime | None = utc_field()
    last_event_at: datetime | None = utc_field()
    # Polling state, owned by postpurchase.tracking.
    next_poll_at: datetime | None = utc_field(index=True)
    last_polled_at: datetime | None = utc_field()
    last_webhook_at: datetime | None = utc_field()
    poll_failures: int = 0
    # Delivery-date promise and prediction (local dates of the destination), owned by postpurchase.edd.
    promised_date: date | None = None
    predicted_date: date | None = None
    window_start: date | None = None
    window_end: date | None = None
    carrier_estimated_date: date | None = None
    # What the customer asked for.
    requested_date: date | None = None
    time_slot: TimeSlot | None = enum_field(TimeSlot, nullable=True)
    delivery_option: DeliveryOption = enum_field(DeliveryOption, default=DeliveryOption.door)
    # Cost and parcel.
    cost_amount: int | None = None
    cost_currency: str | None = Field(default=None, max_length=3)
    weight_g: int | None = None
    #: ``[{"sku": ..., "quantity": ...}]`` as the WMS packed this parcel.
    lines: list[dict[str, Any]] = json_field(default_factory=list)
    destination_postal_code: str | None = Field(default=None, max_length=16)
    destination_region: str | None = Field(default=None, max_length=64)
    destination_country: str | None = Field(default=None, max_length=2)
    signed_by: str | None = Field(default=None, max_length=128)
    #: Delivery attempts that failed before the parcel was delivered (再配達 counts them): one per
    #: ``attempt_fail`` scan, counted by ``postpurchase.tracking.apply`` as the scans arrive.
    failed_attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    #: Where the carrier says the parcel was left or waits (None: unsaid, or not there yet).
    delivered_to: Handover | None = enum_field(Handover, nullable=True)
    #: The pickup point a waiting parcel is at, and the last day it is held, as the carrier says.
    pickup_name: str | None = Field(default=None, max_length=200)
    pickup_address: str | None = Field(default=None, max_length=300)
    pickup_deadline: date | None = None
    #: Loaded from a history file (``postpurchase history import``): counted by insights, never
    #: tracked, never the subject of a customer message.
    imported: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    source_updated_at: datetime | None = utc_field()
    created_at: datetime = utc_field(nullable=False, default_factory=utcnow)
    updated_at: datetime = utc_field(nullable=False, default_factory=utcnow)


class TrackingEvent(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("shipment_id", "occurred_at", "carrier_code"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    shipment_id: int = Field(foreign_key="shipment.id", index=True)
    occurred_at: datetime = utc_field(nullable=False)
    status: Status = enum_field(Status)
    #: The carrier's own code (or its text when it has no code); "" when neither.
    carrier_code: str = Field(default="", max_length=128)
    description: str = Field(default="", max_length=500)
    location: str | None = Field(default=None, max_length=200)
    #: Where this delivery or pickup scan says the parcel is.
    delivered_to: Handover | None = enum_field(Handover, nullable=True)
    #: ``poll``, ``webhook``, ``intake`` or ``sandbox``.
    source: str = Field(default="poll", max_length=16)
    recorded_at: datetime = utc_field(nullable=False, default_factory=utcnow)
