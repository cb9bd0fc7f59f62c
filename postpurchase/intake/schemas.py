"""The generic event schema: one envelope, one ``data`` model per event type.

These pydantic models are the contract with a WMS/OMS: the intake endpoint validates against them
and ``/api/v1/openapi.json`` is generated from them, so the document cannot drift from the code.
Money is an integer in minor units of ``currency`` (JPY has none: ``1980`` is ¥1,980). Datetimes
must carry a UTC offset (``+09:00`` is fine); dates (``requested_date``) are local dates.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from postpurchase.models import DeliveryOption, DutiesTerms, TimeSlot
from postpurchase.models.enums import ConditionGrade
from postpurchase.schemas import AddressIn, DestinationIn, Strict

#: The largest value of an ``Integer`` column (PostgreSQL's ``integer``): every count, amount and
#: weight below is stored in one, so each is bounded by it and refused at the door (422) rather
#: than accepted and then failing in processing.
INT_MAX = 2**31 - 1

Currency = Field(default="JPY", pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")


class EventType(StrEnum):
    order_created = "order.created"
    order_updated = "order.updated"
    order_cancelled = "order.cancelled"
    shipment_created = "shipment.created"
    shipment_updated = "shipment.updated"
    shipment_cancelled = "shipment.cancelled"
    inventory_updated = "inventory.updated"
    return_received = "return.received"


class CustomerIn(Strict):
    customer_id: str = Field(min_length=1, max_length=128, description="The sender's customer id.")
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, max_length=32)
    name: str | None = Field(default=None, max_length=200)
    line_user_id: str | None = Field(default=None, max_length=64)
    locale: str | None = Field(default=None, max_length=16, examples=["ja"])
    consent: dict[str, dict[str, bool]] = Field(
        default_factory=dict,
        description='Per channel, e.g. `{"email": {"transactional": true, "marketing": false}}`.',
    )
    attributes: dict[str, Any] = Field(default_factory=dict, description="Segment attributes.")


class OrderLineIn(Strict):
    line_id: str | None = Field(
        default=None, max_length=128, description="The sender's line id; SKU+variant when absent."
    )
    sku: str = Field(min_length=1, max_length=128)
    variant: str | None = Field(default=None, max_length=128)
    name: str = Field(default="", max_length=300)
    category: str | None = Field(default=None, max_length=128)
    quantity: int = Field(ge=1, le=INT_MAX)
    unit_price: int = Field(
        default=0, ge=0, le=INT_MAX, description="Minor units of the order currency."
    )
    final_sale: bool = False
    image_url: str | None = Field(
        default=None,
        max_length=1000,
        pattern=r"^https://",
        description="A picture of the item (https), shown on the customer's tracking page.",
    )


class OrderData(Strict):
    """``order.created`` and ``order.updated``: the full current state of the order."""

    order_id: str = Field(min_length=1, max_length=128, description="The sender's order id.")
    number: str = Field(min_length=1, max_length=64, description="Order number the customer sees.")
    placed_at: AwareDatetime
    channel: str = Field(default="online", max_length=32)
    currency: str = Currency
    total_amount: int = Field(default=0, ge=0, le=INT_MAX)
    shipping_amount: int = Field(default=0, ge=0, le=INT_MAX)
    customer: CustomerIn | None = None
    shipping_address: AddressIn | None = None
    duties_terms: DutiesTerms | None = Field(
        default=None,
        description="Cross-border orders: `ddp` when the shop pays import duties, `ddu` when the "
        "carrier collects them from the customer on arrival.",
    )
    lines: list[OrderLineIn] = Field(min_length=1)
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        description="Anything else about the order; `gift: true` marks a gift (unboxing kits).",
    )


class OrderCancelledData(Strict):
    order_id: str = Field(min_length=1, max_length=128)
    cancelled_at: AwareDatetime | None = Field(default=None, description="Default: occurred_at.")
    reason: str | None = Field(default=None, max_length=200)


class ShipmentLineIn(Strict):
    sku: str = Field(min_length=1, max_length=128)
    quantity: int = Field(ge=1, le=INT_MAX)
    line_id: str | None = Field(default=None, max_length=128)


class ParcelIn(Strict):
    tracking_number: str = Field(min_length=1, max_length=64)
    weight_g: int | None = Field(default=None, ge=0, le=INT_MAX)
    cost: int | None = Field(
        default=None, ge=0, le=INT_MAX, description="Minor units of `currency`."
    )
    lines: list[ShipmentLineIn] | None = None


class FulfillmentCentreIn(Strict):
    code: str = Field(min_length=1, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=16)
    region: str | None = Field(default=None, max_length=64)
    city: str | None = Field(default=None, max_length=128)
    street: str | None = Field(
        default=None, max_length=300, description="Street and building: printed on return labels."
    )
    phone: str | None = Field(default=None, max_length=32, description="Printed on return labels.")


_TIME_SLOT_HELP = "Japanese 時間帯指定: `morning` (午前中), `14-16`, `16-18`, `18-20`, `19-21`."
_DELIVERY_OPTION_HELP = (
    "`door`, `leave_at_door` (置き配), `convenience_store` (コンビニ受取), "
    "`depot_pickup` (営業所受取), `locker`."
)


class ShipmentFields(Strict):
    """Fields that ``shipment.created`` and ``shipment.updated`` share."""

    carrier: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9_]{2,32}$",
        description="Carrier code, e.g. `yamato`, `sagawa`, `japanpost`.",
    )
    service: str | None = Field(default=None, max_length=64)
    fc_code: str | None = Field(default=None, max_length=64, description="Fulfilment centre code.")
    fulfillment_centre: FulfillmentCentreIn | None = Field(
        default=None, description="Details of the fulfilment centre; `fc_code` is enough."
    )
    tracking_number: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="One parcel. Use `parcels` for several.",
    )
    parcels: list[ParcelIn] | None = Field(
        default=None, min_length=1, description="One entry per parcel (個口)."
    )
    shipped_at: AwareDatetime | None = None
    lines: list[ShipmentLineIn] | None = None
    weight_g: int | None = Field(default=None, ge=0, le=INT_MAX)
    cost: int | None = Field(
        default=None, ge=0, le=INT_MAX, description="Shipping cost in minor units."
    )
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    requested_date: date | None = Field(
        default=None, description="Delivery date the customer asked for."
    )
    time_slot: TimeSlot | None = Field(default=None, description=_TIME_SLOT_HELP)
    delivery_option: DeliveryOption | None = Field(default=None, description=_DELIVERY_OPTION_HELP)
    destination: DestinationIn | None = Field(
        default=None, description="Default: the order's shipping address."
    )

    @model_validator(mode="after")
    def _one_way_to_name_parcels(self) -> ShipmentFields:
        if self.tracking_number is not None and self.parcels is not None:
            raise ValueError("send either tracking_number or parcels, not both")
        return self


class ShipmentCreatedData(ShipmentFields):
    shipment_id: str = Field(min_length=1, max_length=128, description="The sender's shipment id.")
    order_id: str = Field(min_length=1, max_length=128, description="The order's `order_id`.")
    carrier: str = Field(
        pattern=r"^[a-z0-9_]{2,32}$",
        description="Carrier code, e.g. `yamato`, `sagawa`, `japanpost`.",
    )
    shipped_at: AwareDatetime


class ShipmentUpdatedData(ShipmentFields):
    """Only the fields sent are changed."""

    shipment_id: str = Field(min_length=1, max_length=128)
    order_id: str | None = Field(default=None, min_length=1, max_length=128)


class ShipmentCancelledData(Strict):
    shipment_id: str = Field(min_length=1, max_length=128)
    order_id: str | None = Field(default=None, max_length=128)
    cancelled_at: AwareDatetime | None = Field(default=None, description="Default: occurred_at.")
    reason: str | None = Field(default=None, max_length=200)


class InventoryItemIn(Strict):
    sku: str = Field(min_length=1, max_length=128)
    variant: str | None = Field(default=None, max_length=128)
    available: int = Field(ge=0, le=INT_MAX)


class InventoryUpdatedData(Strict):
    fc_code: str = Field(default="", max_length=64)
    items: list[InventoryItemIn] = Field(min_length=1)


class ReturnLineIn(Strict):
    sku: str = Field(min_length=1, max_length=128)
    variant: str | None = Field(default=None, max_length=128)
    quantity: int = Field(default=1, ge=1, le=INT_MAX)
    reason_code: str = Field(default="other", max_length=64)
    condition: str | None = Field(default=None, max_length=64)
    comment: str | None = Field(default=None, max_length=1000)
    grade: ConditionGrade | None = Field(
        default=None,
        description="Inspection grade: A new/resellable, B opened, C damaged, D unsellable.",
    )


class ReturnReceivedData(Strict):
    rma_number: str = Field(min_length=1, max_length=64)
    order_id: str = Field(min_length=1, max_length=128)
    received_at: AwareDatetime | None = Field(default=None, description="Default: occurred_at.")
    carrier: str | None = Field(default=None, max_length=32)
    tracking_number: str | None = Field(default=None, max_length=64)
    lines: list[ReturnLineIn] = Field(default_factory=list)


#: Event type → model of its ``data``.
DATA_MODELS: dict[EventType, type[BaseModel]] = {
    EventType.order_created: OrderData,
    EventType.order_updated: OrderData,
    EventType.order_cancelled: OrderCancelledData,
    EventType.shipment_created: ShipmentCreatedData,
    EventType.shipment_updated: ShipmentUpdatedData,
    EventType.shipment_cancelled: ShipmentCancelledData,
    EventType.inventory_updated: InventoryUpdatedData,
    EventType.return_received: ReturnReceivedData,
}


NOTIFY_LATE = Field(
    default=False,
    description="Send customer messages even when the event is older than the message's freshness "
    "limit (e.g. an order confirmation more than a day after the order). Backfills and replays "
    "leave it false, so old events never reach customers.",
)


class Envelope(BaseModel):
    """Every event: the sender's event ``id`` is the deduplication key."""

    id: str = Field(min_length=1, max_length=200)
    type: EventType
    occurred_at: AwareDatetime
    data: dict[str, Any]
    notify_late: bool = NOTIFY_LATE


def envelope_model(event_type: EventType) -> type[BaseModel]:
    """A model of the whole envelope for one type (OpenAPI and validation share it)."""
    return _ENVELOPES[event_type]


def _make_envelope(event_type: EventType) -> type[BaseModel]:
    from pydantic import create_model

    name = "".join(part.title() for part in event_type.value.split(".")) + "Event"
    return create_model(
        name,
        __base__=Strict,
        __doc__=f"`{event_type.value}` event.",
        id=(str, Field(min_length=1, max_length=200, description="Sender's event id (dedup key).")),
        # a Literal built from a runtime value: pydantic accepts it, mypy cannot type it statically
        type=(Literal[event_type.value], ...),  # type: ignore[arg-type]
        occurred_at=(AwareDatetime, ...),
        data=(DATA_MODELS[event_type], ...),
        notify_late=(bool, NOTIFY_LATE),
    )


_ENVELOPES: dict[EventType, type[BaseModel]] = {t: _make_envelope(t) for t in EventType}


class EventAccepted(BaseModel):
    id: int = Field(description="Inbox id of the stored event.")
    status: Literal["accepted", "duplicate", "ignored"]
