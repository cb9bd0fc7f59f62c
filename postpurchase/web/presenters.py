"""What the customer tracking page shows: the order's read model in the customer's words and dates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from sqlmodel import Session

from postpurchase.aftercare import care_content
from postpurchase.customer_view import Stage
from postpurchase.i18n import format_local_time, format_money, to_local
from postpurchase.models import Brand
from postpurchase.readmodels import OrderView, ShipmentView, load_order
from postpurchase.settings.model import settings_for
from postpurchase.web.customer_words import STEP_LABELS, customer_words
from postpurchase.web.wording import DELIVERY_OPTION_LABELS, STATUS_LABELS


@dataclass(frozen=True)
class ScanLine:
    when: str
    status: str
    description: str
    location: str


@dataclass(frozen=True)
class ProgressStep:
    label: str
    done: bool
    current: bool


@dataclass(frozen=True)
class ItemLine:
    name: str
    quantity: int
    image_url: str | None


@dataclass(frozen=True)
class ParcelCard:
    index: int
    carrier_name: str
    tracking_number: str
    tracking_url: str | None
    stage: Stage
    problem: bool
    status_label: str
    headline: str
    details: tuple[str, ...]
    #: Empty for parcels going back to the sender (no progress to show).
    steps: list[ProgressStep]
    action_url: str | None
    action_label: str | None
    action_hint: str | None
    pickup_location: str | None
    pickup_map_url: str | None
    delivery_option: str
    items: list[ItemLine]
    events: list[ScanLine] = field(default_factory=list)


@dataclass(frozen=True)
class RecommendedItem:
    name: str
    variant: str | None
    #: The price in the brand's currency, formatted for the page's locale.
    price: str | None
    image_url: str | None
    url: str | None


@dataclass(frozen=True)
class TrackingPage:
    number: str
    placed: str
    total: str
    lines: list[tuple[str, int, str]]
    parcels: list[ParcelCard]
    #: Every parcel has arrived: the page offers care content, returns and feedback.
    delivered: bool
    care: list[dict[str, Any]]
    #: In stock in the customer's size (:mod:`postpurchase.recommendations`); only once delivered.
    recommendations: list[RecommendedItem]
    #: Our internal ids, for the links the view signs (returns, feedback).
    order_id: int
    customer_id: int | None
    first_shipment_id: int | None


def _parcel_card(
    number: int, shipment: ShipmentView, order: OrderView, tz: str, locale: str, today: date
) -> ParcelCard:
    view = shipment.customer
    if view is None:
        raise ValueError("a view from shipment_views has its customer meaning")
    carrier = shipment.links.carrier_name
    words = customer_words(view, today=today, locale=locale, timezone=tz, carrier=carrier)
    names = {line.sku: line.title for line in order.lines}
    images = {line.sku: line.image_url for line in order.lines if line.image_url}
    pickup = view.pickup
    return ParcelCard(
        index=number,
        carrier_name=carrier,
        tracking_number=shipment.tracking_number or "",
        tracking_url=shipment.links.tracking_url,
        stage=view.stage,
        problem=view.problem,
        status_label=words.label,
        headline=words.headline,
        details=words.details,
        steps=[
            ProgressStep(str(STEP_LABELS[step]), i <= view.step, i == view.step)
            for i, step in enumerate(view.steps)
        ]
        if view.step is not None
        else [],
        action_url=view.action.url if view.action else None,
        action_label=words.action_label,
        action_hint=words.action_hint,
        pickup_location=pickup.location if pickup else None,
        pickup_map_url="https://www.google.com/maps/search/?api=1&query=" + quote(pickup.location)
        if pickup and pickup.location
        else None,
        delivery_option=str(DELIVERY_OPTION_LABELS[view.delivery_option])
        if view.delivery_option
        else "",
        items=[
            ItemLine(
                str(names.get(str(item.get("sku")), item.get("sku"))),
                int(item.get("quantity", 1)),
                images.get(str(item.get("sku"))),
            )
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


def build_tracking_page(
    *, session: Session, brand: Brand, order_id: int, locale: str, now: datetime
) -> TrackingPage | None:
    if brand.id is None:
        raise ValueError("the brand is not stored")
    order = load_order(session=session, brand=brand, order_id=order_id, now=now)
    if order is None:
        return None
    tz = brand.timezone
    today = to_local(now, tz).date()
    parcels = [
        _parcel_card(number, shipment, order, tz, locale, today)
        for number, shipment in enumerate(order.shipments, start=1)
    ]
    delivered = bool(parcels) and all(p.stage == Stage.delivered for p in parcels)
    return TrackingPage(
        number=order.number,
        placed=format_local_time(order.placed_at, tz, locale),
        total=format_money(order.total_amount, order.currency, locale),
        lines=[
            (line.title, line.quantity, format_money(line.unit_price, order.currency, locale))
            for line in order.lines
        ],
        parcels=parcels,
        delivered=delivered,
        care=care_content(settings_for(brand).messaging.care, list(order.lines), locale)
        if delivered
        else [],
        recommendations=[
            RecommendedItem(
                item.name,
                item.variant,
                format_money(item.price, item.currency, locale) if item.price is not None else None,
                item.image_url,
                item.url,
            )
            for item in order.shipments[0].recommendations
        ]
        if delivered
        else [],
        order_id=order.id,
        customer_id=order.customer_key,
        first_shipment_id=order.shipments[0].id if order.shipments else None,
    )
