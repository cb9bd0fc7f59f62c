"""Signal receivers: domain events → :func:`~postpurchase.messaging.triggers.enqueue`.

Each writes in the sender's ``session`` (flush only), so the message commits or rolls back with the
change that caused it. Receivers run inside the app context of whoever sent the signal; the messaging
settings come from it (:func:`~postpurchase.messaging.current_settings`), read only when the message
has someone to go to.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from carriers.status import CUSTOMS, Status
from postpurchase import signals
from postpurchase.clock import utcnow
from postpurchase.messaging import current_settings
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.config import brand_settings
from postpurchase.messaging.respect import preload_suppressions
from postpurchase.messaging.triggers import addresses_of, contact_addresses, enqueue
from postpurchase.models import (
    Brand,
    Customer,
    DutiesTerms,
    Order,
    ReturnRequest,
    ReturnState,
    Shipment,
)

#: Parcel statuses that have a message of their own.
STATUS_TRIGGERS: dict[Status, Trigger] = {
    Status.out_for_delivery: Trigger.out_for_delivery,
    Status.attempt_fail: Trigger.attempt_fail,
    Status.available_for_pickup: Trigger.available_for_pickup,
    Status.delivered: Trigger.delivered,
    Status.held_at_customs: Trigger.customs_hold,
    Status.duties_due: Trigger.duties_due,
}
#: Return states the customer hears about.
RETURN_STATES = {
    ReturnState.requested,
    ReturnState.label_issued,
    ReturnState.received,
    ReturnState.refunded,
    ReturnState.exchanged,
    ReturnState.credited,
}


def _enqueue_for_parcel(
    session: Session,
    brand_id: int,
    shipment_id: int,
    trigger: Trigger,
    now: datetime | None,
    *,
    unless_status_in: Container[Status] = (),
    event_at: datetime | None = None,
    new: bool = False,
) -> None:
    """Enqueue ``trigger`` for a parcel that still exists, unless its status is in ``unless_status_in``
    (a parcel whose status has a message of its own needs no ``delayed``)."""
    shipment, brand = session.get(Shipment, shipment_id), session.get(Brand, brand_id)
    if shipment is None or brand is None or shipment.status in unless_status_in:
        return
    enqueue(
        session=session,
        messaging=current_settings,
        brand=brand,
        trigger=trigger,
        shipment=shipment,
        now=now or utcnow(),
        event_at=event_at or (shipment.shipped_at if trigger == Trigger.shipped else None),
        new=new,
    )


def on_order_upserted(
    brand_id: int,
    *,
    session: Session,
    order_id: int,
    created: bool = False,
    now: datetime | None = None,
    **_: Any,
) -> None:
    if not created:
        return
    order, brand = session.get(Order, order_id), session.get(Brand, brand_id)
    if order is not None and brand is not None:
        enqueue(
            session=session,
            messaging=current_settings,
            brand=brand,
            trigger=Trigger.order_confirmed,
            order=order,
            now=now or utcnow(),
            event_at=order.placed_at,
            new=True,
        )


def on_batch_loaded(
    brand_id: int,
    *,
    session: Session,
    orders: Sequence[Order],
    customers: Sequence[Customer],
    contacts: Sequence[Mapping[str, Any]] = (),
    **_: Any,
) -> None:
    """Read the suppressions of a batch's customers at once, for the messages it will enqueue:
    those of its known orders, and those the batch's order events name (new customers too)."""
    brand = session.get(Brand, brand_id)
    if brand is None:
        return
    settings = brand_settings(brand)
    by_id = {customer.id: customer for customer in customers}
    known = (
        addresses_of(settings, by_id.get(order.customer_id), order, line_notification=True)
        for order in orders
    )
    named = (
        contact_addresses(
            settings,
            email=_text(contact.get("email")),
            phone=_text(contact.get("phone")),
            line_user_id=_text(contact.get("line_user_id")),
            line_notification=True,
        )
        for contact in contacts
    )
    preload_suppressions(
        session=session,
        brand_id=brand_id,
        addresses=(
            address for addresses in (*known, *named) for address in addresses.values() if address
        ),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def on_shipment_created(
    brand_id: int, *, session: Session, shipment_id: int, now: datetime | None = None, **_: Any
) -> None:
    _enqueue_for_parcel(session, brand_id, shipment_id, Trigger.shipped, now, new=True)
    _notice_duties(session, brand_id, shipment_id, now)


def _notice_duties(session: Session, brand_id: int, shipment_id: int, now: datetime | None) -> None:
    """Tell the customer of a DDU order, before the parcel arrives, that the carrier will collect
    import duties (once per parcel: the outbox keeps one row per trigger and parcel). A DDP order
    owes nothing, so it gets no message."""
    shipment = session.get(Shipment, shipment_id)
    order = session.get(Order, shipment.order_id) if shipment and shipment.order_id else None
    if order is None or order.duties_terms != DutiesTerms.ddu:
        return
    _enqueue_for_parcel(
        session,
        brand_id,
        shipment_id,
        Trigger.duties_notice,
        now,
        unless_status_in=STATUS_TRIGGERS,
        new=True,
    )


def on_status_changed(
    shipment_id: int,
    *,
    session: Session,
    brand_id: int,
    current: Status,
    now: datetime | None = None,
    occurred_at: datetime | None = None,
    **_: Any,
) -> None:
    """The status's message; quiet when the scan is older than its freshness limit."""
    status = Status(current)
    trigger = STATUS_TRIGGERS.get(status)
    if trigger:
        _enqueue_for_parcel(session, brand_id, shipment_id, trigger, now, event_at=occurred_at)
    elif status in CUSTOMS:
        # Parcels handed over before their order said DDU still hear it before they arrive.
        _notice_duties(session, brand_id, shipment_id, now)


def on_prediction_changed(
    shipment_id: int,
    *,
    session: Session,
    brand_id: int,
    previous_date: date | None,
    predicted_date: date | None,
    promised_date: date | None,
    now: datetime | None = None,
    **_: Any,
) -> None:
    """``delayed`` when the prediction moves past the promise (not again while it stays late).

    Waiting messages that quote the day need nothing: they are rendered when sent."""
    if promised_date is None or predicted_date is None or predicted_date <= promised_date:
        return
    if previous_date is not None and previous_date > promised_date:
        return
    _enqueue_for_parcel(
        session, brand_id, shipment_id, Trigger.delayed, now, unless_status_in=STATUS_TRIGGERS
    )


def on_return_updated(
    return_id: int,
    *,
    session: Session,
    brand_id: int,
    current: ReturnState,
    now: datetime | None = None,
    **_: Any,
) -> None:
    state = ReturnState(current)
    rma, brand = session.get(ReturnRequest, return_id), session.get(Brand, brand_id)
    if state not in RETURN_STATES or rma is None or brand is None:
        return
    order = session.get(Order, rma.order_id)
    enqueue(
        session=session,
        messaging=current_settings,
        brand=brand,
        trigger=Trigger.return_update,
        order=order,
        ref=f"r{return_id}.{state}",
        extra={"return_id": return_id, "return_state": str(state)},
        now=now or utcnow(),
    )


def connect() -> None:
    """Subscribe (idempotent: blinker keeps one connection per receiver)."""
    signals.batch_loaded.connect(on_batch_loaded)
    signals.order_upserted.connect(on_order_upserted)
    signals.shipment_created.connect(on_shipment_created)
    signals.shipment_status_changed.connect(on_status_changed)
    signals.shipment_prediction_changed.connect(on_prediction_changed)
    signals.return_updated.connect(on_return_updated)
