"""What the customer tracking page shows: the order's read model in the customer's words and dates."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from carriers.status import Status
from postpurchase.i18n import format_day, format_local_time, format_money, time_slot_label
from postpurchase.models import Brand
from postpurchase.readmodels import ShipmentView, load_order
from postpurchase.web.wording import DELIVERY_OPTION_LABELS, STATUS_LABELS, STATUS_STEP


@dataclass(frozen=True)
class ScanLine:
    when: str
    status: str
    description: str
    location: str


@dataclass(frozen=True)
class ParcelCard:
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
    events: list[ScanLine] = field(default_factory=list)


@dataclass(frozen=True)
class TrackingPage:
    number: str
    placed: str
    total: str
    lines: list[tuple[str, int, str]]
    parcels: list[ParcelCard]


def _expected(shipment: ShipmentView, locale: str) -> str:
    if shipment.delivered or shipment.predicted_date is None:
        return ""
    if shipment.window:
        start, end = shipment.window
        return f"{format_day(start, locale)} – {format_day(end, locale)}"
    return format_day(shipment.predicted_date, locale)


def build_tracking_page(
    *, session: Session, brand: Brand, order_id: int, locale: str
) -> TrackingPage | None:
    assert brand.id is not None
    order = load_order(session=session, brand_id=brand.id, order_id=order_id)
    if order is None:
        return None
    tz = brand.timezone
    names = {line.sku: line.title for line in order.lines}
    parcels = [
        ParcelCard(
            index=number,
            carrier_name=shipment.links.carrier_name,
            tracking_number=shipment.tracking_number or "",
            tracking_url=shipment.links.tracking_url,
            redelivery_url=shipment.links.redelivery_url,
            status=shipment.status,
            status_label=str(STATUS_LABELS[shipment.status]),
            step=STATUS_STEP[shipment.status],
            expected=_expected(shipment, locale),
            delivered=format_local_time(shipment.delivered_at, tz, locale)
            if shipment.delivered_at
            else "",
            time_slot=time_slot_label(shipment.time_slot, locale),
            delivery_option=str(DELIVERY_OPTION_LABELS[shipment.delivery_option]),
            items=[
                f"{names.get(str(item.get('sku')), item.get('sku'))} × {item.get('quantity', 1)}"
                for item in shipment.lines
            ],
            events=[
                ScanLine(
                    format_local_time(e.occurred_at, tz, locale),
                    str(STATUS_LABELS[e.status]),
                    e.description,
                    e.location or "",
                )
                for e in reversed(shipment.events)
            ],
        )
        for number, shipment in enumerate(order.shipments, start=1)
    ]
    return TrackingPage(
        number=order.number,
        placed=format_local_time(order.placed_at, tz, locale),
        total=format_money(order.total_amount, order.currency, locale),
        lines=[
            (line.title, line.quantity, format_money(line.unit_price, order.currency, locale))
            for line in order.lines
        ],
        parcels=parcels,
    )
