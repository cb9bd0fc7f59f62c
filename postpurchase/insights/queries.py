"""Delivery figures of one brand over a period of local dates: per shipping method, per region, NPS, returns.

A parcel belongs to the period when it was handed to the carrier (``shipped_at``) on one of its
local dates, in the brand's timezone. Counts and sums are aggregated in SQL; medians, percentiles
and calendar days (which need the timezone) are computed in Python over the few columns fetched.
Money figures only count amounts in the brand's currency, so a mean never mixes yen and dollars.
A return belongs to the period when it was requested (``ReturnRequest.created_at``) on one of its local dates.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, distinct, func, or_
from sqlmodel import Session, col, select

from postpurchase.models import Brand, Feedback, Order, ReturnLine, ReturnRequest, Shipment


@dataclass(frozen=True)
class MethodRow:
    """One shipping method (carrier + service) over the period; money in minor units of ``currency``."""

    carrier_code: str
    service: str
    parcels: int
    delivered: int
    currency: str
    mean_cost: int | None
    median_cost: int | None
    median_days: float | None
    p90_days: int | None
    #: Delivered parcels that had a promised date, and how many of them arrived by it.
    promised: int
    on_time: int
    mean_order_total: int | None

    @property
    def on_time_share(self) -> float | None:
        return self.on_time / self.promised if self.promised else None


@dataclass(frozen=True)
class RegionRow:
    """Delivery days of parcels delivered to one destination region by one carrier."""

    region: str
    carrier_code: str
    delivered: int
    median_days: float
    p90_days: int


@dataclass(frozen=True)
class Nps:
    """Net Promoter Score: % promoters (9–10) minus % detractors (0–6), from -100 to 100."""

    responses: int
    promoters: int
    passives: int
    detractors: int

    @property
    def score(self) -> int:
        return round(100 * (self.promoters - self.detractors) / self.responses)


@dataclass(frozen=True)
class ReasonRow:
    """Units returned for one reason code, and their share of all units returned in the period."""

    reason_code: str
    units: int
    share: float


@dataclass(frozen=True)
class Report:
    start: date
    end: date
    currency: str
    methods: list[MethodRow]
    regions: list[RegionRow]
    #: None when no customer gave a score in the period.
    nps: Nps | None
    reasons: list[ReasonRow]


def period_bounds(start: date, end: date, timezone: str) -> tuple[datetime, datetime]:
    """UTC instants of the first moment of ``start`` and of the day after ``end``, local to ``timezone``."""
    zone = ZoneInfo(timezone)
    lower = datetime.combine(start, time.min, zone).astimezone(UTC)
    upper = datetime.combine(end + timedelta(days=1), time.min, zone).astimezone(UTC)
    return lower, upper


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``share`` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _days(shipped_at: datetime, delivered_at: datetime, zone: ZoneInfo) -> int:
    """Calendar days between hand-over and delivery in the brand's timezone (same day = 0)."""
    return (delivered_at.astimezone(zone).date() - shipped_at.astimezone(zone).date()).days


def _in_period(brand_id: int, lower: datetime, upper: datetime) -> list[object]:
    return [
        Shipment.brand_id == brand_id,
        col(Shipment.shipped_at) >= lower,
        col(Shipment.shipped_at) < upper,
    ]


def _in_currency(currency: str) -> object:
    return or_(col(Shipment.cost_currency).is_(None), Shipment.cost_currency == currency)


def shipping_methods(*, session: Session, brand_id: int, start: date, end: date) -> list[MethodRow]:
    """Parcels, cost, delivery days, promise keeping and order spend per carrier and service."""
    brand = _brand(session, brand_id)
    zone = ZoneInfo(brand.timezone)
    where = _in_period(brand_id, *period_bounds(start, end, brand.timezone))
    priced = (col(Shipment.cost_amount).is_not(None)) & _in_currency(brand.currency)
    method = (Shipment.carrier_code, Shipment.service)
    counts = session.exec(
        select(
            *method,
            func.count(),
            func.count(Shipment.delivered_at),
            func.sum(case((priced, Shipment.cost_amount), else_=0)),
            func.count(case((priced, 1))),
        )
        .where(*where)
        .group_by(*method)
    ).all()
    costs: dict[tuple[str, str], list[int]] = defaultdict(list)
    for carrier, service, amount in session.exec(
        select(*method, Shipment.cost_amount).where(*where, priced)
    ):
        costs[carrier, service].append(amount)
    days: dict[tuple[str, str], list[int]] = defaultdict(list)
    on_time: dict[tuple[str, str], list[bool]] = defaultdict(list)
    delivered = session.exec(
        select(*method, Shipment.shipped_at, Shipment.delivered_at, Shipment.promised_date).where(
            *where, col(Shipment.delivered_at).is_not(None)
        )
    ).all()
    for carrier, service, shipped_at, delivered_at, promised in delivered:
        days[carrier, service].append(_days(shipped_at, delivered_at, zone))
        if promised is not None:
            on_time[carrier, service].append(delivered_at.astimezone(zone).date() <= promised)
    spend = _order_spend(session, where, brand.currency)
    rows = []
    for carrier, service, parcels, delivered_count, cost_sum, cost_count in counts:
        key = (carrier, service)
        median_cost = _median(costs[key])
        rows.append(
            MethodRow(
                carrier_code=carrier,
                service=service,
                parcels=parcels,
                delivered=delivered_count,
                currency=brand.currency,
                mean_cost=round(int(cost_sum) / cost_count) if cost_count else None,
                median_cost=None if median_cost is None else round(median_cost),
                median_days=_median(days[key]),
                p90_days=int(percentile(days[key], 0.9)) if days[key] else None,
                promised=len(on_time[key]),
                on_time=sum(on_time[key]),
                mean_order_total=spend.get(key),
            )
        )
    return sorted(rows, key=lambda row: (-row.parcels, row.carrier_code, row.service))


def _order_spend(
    session: Session, where: Iterable[object], currency: str
) -> dict[tuple[str, str], int]:
    """Mean order total per method; an order counts once per method however many parcels it has."""
    orders = (
        select(Shipment.carrier_code, Shipment.service, Order.id, Order.total_amount)
        .join(Order, col(Order.id) == Shipment.order_id)
        .where(*where, Order.currency == currency)
        .distinct()
        .subquery()
    )
    result = session.exec(
        select(
            orders.c.carrier_code,
            orders.c.service,
            func.sum(orders.c.total_amount),
            func.count(distinct(orders.c.id)),
        ).group_by(orders.c.carrier_code, orders.c.service)
    ).all()
    return {
        (carrier, service): round(int(total) / count) for carrier, service, total, count in result
    }


def delivery_days_by_region(
    *, session: Session, brand_id: int, start: date, end: date
) -> list[RegionRow]:
    """Median and P90 calendar days from hand-over to delivery per destination region and carrier."""
    brand = _brand(session, brand_id)
    zone = ZoneInfo(brand.timezone)
    where = _in_period(brand_id, *period_bounds(start, end, brand.timezone))
    days: dict[tuple[str, str], list[int]] = defaultdict(list)
    rows = session.exec(
        select(
            Shipment.destination_region,
            Shipment.carrier_code,
            Shipment.shipped_at,
            Shipment.delivered_at,
        ).where(*where, col(Shipment.delivered_at).is_not(None))
    )
    for region, carrier, shipped_at, delivered_at in rows:
        days[region or "", carrier].append(_days(shipped_at, delivered_at, zone))
    return [
        RegionRow(
            region=region,
            carrier_code=carrier,
            delivered=len(values),
            median_days=statistics.median(values),
            p90_days=int(percentile(values, 0.9)),
        )
        for (region, carrier), values in sorted(days.items())
    ]


def nps(*, session: Session, brand_id: int, start: date, end: date) -> Nps | None:
    """NPS of the scores customers gave on the period's local dates; None when nobody scored."""
    brand = _brand(session, brand_id)
    lower, upper = period_bounds(start, end, brand.timezone)
    score = Feedback.nps_score

    def tally(condition: object) -> object:
        return func.count(case((condition, 1)))

    responses, promoters, detractors = session.exec(
        select(func.count(score), tally(col(score) >= 9), tally(col(score) <= 6)).where(
            Feedback.brand_id == brand_id,
            col(score).is_not(None),
            col(Feedback.created_at) >= lower,
            col(Feedback.created_at) < upper,
        )
    ).one()
    if not responses:
        return None
    return Nps(
        responses=responses,
        promoters=promoters,
        passives=responses - promoters - detractors,
        detractors=detractors,
    )


def return_reasons(*, session: Session, brand_id: int, start: date, end: date) -> list[ReasonRow]:
    """Returned units per reason code for returns requested on the period's local dates, most units first."""
    brand = _brand(session, brand_id)
    lower, upper = period_bounds(start, end, brand.timezone)
    units = func.sum(ReturnLine.quantity)
    rows = session.exec(
        select(ReturnLine.reason_code, units)
        .join(ReturnRequest, col(ReturnRequest.id) == ReturnLine.return_id)
        .where(
            ReturnRequest.brand_id == brand_id,
            ReturnLine.brand_id == brand_id,
            col(ReturnRequest.created_at) >= lower,
            col(ReturnRequest.created_at) < upper,
        )
        .group_by(ReturnLine.reason_code)
    ).all()
    total = sum(int(count) for _, count in rows)
    return sorted(
        (
            ReasonRow(reason_code=code, units=int(count), share=int(count) / total)
            for code, count in rows
            if count
        ),
        key=lambda row: (-row.units, row.reason_code),
    )


def report(*, session: Session, brand_id: int, start: date, end: date) -> Report:
    """Everything the insights page, CSV and PDF show for one period."""
    period = {"session": session, "brand_id": brand_id, "start": start, "end": end}
    return Report(
        start=start,
        end=end,
        currency=_brand(session, brand_id).currency,
        methods=shipping_methods(**period),
        regions=delivery_days_by_region(**period),
        nps=nps(**period),
        reasons=return_reasons(**period),
    )


def _brand(session: Session, brand_id: int) -> Brand:
    brand = session.get(Brand, brand_id)
    if brand is None:
        raise LookupError(f"no brand {brand_id}")
    return brand
