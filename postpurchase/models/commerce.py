"""Customers, orders, fulfilment centres and stock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from postpurchase.clock import utcnow
from postpurchase.models.enums import DutiesTerms, OrderStatus
from postpurchase.models.types import brand_fk, enum_field, json_field, utc_field


class Customer(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("brand_id", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    external_id: str = Field(max_length=128)
    email: str | None = Field(default=None, max_length=254, index=True)
    phone: str | None = Field(default=None, max_length=32)
    line_user_id: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=16)
    region: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, max_length=2)
    locale: str | None = Field(default=None, max_length=16)
    timezone: str | None = Field(default=None, max_length=64)
    #: ``{"email": {"transactional": true, "marketing": false}, ...}``
    consent: dict[str, Any] = json_field()
    #: Segment attributes the brand sends (VIP tier, tags, ...).
    attributes: dict[str, Any] = json_field()
    created_at: datetime = utc_field(nullable=False, default_factory=utcnow)
    updated_at: datetime = utc_field(nullable=False, default_factory=utcnow)


class Order(SQLModel, table=True):
    # The period of the insights figures is a range of order dates.
    __table_args__ = (
        UniqueConstraint("brand_id", "external_id"),
        Index("ix_order_brand_placed", "brand_id", "placed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    external_id: str = Field(max_length=128)
    #: The number the customer sees (e.g. ``#1001``); used with email/postal code on customer pages.
    number: str = Field(max_length=64, index=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    status: OrderStatus = enum_field(OrderStatus, default=OrderStatus.open)
    channel: str = Field(default="online", max_length=32)
    placed_at: datetime = utc_field(nullable=False)
    cancelled_at: datetime | None = utc_field()
    currency: str = Field(default="JPY", max_length=3)
    #: Money in minor units of ``currency`` (JPY has none: 1 = ¥1).
    total_amount: int = 0
    shipping_amount: int = 0
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    shipping_name: str | None = Field(default=None, max_length=200)
    shipping_postal_code: str | None = Field(default=None, max_length=16)
    shipping_region: str | None = Field(default=None, max_length=64)
    shipping_city: str | None = Field(default=None, max_length=128)
    shipping_country: str | None = Field(default=None, max_length=2)
    #: Who pays import duties on a cross-border order (None: domestic, or the sender did not say).
    duties_terms: DutiesTerms | None = enum_field(DutiesTerms, nullable=True)
    #: ``occurred_at`` of the last event applied; older events do not overwrite newer state.
    source_updated_at: datetime | None = utc_field()
    attributes: dict[str, Any] = json_field()
    created_at: datetime = utc_field(nullable=False, default_factory=utcnow)
    updated_at: datetime = utc_field(nullable=False, default_factory=utcnow)


class OrderLine(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("order_id", "line_key"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    order_id: int = Field(foreign_key="order.id", index=True)
    #: The sender's line id, or the SKU+variant when it has none; unique within the order.
    line_key: str = Field(max_length=128)
    sku: str = Field(max_length=128, index=True)
    variant: str | None = Field(default=None, max_length=128)
    name: str = Field(default="", max_length=300)
    category: str | None = Field(default=None, max_length=128)
    quantity: int = 1
    unit_price: int = 0
    final_sale: bool = False
    #: A picture of the item (https), shown with the parcel's contents on the tracking page.
    image_url: str | None = Field(default=None, max_length=1000)


class FulfillmentCentre(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("brand_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    code: str = Field(max_length=64)
    name: str = Field(default="", max_length=200)
    postal_code: str | None = Field(default=None, max_length=16)
    region: str | None = Field(default=None, max_length=64)
    #: City, street and phone: what a return label needs to reach the centre.
    city: str | None = Field(default=None, max_length=128)
    street: str | None = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=32)
    country: str = Field(default="JP", max_length=2)
    timezone: str = Field(default="Asia/Tokyo", max_length=64)
    #: Local time after which orders ship the next business day, ``HH:MM``.
    cutoff_time: str = Field(default="15:00", max_length=5)
    handling_days: int = 0


class InventoryLevel(SQLModel, table=True):
    """Latest stock snapshot per SKU and fulfilment centre (``inventory.updated``)."""

    __table_args__ = (UniqueConstraint("brand_id", "sku", "fc_code"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    sku: str = Field(max_length=128, index=True)
    variant: str | None = Field(default=None, max_length=128)
    fc_code: str = Field(default="", max_length=64)
    available: int = 0
    updated_at: datetime = utc_field(nullable=False, default_factory=utcnow)


class InventoryHistory(SQLModel, table=True):
    """Every stock level a centre reported for a SKU and the moment it held from.

    ``InventoryLevel`` keeps only the latest; the fulfilment-network what-if reads these to know
    which centre had stock when a past order came in.
    """

    __table_args__ = (UniqueConstraint("brand_id", "sku", "fc_code", "recorded_at"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    sku: str = Field(max_length=128)
    fc_code: str = Field(default="", max_length=64)
    available: int = 0
    #: The moment the level held from (the event's ``occurred_at``, or the restock's time).
    recorded_at: datetime = utc_field(nullable=False)
