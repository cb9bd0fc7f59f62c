"""What the customer tracking page shows, built from the database without HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from carriers.registry import customer_links
from carriers.status import Status
from postpurchase.i18n import format_day, format_local_time, format_money, time_slot_label
from postpurchase.models import Brand, Order, OrderLine, Shipment, TrackingEvent
from postpurchase.web.wording import DELIVERY_OPTION_LABELS, STATUS_LABELS, STATUS_STEP


@dataclass(frozen=True)
class EventView:
    when: str
    status: str
    description: str
    location: str


@dataclass(frozen=True)
class ParcelView:
    index: int
    carrier_name: str
    tracking_number: str
    tracking_url: str | None
    redelivery_url: str | None
    status: Status
    status_label: str
    step: int
    expected: str  # "11月25日(水)" or a window, or "" when unknown
    delivered: str
    time_slot: str
    delivery_option: str
    items: list[str]
    events: list[EventView] = field(default_factory=list)


@dataclass(frozen=True)
class OrderView:
    number: str
    placed: str
    total: str
    lines: list[tuple[str, int, str]]
    parcels: list[ParcelView]


def _expected(shipment: Shipment, locale: str) -> str:
    if shipment.status == Status.delivered or shipment.predicted_date is None:
        return ""
    start, end = shipment.window_start, shipment.window_end
    if start and end and start != end:
        return f"{format_day(start, locale)} – {format_day(end, locale)}"
    return format_day(shipment.predicted_date, locale)


def build_order_view(*, session: Session, brand: Brand, order_id: int, locale: str) -> OrderView | None:
    order = session.get(Order, order_id)
    if order is None or order.brand_id != brand.id:
        return None
    tz = brand.timezone
    lines = session.exec(select(OrderLine).where(OrderLine.order_id == order.id)).all()
    names = {line.sku: line.name or line.sku for line in lines}
    shipments = session.exec(
        select(Shipment).where(Shipment.order_id == order.id, Shipment.brand_id == brand.id)
        .order_by(col(Shipment.external_id), col(Shipment.parcel_index))
    ).all()
    parcels = []
    for number, shipment in enumerate(shipments, start=1):
        events = session.exec(
            select(TrackingEvent).where(TrackingEvent.shipment_id == shipment.id)
            .order_by(col(TrackingEvent.occurred_at).desc())
        ).all()
        links = customer_links(shipment.carrier_code, shipment.tracking_number)
        parcels.append(ParcelView(
            index=number,
            carrier_name=links.carrier_name,
            tracking_number=shipment.tracking_number or "",
            tracking_url=links.tracking_url,
            redelivery_url=links.redelivery_url,
            status=shipment.status,
            status_label=str(STATUS_LABELS[shipment.status]),
            step=STATUS_STEP[shipment.status],
            expected=_expected(shipment, locale),
            delivered=format_local_time(shipment.delivered_at, tz, locale) if shipment.delivered_at else "",
            time_slot=time_slot_label(shipment.time_slot, locale),
            delivery_option=str(DELIVERY_OPTION_LABELS[shipment.delivery_option]),
            items=[f"{names.get(str(item.get('sku')), item.get('sku'))} × {item.get('quantity', 1)}"
                   for item in shipment.lines],
            events=[EventView(format_local_time(e.occurred_at, tz, locale), str(STATUS_LABELS[e.status]),
                              e.description, e.location or "") for e in events],
        ))
    return OrderView(
        number=order.number,
        placed=format_local_time(order.placed_at, tz, locale),
        total=format_money(order.total_amount, order.currency, locale),
        lines=[(line.name or line.sku, line.quantity, format_money(line.unit_price, order.currency, locale))
               for line in lines],
        parcels=parcels,
    )

