"""How the customer hands a return over: the methods the brand enables, the choice recorded on the
RMA (``attributes["method"]``), pickup dates and slots, and labels bought through a carrier's API.

The choice goes to the WMS/carrier feed inside the RMA webhook (``data.method``); a return parcel
whose tracking number is known becomes a tracked shipment linked to the RMA.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from carriers.labels import LabelAddress, PurchasedLabel, ReturnLabelBuyer, ReturnLabelRequest
from postpurchase import audit
from postpurchase.edd.calendar import CarrierCalendar
from postpurchase.i18n import lazy_gettext as _l
from postpurchase.i18n import to_local
from postpurchase.models import Brand, DropOffPoint, Order, ReturnRequest, Shipment
from postpurchase.models.enums import DROPOFF_METHODS, ReturnMethod, ReturnState, TimeSlot
from postpurchase.models.types import id_of
from postpurchase.returns.operations import ReturnError
from postpurchase.settings.model import ReturnsPart, settings_for

#: States in which the customer may still choose or change how to hand the parcel over.
CHOOSING_STATES = (ReturnState.requested, ReturnState.approved, ReturnState.label_issued)
#: What a return parcel weighs when nothing better is known (for carrier rates).
DEFAULT_WEIGHT_G = 1000
ACTOR = "customer"


def is_international(brand: Brand, order: Order) -> bool:
    return bool(order.shipping_country) and order.shipping_country != brand.country


def offered_methods(brand: Brand, order: Order) -> list[ReturnMethod]:
    """The brand's enabled methods that fit the order: a carrier API label only for international
    returns (and only with a label carrier configured), the domestic methods only for domestic ones."""
    part = settings_for(brand).returns
    international = is_international(brand, order)
    return [
        ReturnMethod(m)
        for m in part.methods
        if (m == ReturnMethod.carrier_label) == international
        and (m != ReturnMethod.carrier_label or part.label_carrier)
    ]


def pickup_dates(part: ReturnsPart, calendar: CarrierCalendar, today: date) -> list[date]:
    """The next ``part.pickup_days`` business days after ``today`` (a pickup is never the same day)."""
    days: list[date] = []
    day = today
    while len(days) < part.pickup_days:
        day = calendar.roll_forward(day + timedelta(days=1))
        days.append(day)
    return days


def brand_calendar(brand: Brand) -> CarrierCalendar:
    """The brand's carrier calendar (``edd.calendar``): pickups happen on its business days."""
    calendar = settings_for(brand).edd.calendar
    return CarrierCalendar.from_settings(brand.country, calendar.model_dump(mode="json"))


@dataclass(frozen=True)
class MethodChoice:
    method: ReturnMethod
    dropoff_id: int | None = None
    pickup_date: date | None = None
    pickup_slot: TimeSlot | None = None


def choose_method(
    *, session: Session, brand: Brand, rma: ReturnRequest, choice: MethodChoice, now: datetime
) -> dict[str, Any]:
    """Record how the customer hands ``rma`` over (``attributes["method"]``), checked against what
    the brand offers; a changed choice is audited and queued to the WMS feed."""
    order = session.get(Order, rma.order_id)
    if order is None or rma.brand_id != brand.id:
        raise ReturnError("unknown_return", _l("No such return."))
    if rma.state not in CHOOSING_STATES:
        raise ReturnError("state", _l("This return can no longer change how it is sent."))
    if choice.method not in offered_methods(brand, order):
        raise ReturnError("method", _l("This way of returning is not offered for this order."))
    record: dict[str, Any] = {"kind": str(choice.method)}
    if choice.method in DROPOFF_METHODS:
        point = session.get(DropOffPoint, choice.dropoff_id) if choice.dropoff_id else None
        if point is None or point.brand_id != brand.id or point.kind != choice.method:
            raise ReturnError("dropoff", _l("Choose a drop-off point from the list."))
        record["dropoff"] = {
            "code": point.code,
            "name": point.name,
            "postal_code": point.postal_code,
            "address": point.address,
        }
    if choice.method == ReturnMethod.pickup:
        part = settings_for(brand).returns
        today = to_local(now, brand.timezone).date()
        if choice.pickup_date not in pickup_dates(part, brand_calendar(brand), today):
            raise ReturnError("pickup_date", _l("Choose a pickup date from the list."))
        if choice.pickup_slot is None or choice.pickup_slot not in part.pickup_slots:
            raise ReturnError("pickup_slot", _l("Choose a pickup time from the list."))
        record["pickup_date"] = choice.pickup_date.isoformat() if choice.pickup_date else None
        record["pickup_slot"] = str(choice.pickup_slot)
    before = (rma.attributes or {}).get("method")
    if before is not None and {k: v for k, v in before.items() if k != "chosen_at"} == record:
        return dict(before)
    record["chosen_at"] = now.isoformat()
    rma.attributes = {**(rma.attributes or {}), "method": record}
    rma.updated_at = now
    session.add(rma)
    audit.record(
        session=session,
        brand_id=rma.brand_id,
        actor=ACTOR,
        action="return.method",
        subject=rma.rma_number,
        before=before,
        after=record,
    )
    session.flush()
    from postpurchase.returns import wms

    wms.queue_method(session=session, rma=rma, now=now)
    return record


def chosen_method(rma: ReturnRequest) -> dict[str, Any] | None:
    return (rma.attributes or {}).get("method")


# Carrier API labels ---------------------------------------------------------------------------


def label_request(*, session: Session, brand: Brand, rma: ReturnRequest) -> ReturnLabelRequest:
    """The return parcel as a carrier sees it: from the order's recipient to the brand's centre."""
    from postpurchase.returns.shipping_label import return_view

    view = return_view(session=session, brand=brand, return_id=id_of(rma))
    if view is None:
        raise ReturnError("unknown_return", _l("No such return."))
    order, centre = view.order, view.centre
    street = list(view.address)
    return ReturnLabelRequest(
        reference=rma.rma_number,
        sender=LabelAddress(
            name=order.shipping_name or "",
            street1=str((order.attributes or {}).get("shipping_street") or ""),
            city=order.shipping_city or "",
            state=order.shipping_region or "",
            postal_code=order.shipping_postal_code or "",
            country=order.shipping_country or "",
            phone=order.phone or "",
            email=order.email or "",
        ),
        recipient=LabelAddress(
            name=(centre.name if centre else None) or brand.name,
            street1=(centre.street if centre else None) or (street[0] if street else ""),
            city=(centre.city if centre else None) or "",
            state=(centre.region if centre else None) or "",
            postal_code=(centre.postal_code if centre else None) or "",
            country=brand.country,
            phone=(centre.phone if centre else None) or "",
        ),
        weight_g=DEFAULT_WEIGHT_G,
        service=settings_for(brand).returns.label_service,
    )


def start_carrier_label(
    *, session: Session, rma: ReturnRequest, buyer: ReturnLabelBuyer, request: ReturnLabelRequest
) -> str:
    """Create the carrier's return shipment once (its id is kept in ``attributes["carrier_label"]``;
    the caller commits before buying, so a retry finds it and never creates or buys a second)."""
    record = dict((rma.attributes or {}).get("carrier_label") or {})
    if record.get("shipment_id"):
        return str(record["shipment_id"])
    record["shipment_id"] = buyer.create_return_shipment(request)
    rma.attributes = {**(rma.attributes or {}), "carrier_label": record}
    session.add(rma)
    session.flush()
    return str(record["shipment_id"])


def finish_carrier_label(
    *,
    session: Session,
    rma: ReturnRequest,
    buyer: ReturnLabelBuyer,
    request: ReturnLabelRequest,
    now: datetime,
) -> PurchasedLabel | dict[str, Any]:
    """Buy (or read back) the label of the shipment :func:`start_carrier_label` created, store its
    URL and tracking number on the RMA, and track the parcel; a label already stored is returned."""
    record = dict((rma.attributes or {}).get("carrier_label") or {})
    if record.get("label_url"):
        return record
    label = buyer.buy_label(str(record["shipment_id"]), request)
    record.update(
        carrier=label.carrier,
        tracking_number=label.tracking_number,
        label_url=label.label_url,
        amount=label.amount,
        currency=label.currency,
        bought_at=now.isoformat(),
    )
    rma.attributes = {**(rma.attributes or {}), "carrier_label": record}
    session.add(rma)
    audit.record(
        session=session,
        brand_id=rma.brand_id,
        actor="system",
        action="return.carrier_label",
        subject=rma.rma_number,
        before=None,
        after=record,
    )
    track_return_parcel(
        session=session,
        rma=rma,
        carrier_code=label.carrier,
        tracking_number=label.tracking_number,
        now=now,
    )
    return label


def track_return_parcel(
    *, session: Session, rma: ReturnRequest, carrier_code: str, tracking_number: str, now: datetime
) -> Shipment:
    """Make the return parcel a tracked shipment linked to the RMA (``external_id`` ``rma:<number>``,
    one per RMA), and note its carrier and number on the RMA."""
    rma.return_carrier_code = carrier_code
    rma.return_tracking_number = tracking_number
    rma.updated_at = now
    session.add(rma)
    external_id = return_shipment_id(rma)
    shipment = session.exec(
        select(Shipment).where(
            Shipment.brand_id == rma.brand_id, Shipment.external_id == external_id
        )
    ).first()
    if shipment is None:
        shipment = Shipment(
            brand_id=rma.brand_id,
            order_id=rma.order_id,
            external_id=external_id,
            carrier_code=carrier_code,
            tracking_number=tracking_number,
            next_poll_at=now,
            created_at=now,
            updated_at=now,
        )
    else:
        shipment.carrier_code = carrier_code
        shipment.tracking_number = tracking_number
        shipment.updated_at = now
    session.add(shipment)
    session.flush()
    return shipment


def return_shipment_id(rma: ReturnRequest) -> str:
    """The ``Shipment.external_id`` of ``rma``'s return parcel."""
    return f"rma:{rma.rma_number}"
