"""The generic WMS/OMS source: parse and check an envelope, and apply a stored one.

:func:`parse_event` is what the HTTP endpoint runs before storing (400 for a broken envelope, 422
with field paths for schema errors); :func:`apply_event` is the inbox handler for source ``wms``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from postpurchase import batched, signals
from postpurchase.inbox import Applied, jsonbody
from postpurchase.intake import operations
from postpurchase.intake.schemas import EventType, envelope_model
from postpurchase.models import InboxEvent

SOURCE = "wms"

#: Event type → operation applying its ``data``.
OPERATIONS: dict[EventType, Callable[..., Applied]] = {
    EventType.order_created: operations.upsert_order,
    EventType.order_updated: operations.upsert_order,
    EventType.order_cancelled: operations.cancel_order,
    EventType.shipment_created: operations.create_shipment,
    EventType.shipment_updated: operations.update_shipment,
    EventType.shipment_cancelled: operations.cancel_shipment,
    EventType.inventory_updated: operations.update_inventory,
    EventType.return_received: operations.record_return,
}


class InvalidEvent(ValueError):
    """The body is not an event. ``status`` 400 (not JSON / no envelope) or 422 (schema)."""

    def __init__(
        self, status: int, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details


def parse_event(raw_body: bytes) -> BaseModel:
    """The validated envelope of ``raw_body``; raises :class:`InvalidEvent`."""
    try:
        payload = jsonbody.loads(raw_body)
    except jsonbody.BadJson as exc:
        raise InvalidEvent(400, exc.message, [{"loc": "body", "msg": exc.message}]) from None
    if not isinstance(payload, dict):
        raise InvalidEvent(400, "The body must be a JSON object (an event envelope).")
    missing = [name for name in ("id", "type", "occurred_at", "data") if name not in payload]
    if missing:
        raise InvalidEvent(
            400,
            "The envelope lacks " + ", ".join(missing) + ".",
            [{"loc": name, "msg": "Field required"} for name in missing],
        )
    if not isinstance(payload["id"], str) or not payload["id"]:
        raise InvalidEvent(
            400,
            "The envelope id must be a non-empty string.",
            [{"loc": "id", "msg": "must be a non-empty string"}],
        )
    try:
        event_type = EventType(payload["type"])
    except ValueError:
        allowed = ", ".join(t.value for t in EventType)
        raise InvalidEvent(
            400,
            f"Unknown event type {str(payload['type'])[:64]!r}; one of: {allowed}.",
            [{"loc": "type", "msg": f"must be one of: {allowed}"}],
        ) from None
    if not isinstance(payload["data"], dict):
        raise InvalidEvent(
            400,
            "The envelope's data must be an object.",
            [{"loc": "data", "msg": "must be an object"}],
        )
    try:
        return envelope_model(event_type).model_validate(payload)
    except ValidationError as exc:
        raise InvalidEvent(
            422, f"The {event_type.value} event does not match its schema.", validation_details(exc)
        ) from None


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as ``[{"loc": "data.lines[0].quantity", "msg": ...}]``."""
    return [
        {"loc": _loc(error["loc"]), "msg": error["msg"], "type": error["type"]}
        for error in exc.errors(include_url=False, include_input=False)
    ]


def _loc(parts: tuple[int | str, ...]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


#: Event types whose operation settles what an earlier event of the batch left for
#: :func:`postpurchase.batched.settle` (a new parcel's prediction, first poll and messages) where
#: it must: a new parcel touches only itself; an order settles first when it is known or its
#: customer is a waiting parcel's (:func:`~postpurchase.intake.operations.upsert_order`). Any
#: other event settles first.
_SETTLE_THEMSELVES = frozenset(
    {EventType.shipment_created, EventType.order_created, EventType.order_updated}
)


def prefetch(*, session: Session, events: list[InboxEvent]) -> None:
    """Load the orders and shipments a batch of stored events refers to, per brand."""
    wanted: dict[int, tuple[set[str], set[str], set[str]]] = {}
    contacts: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        try:
            data = json.loads(event.raw_body).get("data") or {}
        except (ValueError, AttributeError):
            continue  # processing will report it
        if event.brand_id is None:
            continue  # a generic event is always signed by a brand; processing reports otherwise
        orders, shipments, customers = wanted.setdefault(event.brand_id, (set(), set(), set()))
        if isinstance(data.get("order_id"), str):
            orders.add(data["order_id"])
        if isinstance(data.get("shipment_id"), str):
            shipments.add(data["shipment_id"])
        customer = data.get("customer")
        if isinstance(customer, dict):
            contacts.setdefault(event.brand_id, []).append(customer)
            if isinstance(customer.get("customer_id"), str):
                customers.add(customer["customer_id"])
    for brand_id, (orders, shipments, customers) in wanted.items():
        operations.prefetch(
            session=session,
            brand_id=brand_id,
            order_ids=orders,
            shipment_ids=shipments,
            customer_ids=customers,
            contacts=contacts.get(brand_id, []),
        )


def apply_event(
    *, session: Session, event: InboxEvent, payload: dict[str, Any], now: datetime
) -> Applied:
    """Inbox handler for source ``wms``: validate the stored envelope and apply its data."""
    assert event.brand_id is not None
    envelope: Any = envelope_model(EventType(payload["type"])).model_validate(payload)
    with signals.late_notices_allowed(envelope.notify_late or signals.late_notices()):
        return apply_data(
            session=session,
            brand_id=event.brand_id,
            event_type=envelope.type,
            data=envelope.data,
            occurred_at=envelope.occurred_at,
            now=now,
        )


def apply_data(
    *,
    session: Session,
    brand_id: int,
    event_type: EventType | str,
    data: BaseModel,
    occurred_at: datetime,
    now: datetime,
) -> Applied:
    """Apply one event's validated ``data`` (the demo generator may call this directly)."""
    event_type = EventType(event_type)
    if event_type not in _SETTLE_THEMSELVES:
        batched.settle(session)
    operation = OPERATIONS[event_type]
    return operation(
        session=session, brand_id=brand_id, data=data, occurred_at=occurred_at, now=now
    )
