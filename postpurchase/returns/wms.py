"""The brand's WMS hears about every RMA change: ``return.expected`` and ``return.updated`` webhooks.

DESIGN flow 4: RMA → label → expected-return webhook to the WMS → the WMS posts ``return.received``.
When ``Brand.settings["returns"]["wms_webhook_url"]`` is set, each state change writes one outbox row
(channel ``webhook``, idempotency key per RMA and state) in the change's own unit of work; the
messaging sender posts it signed with the brand's webhook secret (``X-Postpurchase-Signature``),
retries with backoff and delivers each key once. The body mirrors our intake envelope
(``id``/``type``/``occurred_at``/``data``) and is documented in the OpenAPI ``webhooks`` section.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from postpurchase import signals
from postpurchase.clock import utcnow
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.triggers import enqueue_document, idempotency_key
from postpurchase.models import Brand, Channel, Order, ReturnLine, ReturnRequest
from postpurchase.models.enums import (
    ConditionGrade,
    RestockAction,
    ReturnMethod,
    ReturnResolution,
    ReturnState,
    TimeSlot,
)
from postpurchase.models.types import id_of

#: States in which the goods are on their way to (or about to leave for) the warehouse.
EXPECTED_STATES = frozenset(
    {ReturnState.approved, ReturnState.label_issued, ReturnState.in_transit}
)

WmsEventType = Literal["return.expected", "return.updated"]


class WmsReturnLine(BaseModel):
    sku: str
    variant: str | None = None
    quantity: int
    reason_code: str
    exchange_sku: str | None = Field(
        None, description="The item sent back in exchange (resolution `exchange`)."
    )
    grade: ConditionGrade | None = Field(
        None,
        description="Inspection grade, once known: `A` new/resellable, `B` opened, `C` damaged, "
        "`D` unsellable (from your `return.received` report or the merchant's override).",
    )
    restock: RestockAction | None = Field(
        None,
        description="The merchant's decision, once made: `restock` (put the units back into "
        "`restock_fc_code`'s stock) or `write_off`.",
    )
    restock_fc_code: str | None = Field(
        None, description="The fulfilment centre to restock to (`restock` only)."
    )


class WmsDropOff(BaseModel):
    code: str
    name: str
    postal_code: str
    address: str


class WmsReturnMethod(BaseModel):
    """How the customer hands the parcel over; a pickup is for the carrier to collect."""

    kind: ReturnMethod
    dropoff: WmsDropOff | None = Field(None, description="The chosen drop-off point.")
    pickup_date: date | None = Field(None, description="Pickup day (the brand's local date).")
    pickup_slot: TimeSlot | None = Field(None, description="Pickup time slot (時間帯).")
    pickup_address: WmsDropOff | None = Field(
        None, description="Where the carrier collects: the order's recipient (`code` is empty)."
    )


class WmsReturnData(BaseModel):
    rma_number: str = Field(description="Quote it in `return.received` (`data.rma_number`).")
    order_id: str = Field(description="The sender's order id (as in the intake's `order.created`).")
    order_number: str = Field(description="The number the customer sees.")
    state: ReturnState
    previous_state: ReturnState | None = None
    resolution: ReturnResolution
    refund_amount: int = Field(description="Minor units of `currency`.")
    credit_amount: int = Field(description="Store credit, minor units of `currency`.")
    currency: str
    carrier: str | None = Field(None, description="Carrier of the return parcel, once known.")
    tracking_number: str | None = Field(
        None, description="Tracking number of the return parcel, once known."
    )
    received_at: datetime | None = None
    lines: list[WmsReturnLine]
    method: WmsReturnMethod | None = Field(None, description="Once the customer has chosen.")


class WmsReturnWebhook(BaseModel):
    """What the brand's WMS receives when an RMA changes state."""

    id: str = Field(
        description="Unique per RMA and state; equals the `Idempotency-Key` header. "
        "Drop a delivery whose id you have seen."
    )
    type: WmsEventType = Field(
        description="`return.expected` when the goods are coming (approved, label "
        "issued, in transit); `return.updated` for every other state."
    )
    occurred_at: datetime
    data: WmsReturnData


def wms_webhook_url(brand: Brand) -> str | None:
    url = ((brand.settings or {}).get("returns") or {}).get("wms_webhook_url")
    return (str(url).strip() or None) if url else None


def event_type(state: ReturnState) -> WmsEventType:
    return "return.expected" if state in EXPECTED_STATES else "return.updated"


def webhook_document(
    *,
    session: Session,
    rma: ReturnRequest,
    order: Order,
    key: str,
    previous: ReturnState | None,
    now: datetime,
) -> dict[str, Any]:
    """The JSON body for ``rma`` in its current state."""
    lines = session.exec(
        select(ReturnLine).where(ReturnLine.return_id == rma.id).order_by(col(ReturnLine.id))
    ).all()
    data = WmsReturnData(
        rma_number=rma.rma_number,
        order_id=order.external_id,
        order_number=order.number,
        state=rma.state,
        previous_state=previous,
        resolution=rma.resolution,
        refund_amount=rma.refund_amount,
        credit_amount=rma.credit_amount,
        currency=rma.currency,
        carrier=rma.return_carrier_code,
        tracking_number=rma.return_tracking_number,
        received_at=rma.received_at,
        lines=[
            WmsReturnLine(
                sku=line.sku,
                variant=line.variant,
                quantity=line.quantity,
                reason_code=line.reason_code,
                exchange_sku=line.exchange_sku,
                grade=line.grade,
                restock=line.restock,
                restock_fc_code=line.restock_fc_code,
            )
            for line in lines
        ],
        method=method_data(rma, order),
    )
    return WmsReturnWebhook(
        id=key, type=event_type(ReturnState(rma.state)), occurred_at=now, data=data
    ).model_dump(mode="json")


def method_data(rma: ReturnRequest, order: Order) -> WmsReturnMethod | None:
    """``data.method`` from the customer's choice (``attributes["method"]``)."""
    chosen = (rma.attributes or {}).get("method")
    if not chosen:
        return None
    pickup = chosen["kind"] == ReturnMethod.pickup
    return WmsReturnMethod(
        kind=chosen["kind"],
        dropoff=WmsDropOff(**chosen["dropoff"]) if chosen.get("dropoff") else None,
        pickup_date=chosen.get("pickup_date"),
        pickup_slot=chosen.get("pickup_slot"),
        pickup_address=WmsDropOff(
            code="",
            name=order.shipping_name or "",
            postal_code=order.shipping_postal_code or "",
            address=" ".join(
                filter(None, (order.shipping_region, order.shipping_city, _street(order)))
            ),
        )
        if pickup
        else None,
    )


def _street(order: Order) -> str | None:
    street = (order.attributes or {}).get("shipping_street")
    return str(street) if street else None


def queue_method(*, session: Session, rma: ReturnRequest, now: datetime) -> None:
    """Send the RMA again when the customer chooses (or changes) how to hand it over; one delivery
    per choice (the key names the moment it was chosen)."""
    chosen = (rma.attributes or {}).get("method") or {}
    on_return_updated(
        id_of(rma),
        session=session,
        brand_id=rma.brand_id,
        current=ReturnState(rma.state),
        now=now,
        ref=f"r{rma.id}.{ReturnState(rma.state)}.method.{chosen.get('chosen_at', '')}",
    )


def on_return_updated(
    return_id: int,
    *,
    session: Session,
    brand_id: int,
    current: ReturnState,
    previous: ReturnState | None = None,
    now: datetime | None = None,
    ref: str | None = None,
    **_: Any,
) -> None:
    """Queue the webhook for this change, when the brand has a WMS webhook URL."""
    rma = session.get(ReturnRequest, return_id)
    if rma is None or rma.brand_id != brand_id:
        return
    _queue(
        session=session,
        rma=rma,
        ref=ref or f"r{return_id}.{ReturnState(current)}",
        previous=ReturnState(previous) if previous else None,
        now=now or utcnow(),
    )


def announce_restock(*, session: Session, rma: ReturnRequest, line_id: int, now: datetime) -> None:
    """Queue a ``return.updated`` webhook carrying a line's restock decision (one per line, as a
    line is decided once), when the brand has a WMS webhook URL."""
    _queue(session=session, rma=rma, ref=f"r{rma.id}.restock.{line_id}", previous=None, now=now)


def _queue(
    *,
    session: Session,
    rma: ReturnRequest,
    ref: str,
    previous: ReturnState | None,
    now: datetime,
) -> None:
    brand = session.get(Brand, rma.brand_id)
    url = wms_webhook_url(brand) if brand is not None else None
    if brand is None or url is None:
        return
    order = session.get_one(Order, rma.order_id)
    brand_id = rma.brand_id
    key = idempotency_key(brand_id, Trigger.wms_return, ref, Channel.webhook)
    document = webhook_document(
        session=session,
        rma=rma,
        order=order,
        key=key,
        previous=previous,
        now=now,
    )
    enqueue_document(
        session=session,
        brand=brand,
        trigger=Trigger.wms_return,
        ref=ref,
        url=url,
        document=document,
        now=now,
        order_id=order.id,
    )


def connect() -> None:
    signals.return_updated.connect(on_return_updated)
