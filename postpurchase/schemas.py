"""The public shape of each entity in ``/api/v1``: one schema per entity, read from the views of
:mod:`postpurchase.readmodels`, and the value shapes (addresses) that the API both accepts and
answers with.

Features below the intake (tracking's shipments API) answer with these, and the intake's event
schemas (:mod:`postpurchase.intake.schemas`) build on the shared value shapes: the OpenAPI document
is generated from both.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from carriers.status import Handover, Status
from postpurchase.customer_view import ActionKind, Stage, Step
from postpurchase.models import DeliveryOption, DutiesTerms, TimeSlot

Country = Field(default="JP", pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code.")


class Strict(BaseModel):
    """Unknown fields are errors: a misspelt optional field must not be dropped silently."""

    model_config = ConfigDict(extra="forbid")


class AddressIn(Strict):
    """Where the order goes. Street lines are deliberately not accepted: nothing here needs them."""

    name: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=16, examples=["150-0001"])
    region: str | None = Field(default=None, max_length=64, description="Prefecture / state.")
    city: str | None = Field(default=None, max_length=128)
    country: str = Country


class DestinationIn(Strict):
    postal_code: str | None = Field(default=None, max_length=16)
    region: str | None = Field(default=None, max_length=64)
    country: str = Country


class Public(BaseModel):
    """An answer of the API, read from the attributes of a view of :mod:`postpurchase.readmodels`."""

    @classmethod
    def of(cls, view: object) -> Self:
        return cls.model_validate(view, from_attributes=True)


class OrderLinePublic(Public):
    line_id: str
    sku: str
    variant: str | None
    name: str
    category: str | None
    quantity: int
    unit_price: int
    final_sale: bool
    image_url: str | None


class TrackingEventPublic(Public):
    occurred_at: AwareDatetime
    status: Status
    carrier_code: str = Field(description="The carrier's own code (or text) for the scan.")
    description: str
    location: str | None
    source: str = Field(description="`poll`, `webhook`, `intake` or `sandbox`.")
    recorded_at: AwareDatetime


class ShipmentBase(Public):
    """A parcel as the sender described it in `shipment.created` / `shipment.updated`."""

    shipment_id: str = Field(description="The sender's shipment id (shared by its parcels).")
    parcel_index: int
    order_id: str | None = Field(description="The sender's order id.")
    carrier: str = Field(description="Carrier code, e.g. `yamato`.")
    service: str
    tracking_number: str | None
    fc_code: str | None
    shipped_at: AwareDatetime | None
    requested_date: date | None
    time_slot: TimeSlot | None
    delivery_option: DeliveryOption
    weight_g: int | None
    cost: int | None
    currency: str | None
    lines: list[dict[str, Any]]
    destination: DestinationIn


class PickupPublic(Public):
    place: Handover | None = Field(description="The kind of place, when the scans say it.")
    location: str | None = Field(description="The store or office as the carrier names it.")
    until: date | None = Field(description="Last local day the parcel is held for pickup.")
    address: str | None = Field(
        default=None, description="The pickup point's address, when the carrier gives one."
    )


class DelayPublic(Public):
    promised: date | None = Field(description="The day the customer was promised.")
    new_date: date | None = Field(description="The new expected day; null while unknown.")


class ActionPublic(Public):
    kind: ActionKind = Field(
        description="`change` before the first attempt, `redeliver` after, `pay_duties` when the "
        "carrier asks for import duties."
    )
    url: str
    carries_number: bool = Field(
        description="The link opens this parcel's form; otherwise show the number to enter."
    )
    tracking_number: str | None


class CustomsPublic(Public):
    held: bool = Field(description="Customs has the parcel now.")
    duties_due: bool = Field(description="The carrier asks for import duties before delivering.")
    terms: DutiesTerms | None = Field(
        description="`ddp`: the shop paid duties; `ddu`: the customer pays."
    )


class CustomerViewPublic(Public):
    """What the parcel's state means for its customer: the tracking page says exactly this."""

    stage: Stage
    step: int | None = Field(description="Index into `steps`; null: no progress bar.")
    steps: list[Step]
    problem: bool
    expected: date | None = Field(
        description="Expected day (or first day of `expected_until`'s window); null when no date "
        "should be shown (waiting for pickup, failed attempt, problem, returns, delivered)."
    )
    expected_until: date | None
    time_slot: TimeSlot | None
    delay: DelayPublic | None
    delivered_at: AwareDatetime | None
    handover: Handover | None = Field(description="Where a delivered parcel was left.")
    pickup: PickupPublic | None
    delivery_option: DeliveryOption | None = Field(
        description="The booked option while it still describes what will happen."
    )
    action: ActionPublic | None
    customs: CustomsPublic | None = Field(
        default=None,
        description="Cross-border parcels: customs and duties while they lie ahead or hold it.",
    )


class RecommendationPublic(Public):
    sku: str = Field(description="The SKU to offer (the customer's size for a sized item).")
    name: str
    variant: str | None = Field(description="The size offered; null for an item without sizes.")
    price: int | None = Field(description="Minor units of `currency`; null when not known.")
    currency: str
    image_url: str | None
    url: str | None = Field(description="The product's page, else the brand's shop.")


class ShipmentPublic(ShipmentBase):
    """A parcel, in every ``/api/v1`` answer that has one: what the sender said, what the carrier
    said since (status and timeline, oldest scan first) and the delivery dates."""

    id: int = Field(description="Our id: `{shipment_id}` in `/api/v1/shipments/{shipment_id}`.")
    status: Status
    sub_status: str | None
    status_changed_at: AwareDatetime | None
    last_event_at: AwareDatetime | None
    last_polled_at: AwareDatetime | None
    delivered_at: AwareDatetime | None
    cancelled_at: AwareDatetime | None
    signed_by: str | None
    promised_date: date | None
    predicted_date: date | None
    window_start: date | None
    window_end: date | None
    carrier_estimated_date: date | None
    events: list[TrackingEventPublic]
    customer: CustomerViewPublic | None = Field(
        default=None, description="What the parcel's state means for its customer."
    )
    recommendations: list[RecommendationPublic] = Field(
        default_factory=list,
        description="Items to suggest once the parcel has arrived: in stock in the customer's "
        "size, never one just bought, none after a return was opened for the order.",
    )


class ShipmentPage(Public):
    data: list[ShipmentPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class OrderPublic(Public):
    """``GET /api/v1/orders/{order_id}``: the order with its lines and parcels."""

    order_id: str
    number: str
    status: str
    channel: str
    placed_at: AwareDatetime
    cancelled_at: AwareDatetime | None
    currency: str
    total_amount: int
    shipping_amount: int
    customer_id: str | None
    shipping_address: AddressIn
    lines: list[OrderLinePublic]
    shipments: list[ShipmentPublic]
