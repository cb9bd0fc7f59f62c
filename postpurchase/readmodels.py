"""What an order and its parcels are, read once for every reader.

The tracking page, the ``/api/v1`` answers and the message context all start from these views, so
what a parcel's carrier is called, which links it has, its expected dates and its timeline are
worked out in one place. Readers only format them (Babel for people, JSON for machines) and add
what is theirs alone (a page's progress step, a message's pickup deadline).

Field names are those of the public schemas (:class:`~postpurchase.schemas.OrderPublic`,
:class:`~postpurchase.schemas.ShipmentPublic`): ``id`` is ours, ``order_id`` and
``shipment_id`` are the sender's, so an answer is the view validated into its schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from carriers.registry import CustomerLinks, customer_links
from carriers.status import Handover, Status
from postpurchase.clock import utcnow
from postpurchase.db import read_records
from postpurchase.i18n import to_local
from postpurchase.models import (
    Brand,
    Customer,
    DeliveryOption,
    DeliveryPrediction,
    DutiesTerms,
    FulfillmentCentre,
    Order,
    OrderLine,
    OrderStatus,
    Shipment,
    TimeSlot,
    TrackingEvent,
)
from postpurchase.models.types import id_column, id_of, table_of

if TYPE_CHECKING:
    from postpurchase.customer_view import CustomerView
    from postpurchase.recommendations import Recommendation


@dataclass(frozen=True)
class EventView:
    occurred_at: datetime
    status: Status
    #: The carrier's own code (or its text) for the scan.
    carrier_code: str
    description: str
    location: str | None
    source: str
    recorded_at: datetime
    #: Where this delivery or pickup scan says the parcel is (None on rows from before it was kept).
    delivered_to: Handover | None = None


@dataclass(frozen=True)
class SlotMove:
    """Why the predicted day is a later one: the requested slot's depot cut-off was missed."""

    #: The requested slot's code (``19-21``).
    slot: str
    #: The day predicted before the slot was taken into account (None on older predictions).
    from_day: date | None
    #: The slot's depot cut-off (local time) that the parcel misses.
    cutoff: time


@dataclass(frozen=True)
class Destination:
    postal_code: str | None
    region: str | None
    country: str


@dataclass(frozen=True)
class ShipmentView:
    """One parcel: what the sender told us, what the carrier said since, and its links."""

    id: int
    shipment_id: str
    parcel_index: int
    order_id: str | None
    carrier: str
    service: str
    tracking_number: str | None
    fc_code: str | None
    shipped_at: datetime | None
    requested_date: date | None
    time_slot: TimeSlot | None
    delivery_option: DeliveryOption
    weight_g: int | None
    cost: int | None
    currency: str | None
    #: ``[{"sku": ..., "quantity": ...}]`` as the WMS packed this parcel.
    lines: list[dict[str, Any]]
    destination: Destination
    status: Status
    sub_status: str | None
    status_changed_at: datetime | None
    last_event_at: datetime | None
    last_polled_at: datetime | None
    delivered_at: datetime | None
    cancelled_at: datetime | None
    signed_by: str | None
    promised_date: date | None
    predicted_date: date | None
    window_start: date | None
    window_end: date | None
    carrier_estimated_date: date | None
    #: The carrier's display name and customer links.
    links: CustomerLinks
    #: The timeline, oldest scan first.
    events: tuple[EventView, ...]
    #: Who pays import duties, by the order's terms (None: domestic, or not said).
    duties_terms: DutiesTerms | None = None
    #: What the parcel's state means for its customer (:mod:`postpurchase.customer_view`).
    customer: CustomerView | None = None
    #: What to suggest once the parcel has arrived (:mod:`postpurchase.recommendations`).
    recommendations: tuple[Recommendation, ...] = ()
    #: Where the carrier says the parcel was left or waits, and the pickup point it names.
    delivered_to: Handover | None = None
    pickup_name: str | None = None
    pickup_address: str | None = None
    pickup_deadline: date | None = None
    #: The latest prediction moved the day because the parcel reaches the delivering depot after
    #: the requested slot's cut-off (:func:`postpurchase.edd.slots.slot_aware`).
    slot_moved: SlotMove | None = None

    @property
    def delivered(self) -> bool:
        return self.status == Status.delivered

    @property
    def window(self) -> tuple[date, date] | None:
        """The predicted window when it spans more than one day; None for a single date."""
        if self.window_start and self.window_end and self.window_start != self.window_end:
            return self.window_start, self.window_end
        return None

    @property
    def latest_event(self) -> EventView | None:
        return self.events[-1] if self.events else None


@dataclass(frozen=True)
class Address:
    name: str | None
    postal_code: str | None
    region: str | None
    city: str | None
    country: str


@dataclass(frozen=True)
class OrderLineView:
    line_id: str
    sku: str
    variant: str | None
    name: str
    category: str | None
    quantity: int
    unit_price: int
    final_sale: bool
    image_url: str | None = None

    @property
    def title(self) -> str:
        """What a customer calls the line: its name, or its SKU when it has none."""
        return self.name or self.sku


@dataclass(frozen=True)
class OrderView:
    """An order with its lines (in the sender's order) and its parcels."""

    id: int
    order_id: str
    number: str
    status: OrderStatus
    channel: str
    placed_at: datetime
    cancelled_at: datetime | None
    currency: str
    total_amount: int
    shipping_amount: int
    customer_id: str | None
    shipping_address: Address
    lines: tuple[OrderLineView, ...]
    shipments: tuple[ShipmentView, ...]
    #: Our id of the customer, for the links a page signs (``customer_id`` is the sender's).
    customer_key: int | None = None


def line_views(lines: Iterable[OrderLine]) -> tuple[OrderLineView, ...]:
    """The read model of an order's lines, for every reader (pages, API, messages)."""
    return tuple(
        OrderLineView(
            line_id=line.line_key,
            sku=line.sku,
            variant=line.variant,
            name=line.name,
            category=line.category,
            quantity=line.quantity,
            unit_price=line.unit_price,
            final_sale=line.final_sale,
            image_url=line.image_url,
        )
        for line in lines
    )


_events = table_of(TrackingEvent)
#: An event's fields, not the row object: a tracking page reads a parcel's whole history, and
#: building ORM objects for it cost about as much as the query (bench/page_profile.py).
_EVENT_FIELDS = sa_select(
    _events.c.shipment_id,
    _events.c.occurred_at,
    _events.c.status,
    _events.c.carrier_code,
    _events.c.description,
    _events.c.location,
    _events.c.source,
    _events.c.recorded_at,
    _events.c.delivered_to,
).order_by(_events.c.occurred_at, _events.c.id)
_EVENTS_OF_SHIPMENTS = _EVENT_FIELDS.where(
    _events.c.shipment_id.in_(bindparam("ids", expanding=True))
)
#: One parcel's (a tracking page's usual case, a message's): read on the driver.
_EVENTS_OF_SHIPMENT = _EVENT_FIELDS.where(_events.c.shipment_id == bindparam("id"))


def _event_rows(session: Session, ids: list[int]) -> Iterable[Any]:
    if len(ids) == 1:
        return read_records(session, _EVENTS_OF_SHIPMENT, {"id": ids[0]})
    return session.execute(_EVENTS_OF_SHIPMENTS, {"ids": ids})


def shipment_views(
    *,
    session: Session,
    shipments: Sequence[Shipment],
    now: datetime | None = None,
    orders_read: Sequence[Order] = (),
    brands_read: Sequence[Brand] = (),
) -> list[ShipmentView]:
    """The views of ``shipments`` (in that order), with four queries however many there are (the
    fourth only for parcels with a time slot; the third only for orders not in ``orders_read``),
    each with what it means for its customer at ``now`` (default: the clock's now); brands with
    a catalogue add one for the delivered parcels' orders and what their recommendations read.
    ``shipments`` and ``orders_read`` are model rows or records of their tables
    (:func:`~postpurchase.db.read_records`): only their fields are read. Brands not in
    ``brands_read`` are taken from the session."""
    ids = [s.id for s in shipments if s.id is not None]
    events: dict[int, list[EventView]] = {i: [] for i in ids}
    if ids:
        for (
            shipment_id,
            occurred_at,
            status,
            code,
            text,
            location,
            source,
            recorded,
            to,
        ) in _event_rows(session, ids):
            events[shipment_id].append(
                EventView(
                    occurred_at=occurred_at,
                    status=Status(status),
                    carrier_code=code,
                    description=text,
                    location=location,
                    source=source,
                    recorded_at=recorded,
                    delivered_to=Handover(to) if to else None,
                )
            )
    fc_ids = {s.fc_id for s in shipments if s.fc_id is not None}
    fc_codes = (
        dict(
            session.exec(
                select(id_column(FulfillmentCentre), FulfillmentCentre.code).where(
                    col(FulfillmentCentre.id).in_(fc_ids)
                )
            ).all()
        )
        if fc_ids
        else {}
    )
    known = {order.id: order for order in orders_read if order.id is not None}
    orders: dict[int, tuple[str, DutiesTerms | None]] = {
        order_id: (order.external_id, order.duties_terms) for order_id, order in known.items()
    }
    order_ids = {s.order_id for s in shipments if s.order_id is not None} - orders.keys()
    if order_ids:
        orders.update(
            (order_id, (external_id, terms))
            for order_id, external_id, terms in session.exec(
                select(id_column(Order), col(Order.external_id), col(Order.duties_terms)).where(
                    col(Order.id).in_(order_ids)
                )
            ).all()
        )
    moves = _slot_moves(session, shipments)
    views = [
        replace(_shipment_view(s, events, fc_codes, orders), slot_moved=moves.get(s.id))
        for s in shipments
    ]
    return _with_customer_views(session, shipments, views, now or utcnow(), known, brands_read)


def _slot_moves(session: Session, shipments: Sequence[Shipment]) -> dict[int | None, SlotMove]:
    """Parcels whose latest prediction, still the one shown, was moved by the slot's cut-off."""
    slotted = {s.id: s for s in shipments if s.id is not None and s.time_slot}
    if not slotted:
        return {}
    latest = (
        select(func.max(DeliveryPrediction.id))
        .where(col(DeliveryPrediction.shipment_id).in_(slotted))
        .group_by(col(DeliveryPrediction.shipment_id))
    )
    moves: dict[int | None, SlotMove] = {}
    rows = session.exec(select(DeliveryPrediction).where(col(DeliveryPrediction.id).in_(latest)))
    for prediction in rows:
        if prediction.shipment_id is None:
            continue
        shipment = slotted[prediction.shipment_id]
        slot = (prediction.basis or {}).get("slot") or {}
        if (
            not slot.get("moved_to_next_day")
            or prediction.predicted_date != shipment.predicted_date
        ):
            continue
        moved_from = slot.get("moved_from")
        moves[shipment.id] = SlotMove(
            slot=str(slot["slot"]),
            from_day=date.fromisoformat(moved_from) if moved_from else None,
            cutoff=time.fromisoformat(slot["depot_cutoff"]),
        )
    return moves


def _with_customer_views(
    session: Session,
    shipments: Sequence[Shipment],
    views: list[ShipmentView],
    now: datetime,
    orders_read: dict[int, Order],
    brands_read: Sequence[Brand],
) -> list[ShipmentView]:
    from postpurchase.customer_view import customer_view, pickup_hold_days
    from postpurchase.recommendations import for_order, shows_recommendations

    brands: dict[int, Brand | None] = {b.id: b for b in brands_read if b.id is not None}
    for shipment in shipments:
        if shipment.brand_id not in brands:
            brands[shipment.brand_id] = session.get(Brand, shipment.brand_id)
    # Parcels of one order share its recommendations: each order is worked out once, and the
    # orders of delivered parcels not already read are read together.
    suggested: dict[int, tuple[Recommendation, ...]] = {}
    recommending = {i for i, brand in brands.items() if brand and shows_recommendations(brand)}
    orders: dict[int, Order] = dict(orders_read)
    unread = {
        s.order_id
        for s, view in zip(shipments, views, strict=True)
        if view.delivered
        and s.brand_id in recommending
        and s.order_id is not None
        and s.order_id not in orders
    }
    if unread:
        orders.update(
            (id_of(order), order)
            for order in session.exec(select(Order).where(col(Order.id).in_(unread)))
        )
    result = []
    for shipment, view in zip(shipments, views, strict=True):
        brand = brands[shipment.brand_id]
        if brand is None:
            raise LookupError(f"shipment {shipment.id} names no stored brand")
        meaning = customer_view(
            view,
            today=to_local(now, brand.timezone).date(),
            timezone=brand.timezone,
            pickup_hold_days=pickup_hold_days(brand),
        )
        recommendations: tuple[Recommendation, ...] = ()
        if view.delivered and shipment.brand_id in recommending and shipment.order_id is not None:
            if shipment.order_id not in suggested:
                order = orders.get(shipment.order_id)
                suggested[shipment.order_id] = (
                    tuple(for_order(session=session, brand=brand, order=order)) if order else ()
                )
            recommendations = suggested[shipment.order_id]
        result.append(replace(view, customer=meaning, recommendations=recommendations))
    return result


def _shipment_view(
    s: Shipment,
    events: dict[int, list[EventView]],
    fc_codes: dict[int, str],
    orders: dict[int, tuple[str, DutiesTerms | None]],
) -> ShipmentView:
    assert s.id is not None, "a view is of a stored shipment"
    return ShipmentView(
        id=s.id,
        shipment_id=s.external_id,
        parcel_index=s.parcel_index,
        order_id=orders[s.order_id][0] if s.order_id is not None else None,
        carrier=s.carrier_code,
        service=s.service,
        tracking_number=s.tracking_number,
        fc_code=fc_codes[s.fc_id] if s.fc_id is not None else None,
        shipped_at=s.shipped_at,
        requested_date=s.requested_date,
        time_slot=s.time_slot,
        delivery_option=s.delivery_option,
        weight_g=s.weight_g,
        cost=s.cost_amount,
        currency=s.cost_currency,
        lines=list(s.lines),
        destination=Destination(
            s.destination_postal_code, s.destination_region, s.destination_country or "JP"
        ),
        status=Status(s.status),
        sub_status=s.sub_status,
        status_changed_at=s.status_changed_at,
        last_event_at=s.last_event_at,
        last_polled_at=s.last_polled_at,
        delivered_at=s.delivered_at,
        cancelled_at=s.cancelled_at,
        signed_by=s.signed_by,
        promised_date=s.promised_date,
        predicted_date=s.predicted_date,
        window_start=s.window_start,
        window_end=s.window_end,
        carrier_estimated_date=s.carrier_estimated_date,
        delivered_to=Handover(s.delivered_to) if s.delivered_to else None,
        pickup_name=s.pickup_name,
        pickup_address=s.pickup_address,
        pickup_deadline=s.pickup_deadline,
        links=customer_links(s.carrier_code, s.tracking_number),
        events=tuple(events[s.id]),
        duties_terms=orders[s.order_id][1] if s.order_id is not None else None,
    )


def load_shipment(*, session: Session, brand_id: int, shipment_id: int) -> ShipmentView | None:
    """Shipment ``shipment_id`` (our id) of this brand; None if there is none."""
    shipment = session.get(Shipment, shipment_id)
    if shipment is None or shipment.brand_id != brand_id:
        return None
    return shipment_views(session=session, shipments=[shipment])[0]


# An order's reads, built once (every tracking page runs them: building a statement cost about as
# much as running it) and read as records, not ORM rows (:class:`~postpurchase.db.DriverQuery`).
_orders, _customers = table_of(Order), table_of(Customer)
_ORDER_WITH_CUSTOMER = (
    sa_select(
        _orders,
        _customers.c.id.label("customer_key"),
        _customers.c.external_id.label("customer_external_id"),
    )
    .select_from(_orders.outerjoin(_customers, _customers.c.id == _orders.c.customer_id))
    .where(_orders.c.id == bindparam("order_id"))
)
_lines = table_of(OrderLine)
_ORDER_LINES = (
    sa_select(_lines).where(_lines.c.order_id == bindparam("order_id")).order_by(_lines.c.id)
)
_shipments = table_of(Shipment)
_ORDER_SHIPMENTS = (
    sa_select(_shipments)
    .where(
        _shipments.c.order_id == bindparam("order_id"),
        _shipments.c.brand_id == bindparam("brand_id"),
    )
    .order_by(_shipments.c.external_id, _shipments.c.parcel_index)
)


def load_order(
    *, session: Session, brand: Brand, order_id: int, now: datetime | None = None
) -> OrderView | None:
    """Order ``order_id`` (our id) of ``brand`` with its lines and parcels (their customer meaning
    at ``now``, default the clock's); None if there is none."""
    brand_id = id_of(brand)
    found = read_records(session, _ORDER_WITH_CUSTOMER, {"order_id": order_id})
    if not found or found[0].brand_id != brand_id:
        return None
    order = found[0]
    lines = read_records(session, _ORDER_LINES, {"order_id": order.id})
    shipments = read_records(
        session, _ORDER_SHIPMENTS, {"order_id": order.id, "brand_id": brand_id}
    )
    return OrderView(
        id=order.id,
        order_id=order.external_id,
        number=order.number,
        status=order.status,
        channel=order.channel,
        placed_at=order.placed_at,
        cancelled_at=order.cancelled_at,
        currency=order.currency,
        total_amount=order.total_amount,
        shipping_amount=order.shipping_amount,
        customer_id=order.customer_external_id,
        shipping_address=Address(
            order.shipping_name,
            order.shipping_postal_code,
            order.shipping_region,
            order.shipping_city,
            order.shipping_country or "JP",
        ),
        lines=line_views(lines),
        shipments=tuple(
            shipment_views(
                session=session,
                shipments=shipments,
                now=now,
                orders_read=[order],
                brands_read=[brand],
            )
        ),
        customer_key=order.customer_key,
    )
