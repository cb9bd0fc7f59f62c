"""What the console reads: the dashboard's figures, the shipment search, a parcel's whole story and
the exception queue. Functions of a session, a brand and a period; no request, no formatting."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import Session, col, select

from carriers.status import Status
from postpurchase.console.problems import Finding, Problem, Rules, classify, silent_since
from postpurchase.edd.service import BrandEdd
from postpurchase.insights.figures import GROUPS, ROLLUP_COLUMNS
from postpurchase.models import (
    Brand,
    CarrierResponse,
    Customer,
    DeliveryPrediction,
    ExceptionCase,
    InternalNote,
    MerchantUser,
    Order,
    OrderKit,
    OutboxMessage,
    OutboxState,
    ReturnRequest,
    ReturnState,
    Shipment,
    ShipmentFigures,
    TrackingEvent,
)
from postpurchase.pagination import Page, SortKey, paginate
from postpurchase.readmodels import OrderView, ShipmentView, load_order, shipment_views
from postpurchase.settings.model import settings_for


@dataclass(frozen=True)
class Period:
    """Local dates ``start`` to ``end`` inclusive, in the brand's timezone."""

    start: date
    end: date
    timezone: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        end = self.start - timedelta(days=1)
        return Period(end - timedelta(days=self.days - 1), end, self.timezone)

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as UTC moments ``[from, to)``."""
        zone = ZoneInfo(self.timezone)
        return (
            datetime.combine(self.start, time(), zone),
            datetime.combine(self.end + timedelta(days=1), time(), zone),
        )


def _id(brand: Brand) -> int:
    if brand.id is None:
        raise ValueError("a stored brand has an id")
    return brand.id


def rules_for(brand: Brand) -> Rules:
    """The queue's thresholds for ``brand``: its delivery calendar, timezone and settings."""
    settings = settings_for(brand)
    return Rules(
        calendar=BrandEdd.of(brand).calendar,
        timezone=brand.timezone,
        stall_business_days=settings.exceptions.stalled_business_days,
        lost_business_days=settings.exceptions.lost_business_days,
        holding_days=settings.messaging.pickup_hold_days,
    )


# Dashboard ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    shipments: int
    delivered_with_promise: int
    delivered_on_time: int
    exceptions: int
    failed_attempts: int
    messages_failed_or_held: int

    @property
    def on_time_rate(self) -> float | None:
        if not self.delivered_with_promise:
            return None
        return self.delivered_on_time / self.delivered_with_promise


@dataclass(frozen=True)
class Dashboard:
    period: Period
    current: Figures
    previous: Figures
    late_now: int
    stalled_now: int
    returns_awaiting: int


#: Returns that wait for the merchant: a request to approve, a parcel received to refund or exchange.
RETURNS_AWAITING = (ReturnState.requested, ReturnState.received)
MESSAGES_NEEDING_A_LOOK = (OutboxState.failed, OutboxState.held)


def _count(session: Session, query: Any) -> int:
    return int(session.exec(query).one() or 0)


def _scanned(
    session: Session, brand_id: int, status: Status, start: datetime, end: datetime
) -> int:
    """Parcels with at least one scan of ``status`` in ``[start, end)``."""
    return _count(
        session,
        select(func.count(func.distinct(TrackingEvent.shipment_id))).where(
            TrackingEvent.brand_id == brand_id,
            TrackingEvent.status == status,
            col(TrackingEvent.occurred_at) >= start,
            col(TrackingEvent.occurred_at) < end,
        ),
    )


def period_figures(*, session: Session, brand_id: int, period: Period) -> Figures:
    start, end = period.bounds()
    shipped = _count(
        session,
        select(func.count(col(Shipment.id))).where(
            Shipment.brand_id == brand_id,
            col(Shipment.shipped_at) >= start,
            col(Shipment.shipped_at) < end,
        ),
    )
    delivered = session.exec(
        select(col(Shipment.delivered_at), col(Shipment.promised_date)).where(
            Shipment.brand_id == brand_id,
            col(Shipment.delivered_at) >= start,
            col(Shipment.delivered_at) < end,
            col(Shipment.promised_date).is_not(None),
        )
    ).all()
    zone = ZoneInfo(period.timezone)
    on_time = sum(
        1
        for at, promised in delivered
        if at is not None and promised is not None and at.astimezone(zone).date() <= promised
    )
    messages = _count(
        session,
        select(func.count(col(OutboxMessage.id))).where(
            OutboxMessage.brand_id == brand_id,
            col(OutboxMessage.state).in_(MESSAGES_NEEDING_A_LOOK),
            col(OutboxMessage.created_at) >= start,
            col(OutboxMessage.created_at) < end,
        ),
    )
    return Figures(
        shipments=shipped,
        delivered_with_promise=len(delivered),
        delivered_on_time=on_time,
        exceptions=_scanned(session, brand_id, Status.exception, start, end),
        failed_attempts=_scanned(session, brand_id, Status.attempt_fail, start, end),
        messages_failed_or_held=messages,
    )


def dashboard(*, session: Session, brand: Brand, period: Period, today: date) -> Dashboard:
    """The period's figures beside the previous period's, and what stands open today."""
    queue = problem_counts(session=session, brand=brand, today=today)
    return Dashboard(
        period=period,
        current=period_figures(session=session, brand_id=_id(brand), period=period),
        previous=period_figures(session=session, brand_id=_id(brand), period=period.previous()),
        late_now=queue.get(Problem.late, 0),
        stalled_now=queue.get(Problem.stalled, 0),
        returns_awaiting=_count(
            session,
            select(func.count(col(ReturnRequest.id))).where(
                ReturnRequest.brand_id == _id(brand), col(ReturnRequest.state).in_(RETURNS_AWAITING)
            ),
        ),
    )


# Search ---------------------------------------------------------------------------------------


class Sort(StrEnum):
    newest = "newest"
    oldest = "oldest"


@dataclass(frozen=True)
class SearchFilters:
    #: An order number, tracking number, customer email or phone.
    text: str | None = None
    status: Status | None = None
    carrier: str | None = None
    #: Local dates the parcel was handed over (or, with ``scan``, scanned with that status).
    start: date | None = None
    end: date | None = None
    #: Only parcels with a scan of this status in the date range.
    scan: Status | None = None
    service: str | None = None
    #: Destination region as sent (e.g. a prefecture).
    region: str | None = None
    #: Local order dates (the insights period), so an insights figure links to the parcels behind it.
    ordered_start: date | None = None
    ordered_end: date | None = None
    #: Insights groupings (``insights.figures.GROUPS``) and the value a parcel has for each, None
    #: for none: the parcels behind one row of an insights table, as its rollup groups them.
    groups: Mapping[str, str | None] = field(default_factory=dict)


#: The list's query parameter for each insights grouping (``without`` lists those a row has no
#: value for), so an insights figure links to exactly the parcels behind it.
GROUP_PARAMS: dict[str, str] = {
    name: "region" if name == "destination_region" else name for name in GROUPS
}


def group_args(group: Mapping[str, str | None]) -> dict[str, str]:
    """The list's query parameters that select the parcels of an insights row's ``group``."""
    args = {GROUP_PARAMS[name]: value for name, value in group.items() if value}
    missing = [GROUP_PARAMS[name] for name, value in group.items() if not value]
    if missing:
        args["without"] = ",".join(missing)
    return args


def _in_groups(brand_id: int, groups: Mapping[str, str | None]) -> Any:
    """Ids of the brand's parcels whose rollup row has each of ``groups``' values (None: no value,
    empty or none, as a query string cannot tell them apart)."""
    query = select(ShipmentFigures.shipment_id).where(ShipmentFigures.brand_id == brand_id)
    for name, value in groups.items():
        column = col(getattr(ShipmentFigures, ROLLUP_COLUMNS[name]))
        query = query.where(
            or_(column.is_(None), column == "") if value is None else column == value
        )
    return query


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _text_match(brand_id: int, text: str) -> Any:
    """Parcels whose order number, tracking number, customer email or phone is ``text``."""
    text = text.strip()
    lowered = text.lower()
    numbers = {text, text.lstrip("#"), "#" + text.lstrip("#")}
    orders = select(Order.id).where(Order.brand_id == brand_id)
    customers = select(Customer.id).where(Customer.brand_id == brand_id)
    conditions: list[ColumnElement[bool]] = [
        col(Order.number).in_(numbers),
        func.lower(Order.email) == lowered,
        col(Order.customer_id).in_(customers.where(func.lower(Customer.email) == lowered)),
    ]
    digits = _digits(text)
    if len(digits) >= 6:  # a phone number, written with or without hyphens
        conditions += [
            col(Order.phone) == text,
            func.replace(Order.phone, "-", "") == digits,
            col(Order.customer_id).in_(
                customers.where(
                    or_(
                        col(Customer.phone) == text, func.replace(Customer.phone, "-", "") == digits
                    )
                )
            ),
        ]
    return or_(
        func.replace(Shipment.tracking_number, "-", "") == text.replace("-", ""),
        col(Shipment.order_id).in_(orders.where(or_(*conditions))),
    )


@dataclass(frozen=True)
class SearchRow:
    shipment: ShipmentView
    order_number: str | None


def search_shipments(
    *,
    session: Session,
    brand: Brand,
    filters: SearchFilters,
    sort: Sort = Sort.newest,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[SearchRow]:
    query = select(Shipment).where(Shipment.brand_id == _id(brand))
    if filters.text:
        query = query.where(_text_match(_id(brand), filters.text))
    if filters.status is not None:
        query = query.where(Shipment.status == filters.status)
    if filters.carrier:
        query = query.where(Shipment.carrier_code == filters.carrier)
    if filters.service:
        query = query.where(Shipment.service == filters.service)
    if filters.region:
        query = query.where(Shipment.destination_region == filters.region)
    if filters.ordered_start or filters.ordered_end:
        ordered = select(ShipmentFigures.shipment_id).where(ShipmentFigures.brand_id == _id(brand))
        if filters.ordered_start:
            ordered = ordered.where(col(ShipmentFigures.order_day) >= filters.ordered_start)
        if filters.ordered_end:
            ordered = ordered.where(col(ShipmentFigures.order_day) <= filters.ordered_end)
        query = query.where(col(Shipment.id).in_(ordered))
    if filters.groups:
        query = query.where(col(Shipment.id).in_(_in_groups(_id(brand), filters.groups)))
    zone = ZoneInfo(brand.timezone)
    start = datetime.combine(filters.start, time(), zone) if filters.start else None
    end = datetime.combine(filters.end + timedelta(days=1), time(), zone) if filters.end else None
    if filters.scan is not None:
        scans = select(TrackingEvent.shipment_id).where(
            TrackingEvent.brand_id == _id(brand), TrackingEvent.status == filters.scan
        )
        if start:
            scans = scans.where(col(TrackingEvent.occurred_at) >= start)
        if end:
            scans = scans.where(col(TrackingEvent.occurred_at) < end)
        query = query.where(col(Shipment.id).in_(scans))
    else:
        if start:
            query = query.where(col(Shipment.shipped_at) >= start)
        if end:
            query = query.where(col(Shipment.shipped_at) < end)
    page = paginate(
        session,
        query,
        sort=SortKey(col(Shipment.created_at), col(Shipment.id), descending=sort == Sort.newest),
        cursor=cursor,
        limit=limit,
        key=lambda row: (row.created_at, row.id),
    )
    order_ids = {row.order_id for row in page.rows if row.order_id is not None}
    numbers = (
        dict(session.exec(select(Order.id, Order.number).where(col(Order.id).in_(order_ids))).all())
        if order_ids
        else {}
    )
    views = shipment_views(session=session, shipments=page.rows)
    return Page(
        [
            SearchRow(view, numbers.get(row.order_id or 0))
            for view, row in zip(views, page.rows, strict=True)
        ],
        page.next_cursor,
    )


def carriers_in_use(*, session: Session, brand_id: int) -> list[str]:
    """The carriers of the brand's parcels, in order: one index probe per carrier for the next
    code after the last (a DISTINCT read every parcel of the brand: 20 ms at 56,000)."""
    found: list[str] = []
    while True:
        query = select(func.min(Shipment.carrier_code)).where(Shipment.brand_id == brand_id)
        if found:
            query = query.where(col(Shipment.carrier_code) > found[-1])
        code = session.exec(query).one()
        if code is None:
            return found
        found.append(code)


# A parcel's story -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageLine:
    message: OutboxMessage
    opens: int
    clicks: int


@dataclass(frozen=True)
class KitLine:
    """The order's unboxing kit and the outbox row that tells the WMS (None: nothing sent)."""

    kit: OrderKit
    message: OutboxMessage | None


@dataclass(frozen=True)
class Case:
    """Everything support needs about one parcel: its order, its siblings, and what happened."""

    shipment: ShipmentView
    order: OrderView | None
    #: Every parcel of the order (just this one when it has no order).
    parcels: list[ShipmentView]
    predictions: dict[int, list[DeliveryPrediction]]
    messages: list[MessageLine]
    returns: list[ReturnRequest]
    carrier_answers: list[CarrierResponse]
    notes: list[InternalNote]
    finding: Finding | None
    case: ExceptionCase | None
    kit: KitLine | None = None


def shipment_case(*, session: Session, brand: Brand, shipment_id: int, today: date) -> Case | None:
    """The parcel ``shipment_id`` of ``brand`` with its whole story; None if it is not the brand's."""
    from postpurchase.messaging.operations import event_counts

    row = session.get(Shipment, shipment_id)
    if row is None or row.brand_id != _id(brand):
        return None
    order = (
        load_order(session=session, brand=brand, order_id=row.order_id)
        if row.order_id is not None
        else None
    )
    parcels = (
        list(order.shipments)
        if order and order.shipments
        else shipment_views(session=session, shipments=[row])
    )
    parcels.sort(key=lambda parcel: parcel.id != shipment_id)  # the parcel asked about first
    ids = [p.id for p in parcels]
    predictions: dict[int, list[DeliveryPrediction]] = {i: [] for i in ids}
    for prediction in session.exec(
        select(DeliveryPrediction)
        .where(
            DeliveryPrediction.brand_id == _id(brand), col(DeliveryPrediction.shipment_id).in_(ids)
        )
        .order_by(col(DeliveryPrediction.made_at), col(DeliveryPrediction.id))
    ):
        predictions[prediction.shipment_id or 0].append(prediction)
    about: ColumnElement[bool] = col(OutboxMessage.shipment_id).in_(ids)
    if row.order_id is not None:
        about = or_(about, col(OutboxMessage.order_id) == row.order_id)
    messages = list(
        session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.brand_id == _id(brand), about)
            .order_by(col(OutboxMessage.created_at), col(OutboxMessage.id))
        )
    )
    counts = event_counts(session=session, message_ids=[m.id for m in messages if m.id])
    noted: ColumnElement[bool] = col(InternalNote.shipment_id).in_(ids)
    if row.order_id is not None:
        noted = or_(noted, col(InternalNote.order_id) == row.order_id)
    return Case(
        shipment=next(p for p in parcels if p.id == shipment_id),
        order=order,
        parcels=parcels,
        predictions=predictions,
        messages=[
            MessageLine(m, counts.get((m.id or 0, "open"), 0), counts.get((m.id or 0, "click"), 0))
            for m in messages
        ],
        returns=list(
            session.exec(
                select(ReturnRequest)
                .where(ReturnRequest.brand_id == _id(brand), ReturnRequest.order_id == row.order_id)
                .order_by(col(ReturnRequest.id))
            )
        )
        if row.order_id is not None
        else [],
        carrier_answers=list(
            session.exec(
                select(CarrierResponse)
                .where(
                    CarrierResponse.brand_id == _id(brand),
                    col(CarrierResponse.shipment_id).in_(ids),
                )
                .order_by(col(CarrierResponse.received_at).desc(), col(CarrierResponse.id).desc())
                .limit(20)
            )
        ),
        notes=list(
            session.exec(
                select(InternalNote)
                .where(InternalNote.brand_id == _id(brand), noted)
                .order_by(col(InternalNote.created_at).desc(), col(InternalNote.id).desc())
            )
        ),
        finding=classify(row, today=today, rules=rules_for(brand)),
        case=_case_of(session, _id(brand), shipment_id),
        kit=_kit_of(session, _id(brand), row.order_id),
    )


def _kit_of(session: Session, brand_id: int, order_id: int | None) -> KitLine | None:
    kit = session.exec(
        select(OrderKit).where(OrderKit.brand_id == brand_id, OrderKit.order_id == order_id)
    ).first()
    if kit is None:
        return None
    message = (
        session.exec(
            select(OutboxMessage).where(
                OutboxMessage.brand_id == brand_id,
                OutboxMessage.idempotency_key == kit.message_key,
            )
        ).first()
        if kit.message_key
        else None
    )
    return KitLine(kit, message)


def owns_shipment(*, session: Session, brand_id: int, shipment_id: int) -> bool:
    row = session.get(Shipment, shipment_id)
    return row is not None and row.brand_id == brand_id


def _case_of(session: Session, brand_id: int, shipment_id: int) -> ExceptionCase | None:
    return session.exec(
        select(ExceptionCase).where(
            ExceptionCase.brand_id == brand_id, ExceptionCase.shipment_id == shipment_id
        )
    ).first()


# Exception queue ------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    shipment: Shipment
    finding: Finding
    case: ExceptionCase | None
    assignee: MerchantUser | None


def _candidates(session: Session, brand: Brand, rules: Rules, today: date) -> list[Shipment]:
    """Parcels that may have a problem (a superset, picked in SQL); :func:`classify` decides."""
    trouble = (
        Status.returning_to_sender,
        Status.returned,
        Status.expired,
        Status.exception,
        Status.attempt_fail,
        Status.available_for_pickup,
    )
    last_scan = func.coalesce(Shipment.last_event_at, Shipment.shipped_at)
    silent = silent_since(rules, today, min(rules.stall_business_days, rules.lost_business_days))
    return list(
        session.exec(
            select(Shipment).where(
                Shipment.brand_id == _id(brand),
                Shipment.status != Status.delivered,
                col(Shipment.cancelled_at).is_(None),
                or_(
                    col(Shipment.status).in_(trouble),
                    col(Shipment.promised_date) < today,
                    last_scan < silent,
                ),
            )
        )
    )


def _is_open(case: ExceptionCase | None, finding: Finding, today: date) -> bool:
    if case is None:
        return True
    if case.resolved_at is not None and case.resolved_kind == finding.problem:
        return False
    return not (case.snoozed_until is not None and case.snoozed_until > today)


def exception_queue(
    *,
    session: Session,
    brand: Brand,
    today: date,
    problem: Problem | None = None,
    carrier: str | None = None,
    include_waiting: bool = False,
) -> list[QueueItem]:
    """The brand's parcels in trouble, oldest problem first; resolved and snoozed ones only with
    ``include_waiting``."""
    rules = rules_for(brand)
    found = [
        (shipment, finding)
        for shipment in _candidates(session, brand, rules, today)
        if (finding := classify(shipment, today=today, rules=rules)) is not None
    ]
    cases = {
        c.shipment_id: c
        for c in session.exec(
            select(ExceptionCase).where(
                ExceptionCase.brand_id == _id(brand),
                col(ExceptionCase.shipment_id).in_([s.id for s, _ in found]),
            )
        )
    }
    users = {
        u.id: u
        for u in session.exec(select(MerchantUser).where(MerchantUser.brand_id == _id(brand)))
    }
    items = [
        QueueItem(
            s,
            f,
            cases.get(s.id or 0),
            users.get(cases[s.id].assignee_id) if s.id in cases else None,
        )
        for s, f in found
        if (problem is None or f.problem == problem)
        and (carrier is None or s.carrier_code == carrier)
        and (include_waiting or _is_open(cases.get(s.id or 0), f, today))
    ]
    return sorted(items, key=lambda item: (item.finding.since, item.shipment.id or 0))


def problem_counts(*, session: Session, brand: Brand, today: date) -> Counter[Problem]:
    return Counter(
        i.finding.problem for i in exception_queue(session=session, brand=brand, today=today)
    )


def carrier_counts(items: list[QueueItem]) -> list[tuple[str, int]]:
    return Counter(i.shipment.carrier_code for i in items).most_common()


def merchant_users(*, session: Session, brand_id: int) -> list[MerchantUser]:
    return list(
        session.exec(
            select(MerchantUser)
            .where(MerchantUser.brand_id == brand_id)
            .order_by(col(MerchantUser.email))
        )
    )
