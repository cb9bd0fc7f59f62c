"""The delivery figures of a brand over a period, grouped as asked: each figure defined once, here.

The API, and through it every export, reads these rows; the definitions below are the contract
(the README's "Delivery figures" section repeats them for people).

**Period.** A parcel belongs to the period when its order was placed (``Order.placed_at``) on one
of the period's local dates in the brand's timezone, first and last day included. A parcel
without an order has no order date and belongs to no period.

**Groups.** ``carrier`` (carrier code), ``service`` (the carrier's service code),
``fc`` (fulfilment centre code), ``destination_region`` (as sent, e.g. a prefecture),
``category`` (the first product category, in text order, among the order's lines),
``segment`` (``first``: the customer's first order not cancelled, or an order without a known
customer, as ``messaging.segments.Profile.first_order`` says; ``repeat``: the customer ordered
before), ``time_slot`` (the requested delivery time slot, 時間帯指定; none when none), ``month``
(``YYYY-MM`` of the local order date) and ``week`` (the Monday of the local order date's week,
``YYYY-MM-DD``). Several may be combined; ``carrier,service`` is the shipping method.

**Local dates and days.** A moment's local date is its date in the brand's timezone. Days are
whole calendar days between two local dates (delivered the day it was ordered = 0). Business days
are the days of ``(start, end]`` open in the brand's carrier calendar (``edd.calendar``: its
workdays, closures and the public holidays of the parcel's destination country, Japan when
unknown).

**Currencies.** An amount in another currency is converted on its local order date at the
brand's loaded reference rates (:mod:`postpurchase.insights.fx`); the period states the latest
rate date used (``rate_date``) and how many parcels had an amount no rate could convert
(``unconverted``), which the money figures leave out.

Figures of one row (money in minor units of the brand's currency; shares as fractions 0–1;
``None`` when the figure has no parcels to stand on):

``shipments``
    Parcels in the group.
``delivered``
    Parcels with a delivery time.
``cost_total``, ``cost_avg``
    Sum and mean of the carrier cost over parcels whose cost is known, in the brand's currency or
    converted to it (see *Currencies*).
``order_value_avg``
    Mean of the order total each parcel belongs to, in the brand's currency or converted to it
    (an order of two parcels counts twice).
``order_to_delivery_days_median``, ``order_to_delivery_days_p90``
    Median and 90th percentile of days from the local order date to the local delivery date, over
    delivered parcels. Percentiles are numpy's default (linear interpolation).
``transit_days_median``, ``transit_days_p90``
    The same from the local hand-over date (``shipped_at``), over delivered parcels with one.
``order_to_delivery_business_days_median``, ``order_to_delivery_business_days_p90``,
``transit_business_days_median``, ``transit_business_days_p90``
    The same four in business days.
``on_time_share``
    Delivered on or before the promised local date, over delivered parcels that had a promise.
``first_attempt_share``
    Delivered parcels with no failed delivery attempt, over delivered parcels.
``redelivery_rate``
    Failed delivery attempts of delivered parcels, over delivered parcels (再配達率).
``return_rate``
    Parcels whose order has a return request, over parcels.
``returned_units``
    Units on the return requests of the parcels' orders (an order of two parcels counts twice).
``nps``, ``nps_responses``, ``response_rate``
    Net Promoter Score (% promoters 9–10 minus % detractors 0–6, −100…100) over the scored
    feedback tied to the parcels; the number of those scores; and that number over delivered
    parcels.
``late``
    Delivered after the promised local date, among delivered parcels with a promise.
``late_complaints``
    Parcels with a late-delivery complaint: a return line of their order gives late delivery as
    its reason (:data:`LATE_REASONS`), or their feedback scored 0–6.
``late_complaints_late_share``
    Of the complaints on delivered parcels with a promise, the share whose parcel was late.
``return_rate_late``, ``return_rate_on_time``, ``nps_late``, ``nps_on_time``
    ``return_rate`` and ``nps`` over the late parcels, and over the on-time ones.

**Where parcels were left.** The group ``delivered_to`` is where the carrier says a delivered
parcel was left (``in_person``, ``delivery_box``, ``safe_place``, ``mailbox``, ``locker``,
``convenience_store``, ``post_office``, ``neighbour``, ``depot``; none when unsaid or
undelivered). ``unattended_share`` is delivered parcels left without a hand-over (delivery box,
safe place, mailbox, locker) over delivered parcels.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Date,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    event,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    union_all,
    update,
)
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from carriers.status import Handover
from postpurchase.edd.calendar import CarrierCalendar
from postpurchase.insights.fx import RateTable
from postpurchase.models import (
    Brand,
    Feedback,
    FulfillmentCentre,
    Order,
    OrderLine,
    ReturnLine,
    ReturnRequest,
    Shipment,
    ShipmentFigures,
)
from postpurchase.models.types import UTCDateTime, id_of, table_of
from postpurchase.settings.model import settings_for

#: Places a parcel is left without anyone taking it (``unattended_share``).
UNATTENDED = (Handover.delivery_box, Handover.safe_place, Handover.mailbox, Handover.locker)

GROUPS: tuple[str, ...] = (
    "carrier",
    "service",
    "fc",
    "destination_region",
    "category",
    "segment",
    "time_slot",
    "month",
    "week",
    "delivered_to",
)

#: Return reason codes that say the parcel came late.
LATE_REASONS: tuple[str, ...] = ("late", "late_delivery")

#: The 47 prefectures in the order of JIS X 0401 (北海道 01 … 沖縄県 47): how tables list them.
JIS_PREFECTURES: tuple[str, ...] = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県",
    "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県",
    "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府",
    "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県",
    "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県",
    "鹿児島県", "沖縄県",
)  # fmt: skip
_JIS_INDEX = {name: index for index, name in enumerate(JIS_PREFECTURES)}


@dataclass
class FigureRow:
    """The figures of one group; see the module docstring for each definition."""

    group: dict[str, str | None]
    shipments: int = 0
    delivered: int = 0
    cost_total: int | None = None
    cost_avg: float | None = None
    order_value_avg: float | None = None
    order_to_delivery_days_median: float | None = None
    order_to_delivery_days_p90: float | None = None
    transit_days_median: float | None = None
    transit_days_p90: float | None = None
    order_to_delivery_business_days_median: float | None = None
    order_to_delivery_business_days_p90: float | None = None
    transit_business_days_median: float | None = None
    transit_business_days_p90: float | None = None
    on_time_share: float | None = None
    first_attempt_share: float | None = None
    redelivery_rate: float | None = None
    return_rate: float | None = None
    returned_units: int = 0
    nps: float | None = None
    nps_responses: int = 0
    response_rate: float | None = None
    unattended_share: float | None = None
    late: int = 0
    late_complaints: int = 0
    late_complaints_late_share: float | None = None
    return_rate_late: float | None = None
    return_rate_on_time: float | None = None
    nps_late: float | None = None
    nps_on_time: float | None = None


#: Histogram figures: name → the rollup column of its days.
_HISTOGRAMS = {
    "order_to_delivery_days": "order_days",
    "transit_days": "transit_days",
    "order_to_delivery_business_days": "order_business_days",
    "transit_business_days": "transit_business_days",
}


@dataclass
class Figures:
    start: date
    end: date
    currency: str
    group_by: tuple[str, ...]
    rows: list[FigureRow] = field(default_factory=list)
    #: The latest exchange-rate date amounts in other currencies were converted at (None: none).
    rate_date: date | None = None
    #: Parcels with an amount in another currency and no rate for it: left out of the money figures.
    unconverted: int = 0


def percentile_of_counts(counts: Sequence[tuple[int, int]], share: float) -> float:
    """numpy's default (linear) percentile of values given as ``(value, how many)``, sorted by value.

    Equal to ``numpy.percentile(values, 100 * share)``, without expanding the values.
    """
    total = sum(n for _, n in counts)
    position = share * (total - 1)
    low = math.floor(position)
    fraction = position - low

    def value_at(index: int) -> int:
        seen = 0
        for value, n in counts:
            seen += n
            if index < seen:
                return value
        return counts[-1][0]

    a, b = value_at(low), value_at(min(low + 1, total - 1))
    # numpy's _lerp, so results agree to the last bit.
    return float(b - (b - a) * (1 - fraction)) if fraction >= 0.5 else float(a + (b - a) * fraction)


class _Sql:
    """Dialect-specific pieces: local dates in the brand's timezone and their labels."""

    def __init__(self, dialect: str, zone: ZoneInfo, lower: datetime, upper: datetime) -> None:
        self.dialect, self.zone = dialect, zone
        self.offsets = _offsets(zone, lower, upper)

    def local_date(self, column: Any) -> ColumnElement[Any]:
        if self.dialect == "postgresql":
            return cast(func.timezone(self.zone.key, column), Date)
        # SQLite has no time zones: shift by the offset in force at the moment (stored as UTC).
        (_, first), *changes = self.offsets
        shift: Any = literal(f"{first:+d} minutes")
        if changes:
            whens = []
            previous = first
            for since, minutes in changes:
                whens.append((column < since, f"{previous:+d} minutes"))
                previous = minutes
            shift = case(*whens, else_=f"{previous:+d} minutes")
        return func.date(column, shift)

    def days(self, later: Any, earlier: Any) -> ColumnElement[int]:
        if self.dialect == "postgresql":
            return cast(self.local_date(later) - self.local_date(earlier), Integer)
        return cast(
            func.julianday(self.local_date(later)) - func.julianday(self.local_date(earlier)),
            Integer,
        )

    def month(self, day: ColumnElement[Any]) -> ColumnElement[str]:
        if self.dialect == "postgresql":
            return func.to_char(day, "YYYY-MM")
        return func.substr(day, 1, 7)

    def week(self, day: ColumnElement[Any]) -> ColumnElement[str]:
        if self.dialect == "postgresql":
            return func.to_char(func.date_trunc("week", day), "YYYY-MM-DD")
        back = (cast(func.strftime("%w", day), Integer) + 6) % 7
        return func.date(day, literal("-").concat(cast(back, String)).concat(" days"))


@cache
def _offsets(zone: ZoneInfo, start: datetime, end: datetime) -> tuple[tuple[datetime, int], ...]:
    """``((from UTC moment, offset minutes), ...)`` of ``zone`` between ``start`` and ``end``.

    Cached: the rollup's span is 45 years, ~16,000 offset lookups, and every processed parcel
    refreshes its rollup row (this was ~80 % of processing a ``shipment.created``).
    """

    def minutes(moment: datetime) -> int:
        offset = moment.astimezone(zone).utcoffset()
        return int(offset.total_seconds() // 60) if offset else 0

    result = [(start, minutes(start))]
    day = start
    while day < end:
        following = day + timedelta(days=1)
        if minutes(following) != result[-1][1]:
            low, high = day, following  # the change is within this day: find its hour
            while high - low > timedelta(minutes=15):
                middle = low + (high - low) / 2
                low, high = (middle, high) if minutes(middle) == result[-1][1] else (low, middle)
            result.append((high, minutes(following)))
        day = following
    return tuple(result)


def figures(
    *, session: Session, brand_id: int, start: date, end: date, group_by: Sequence[str] = ()
) -> Figures:
    """The figures of the brand's parcels ordered from ``start`` to ``end``, one row per group."""
    return figures_by(
        session=session, brand_id=brand_id, start=start, end=end, groupings=[group_by]
    )[0]


def figures_by(
    *,
    session: Session,
    brand_id: int,
    start: date,
    end: date,
    groupings: Sequence[Sequence[str]],
) -> list[Figures]:
    """:func:`figures` for several groupings of one period, from one scan of its rollup rows.

    The scan groups the period's rows by every column any grouping names and by the four day
    columns whose histograms give the medians and P90s; each grouping then sums those few
    (materialized) rows. A page that shows five groupings reads the period once, not five times,
    and the coarse groupings add up the very counts the fine one made.
    """
    for grouping in groupings:
        unknown = [name for name in grouping if name not in GROUPS]
        if unknown:
            raise ValueError(f"unknown grouping {unknown[0]!r}")
    apply_pending_refreshes(session)
    brand = session.get(Brand, brand_id)
    if brand is None:
        raise LookupError(f"no brand {brand_id}")
    names = [tuple(grouping) for grouping in groupings]
    union = tuple(dict.fromkeys(name for grouping in names for name in grouping))
    if len(names) == 1:
        query: Any = _period_scan(brand_id, start, end, union, leading=[literal(0)])
    else:
        scan = _period_scan(brand_id, start, end, union).cte("period_scan")
        scan = scan.prefix_with("MATERIALIZED")
        keys = [scan.c[f"key_{name}"] for name in union]
        days = [scan.c[f"days_{index}"] for index in range(len(_HISTOGRAMS))]
        counts = [column for column in scan.c if column.key.startswith("count_")]
        query = union_all(
            *(
                sa_select(
                    literal(index),
                    *(
                        key if name in grouping else null()
                        for name, key in zip(union, keys, strict=True)
                    ),
                    *days,
                    *(func.sum(column) for column in counts[:-1]),
                    func.max(counts[-1]),
                )
                .select_from(scan)
                .group_by(
                    *(key for name, key in zip(union, keys, strict=True) if name in grouping), *days
                )
                for index, grouping in enumerate(names)
            )
        )
    results = [_Tally() for _ in names]
    positions = [[union.index(name) for name in grouping] for grouping in names]
    for record in session.execute(query):
        index = record[0]
        keys_of_record = record[1 : 1 + len(union)]
        group = tuple(keys_of_record[position] for position in positions[index])
        after_keys = 1 + len(union)
        days_of_record = record[after_keys : after_keys + len(_HISTOGRAMS)]
        results[index].add(group, days_of_record, record[after_keys + len(_HISTOGRAMS) :])
    return [
        tally.figures(brand.currency, start, end, grouping)
        for tally, grouping in zip(results, names, strict=True)
    ]


def _period_scan(
    brand_id: int, start: date, end: date, union: Sequence[str], leading: Sequence[Any] = ()
) -> Any:
    """The rollup rows of the period grouped by ``union`` and the histogram day columns.

    Every figure's count is written here, once: its position is the order of :func:`_row`'s
    arguments, then the unconverted parcels and the latest exchange-rate date.
    """
    facts = ShipmentFigures
    keys: list[Any] = [
        col(getattr(facts, ROLLUP_COLUMNS[name])).label(f"key_{name}") for name in union
    ]
    days: list[Any] = [
        col(getattr(facts, column)).label(f"days_{index}")
        for index, column in enumerate(_HISTOGRAMS.values())
    ]

    def whole(column: Any) -> Any:
        return func.sum(cast(column, Integer))

    delivered = col(facts.delivered)
    late = and_(col(facts.promised), col(facts.on_time).is_(False))
    on_time = col(facts.on_time)

    def where(condition: Any, column: Any) -> Any:
        return func.sum(case((condition, column), else_=0))

    counts: list[Any] = [
        func.count(),
        whole(delivered),
        func.coalesce(func.sum(facts.cost_amount), 0),
        func.count(col(facts.cost_amount)),
        func.coalesce(func.sum(facts.order_value), 0),
        func.count(col(facts.order_value)),
        whole(facts.promised),
        whole(facts.on_time),
        whole(facts.first_attempt),
        func.sum(case((delivered, facts.failed_attempts), else_=0)),
        whole(facts.returned),
        func.sum(facts.returned_units),
        func.sum(facts.responses),
        func.sum(facts.promoters),
        func.sum(facts.detractors),
        whole(facts.unattended),
        whole(late),
        whole(facts.late_complaint),
        whole(and_(col(facts.late_complaint), col(facts.promised))),
        whole(and_(col(facts.late_complaint), late)),
        whole(and_(late, col(facts.returned))),
        whole(and_(on_time, col(facts.returned))),
        where(late, facts.responses),
        where(late, facts.promoters),
        where(late, facts.detractors),
        where(on_time, facts.responses),
        where(on_time, facts.promoters),
        where(on_time, facts.detractors),
        func.count(case((col(facts.fx_missing), 1))),
        func.max(facts.fx_rate_date),
    ]
    return (
        sa_select(
            *leading,
            *keys,
            *days,
            *(count.label(f"count_{index}") for index, count in enumerate(counts)),
        )
        .where(
            col(facts.brand_id) == brand_id,
            col(facts.order_day) >= start,
            col(facts.order_day) <= end,
        )
        .group_by(*keys, *days)
    )


class _Tally:
    """One grouping's counts and day histograms, added up from the scan's records."""

    def __init__(self) -> None:
        self.sums: dict[tuple[Any, ...], list[int]] = {}
        self.histograms: dict[str, dict[tuple[Any, ...], list[tuple[int, int]]]] = {
            name: defaultdict(list) for name in _HISTOGRAMS
        }
        self.unconverted = 0
        self.rate_date: date | None = None

    def add(self, group: tuple[Any, ...], days: Sequence[Any], counts: Sequence[Any]) -> None:
        *figures_counts, unconverted, rate_date = counts
        values = [int(value or 0) for value in figures_counts]
        sums = self.sums.setdefault(group, [0] * len(values))
        for index, value in enumerate(values):
            sums[index] += value
        self.unconverted += int(unconverted or 0)
        if rate_date is not None:
            day = rate_date if isinstance(rate_date, date) else date.fromisoformat(rate_date)
            self.rate_date = day if self.rate_date is None else max(self.rate_date, day)
        delivered_count = values[1]
        for name, value in zip(_HISTOGRAMS, days, strict=True):
            if value is not None and delivered_count:
                _add(self.histograms[name][group], int(value), delivered_count)

    def figures(self, currency: str, start: date, end: date, names: tuple[str, ...]) -> Figures:
        rows = {
            group: _row(dict(zip(names, group, strict=True)), *sums)
            for group, sums in self.sums.items()
        }
        if not names and not rows:
            rows[()] = _row({}, *[0] * 28)
        for name, histogram in self.histograms.items():
            for group, histogram_counts in histogram.items():
                histogram_counts.sort()
                setattr(rows[group], f"{name}_median", percentile_of_counts(histogram_counts, 0.5))
                setattr(rows[group], f"{name}_p90", percentile_of_counts(histogram_counts, 0.9))
        return Figures(
            start=start,
            end=end,
            currency=currency,
            group_by=names,
            rows=sorted(rows.values(), key=lambda row: _sort_key(row, names)),
            rate_date=self.rate_date,
            unconverted=self.unconverted,
        )


#: Group → its column of :class:`ShipmentFigures`.
ROLLUP_COLUMNS = {
    "carrier": "carrier_code",
    "service": "service",
    "fc": "fc_code",
    "destination_region": "destination_region",
    "category": "category",
    "segment": "segment",
    "time_slot": "time_slot",
    "month": "order_month",
    "week": "order_week",
    "delivered_to": "delivered_to",
}

#: Moments between which the rollup follows the brand's timezone changes exactly (SQLite).
_ROLLUP_SPAN = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2045, 1, 1, tzinfo=UTC))


def _add(counts: list[tuple[int, int]], value: int, n: int) -> None:
    """Add ``n`` times ``value`` to a histogram of ``(value, how many)``."""
    for index, (seen, many) in enumerate(counts):
        if seen == value:
            counts[index] = (value, many + n)
            return
    counts.append((value, n))


_PENDING = "insights_pending_rollup"


def defer_refresh(
    session: Session, brand_id: int, shipment_ids: Collection[int], now: datetime
) -> None:
    """Refresh the rollup rows of ``shipment_ids`` just before ``session`` commits, all at once.

    A parcel whose savepoint was rolled back since is refreshed anyway: it has no row to write,
    and a refresh only recomputes what is stored.
    """
    if _PENDING not in session.info:
        session.info[_PENDING] = {}
        event.listen(session, "before_commit", _before_commit)
    pending: dict[int, tuple[set[int], datetime]] = session.info[_PENDING]
    ids, _ = pending.get(brand_id, (set(), now))
    ids.update(shipment_ids)
    pending[brand_id] = (ids, now)


def _before_commit(session: Session) -> None:
    if not session.in_nested_transaction():  # a savepoint's release is not the unit of work's end
        apply_pending_refreshes(session)


def apply_pending_refreshes(session: Session) -> None:
    """Refresh the rollup rows :func:`defer_refresh` marked in this session (one pass per brand)."""
    pending: dict[int, tuple[set[int], datetime]] = session.info.get(_PENDING, {})
    while pending:
        brand_id, (ids, now) = pending.popitem()
        refresh_rollup(session=session, brand_id=brand_id, now=now, shipment_ids=sorted(ids))


@cache
def _rollup_statements(dialect: str, timezone: str, by_ids: bool) -> tuple[Any, Any]:
    """The rollup's DELETE and INSERT … SELECT for a brand (bind ``brand_id``, ``currency``,
    ``now`` and, ``by_ids``, the expanding ``ids``), built once per dialect and timezone.

    Each definition of the module docstring is written here as SQL, once. Building this
    statement cost more than running it for the few parcels of an inbox batch, and every
    processing transaction refreshes the rollup.
    """
    sql = _Sql(dialect, ZoneInfo(timezone), *_ROLLUP_SPAN)
    brand_id = bindparam("brand_id", type_=Integer())
    currency = bindparam("currency", type_=String())
    delivered = col(Shipment.delivered_at).is_not(None)
    priced = and_(
        col(Shipment.cost_amount).is_not(None),
        or_(col(Shipment.cost_currency).is_(None), col(Shipment.cost_currency) == currency),
    )
    promised = and_(delivered, col(Shipment.promised_date).is_not(None))
    on_time = and_(promised, sql.local_date(Shipment.delivered_at) <= Shipment.promised_date)
    order_day = sql.local_date(Order.placed_at)
    score = col(Feedback.nps_score)

    def flag(condition: Any) -> Any:
        return case((condition, True), else_=False)

    def scored(condition: Any) -> Any:
        return (
            select(func.count(case((condition, 1))))
            .where(Feedback.shipment_id == Shipment.id)
            .scalar_subquery()
        )

    of_order = col(ReturnRequest.order_id) == Shipment.order_id
    earlier = aliased(Order)
    repeat = exists().where(
        col(earlier.brand_id) == brand_id,
        col(earlier.customer_id) == Order.customer_id,
        col(earlier.cancelled_at).is_(None),
        col(earlier.placed_at) < Order.placed_at,
    )
    late_reason = (
        exists()
        .where(of_order, col(ReturnLine.return_id) == ReturnRequest.id)
        .where(col(ReturnLine.reason_code).in_(LATE_REASONS))
    )
    values = {
        "shipment_id": Shipment.id,
        "brand_id": Shipment.brand_id,
        "order_day": order_day,
        "order_month": sql.month(order_day),
        "order_week": sql.week(order_day),
        "carrier_code": Shipment.carrier_code,
        "service": Shipment.service,
        "fc_code": select(FulfillmentCentre.code)
        .where(FulfillmentCentre.id == Shipment.fc_id)
        .scalar_subquery(),
        "destination_region": Shipment.destination_region,
        "category": select(func.min(OrderLine.category))
        .where(OrderLine.order_id == Shipment.order_id)
        .scalar_subquery(),
        table_of(ShipmentFigures).c.delivered.key: flag(delivered),
        "order_days": sql.days(Shipment.delivered_at, Order.placed_at),
        "transit_days": sql.days(Shipment.delivered_at, Shipment.shipped_at),
        "promised": flag(promised),
        "on_time": flag(on_time),
        "first_attempt": flag(and_(delivered, col(Shipment.failed_attempts) == 0)),
        "failed_attempts": Shipment.failed_attempts,
        "cost_amount": case((priced, Shipment.cost_amount), else_=None),
        "order_value": case((col(Order.currency) == currency, Order.total_amount), else_=None),
        "returned": flag(exists().where(of_order)),
        "returned_units": func.coalesce(
            select(func.sum(ReturnLine.quantity))
            .join(ReturnRequest, col(ReturnRequest.id) == ReturnLine.return_id)
            .where(of_order)
            .scalar_subquery(),
            0,
        ),
        "segment": case(
            (and_(col(Order.customer_id).is_not(None), repeat), "repeat"), else_="first"
        ),
        "time_slot": Shipment.time_slot,
        "late_complaint": flag(or_(late_reason, scored(score <= 6) > 0)),
        "responses": scored(score.is_not(None)),
        "promoters": scored(score >= 9),
        "detractors": scored(score <= 6),
        "refreshed_at": bindparam("now", type_=UTCDateTime()),
        # Where parcels were left.
        "delivered_to": case((delivered, Shipment.delivered_to), else_=None),
        "unattended": flag(and_(delivered, col(Shipment.delivered_to).in_(UNATTENDED))),
    }
    where: list[Any] = [col(Shipment.brand_id) == brand_id]
    gone = delete(ShipmentFigures).where(col(ShipmentFigures.brand_id) == brand_id)
    if by_ids:
        ids: Any = bindparam("ids", expanding=True)
        where.append(col(Shipment.id).in_(ids))
        gone = gone.where(col(ShipmentFigures.shipment_id).in_(ids))
    written = insert(table_of(ShipmentFigures)).from_select(
        list(values),
        select(*values.values())
        .select_from(Shipment)
        .join(Order, col(Order.id) == Shipment.order_id)
        .where(*where),
    )
    return gone, written


def refresh_rollup(
    *,
    session: Session,
    brand_id: int,
    now: datetime,
    shipment_ids: Collection[int] | None = None,
) -> None:
    """Rewrite the rollup rows of ``shipment_ids`` (every parcel of the brand when None); flushes.

    A parcel without an order gets no row: it has no order date.
    """
    session.flush()  # the rows are read by SQL: pending changes of the caller first
    brand = session.get(Brand, brand_id)
    if brand is None:
        raise LookupError(f"no brand {brand_id}")
    gone, written = _rollup_statements(
        session.get_bind().dialect.name, brand.timezone, shipment_ids is not None
    )
    ids: list[int] | None = None if shipment_ids is None else list(shipment_ids)
    chunks = [None] if ids is None else [ids[i : i + 500] for i in range(0, len(ids), 500)]
    for chunk in chunks:
        parameters: dict[str, Any] = {"brand_id": brand_id, "currency": brand.currency, "now": now}
        if chunk is not None:
            parameters["ids"] = chunk
        session.execute(
            gone, {key: parameters[key] for key in ("brand_id", "ids") if key in parameters}
        )
        session.execute(written, parameters)
        _count_business_days(session, brand, chunk)
        _convert_foreign(session, brand, chunk)
    session.flush()


def _count_business_days(session: Session, brand: Brand, shipment_ids: list[int] | None) -> None:
    """Fill the business days of the rollup rows of ``shipment_ids`` (all of the brand's: None).

    Calendars are Python (:mod:`postpurchase.edd.calendar`), so this reads the rows' local dates
    back and writes the counts, one statement for all.
    """
    part = settings_for(brand).edd.calendar.model_dump(mode="json")
    parameters: dict[str, Any] = {"brand_id": brand.id, "country": brand.country or "JP"}
    if shipment_ids is not None:
        parameters["ids"] = shipment_ids
    query = _business_day_rows(by_ids=shipment_ids is not None)
    calendars: dict[str, CarrierCalendar] = {}
    updates = []
    for shipment_id, brand_id, order_day, order_days, transit_days, code in session.execute(
        query, parameters
    ):
        if brand_id != brand.id:
            continue
        key = (code or "JP").upper()
        calendar = calendars.get(key)
        if calendar is None:
            calendar = calendars[key] = _calendar(key, part)
        if isinstance(order_day, str):  # SQLite hands back text from date()
            order_day = date.fromisoformat(order_day)
        delivered_day = order_day + timedelta(days=order_days)
        updates.append(
            {
                "key": shipment_id,
                "order_business_days": calendar.business_days_between(order_day, delivered_day),
                "transit_business_days": None
                if transit_days is None
                else calendar.business_days_between(
                    delivered_day - timedelta(days=transit_days), delivered_day
                ),
            }
        )
    if updates:
        session.execute(_update_business_days(), updates)


@cache
def _business_day_rows(*, by_ids: bool) -> Any:
    """The delivered rollup rows whose business days :func:`_count_business_days` fills (bind
    ``country``, and ``ids`` or ``brand_id``), built once: every processing transaction runs it."""
    facts = ShipmentFigures
    country = func.coalesce(Shipment.destination_country, bindparam("country", type_=String()))
    query = (
        sa_select(
            col(facts.shipment_id),
            col(facts.brand_id),
            col(facts.order_day),
            col(facts.order_days),
            col(facts.transit_days),
            country,
        )
        .join(Shipment, col(Shipment.id) == facts.shipment_id)
        .where(col(facts.delivered))
    )
    # Given ids, they are the only condition the planner can use: beside ``brand_id = X`` SQLite
    # without statistics reads 50 or more ids through the key's brand prefix, every row of the
    # brand per call. The brand is checked on each row instead.
    if by_ids:
        return query.where(col(facts.shipment_id).in_(bindparam("ids", expanding=True)))
    return query.where(col(facts.brand_id) == bindparam("brand_id", type_=Integer()))


@cache
def _update_business_days() -> Any:
    table = table_of(ShipmentFigures)
    return (
        update(table)
        .where(table.c.shipment_id == bindparam("key"))
        .values(
            order_business_days=bindparam("order_business_days"),
            transit_business_days=bindparam("transit_business_days"),
        )
    )


def _calendar(country: str, part: dict[str, Any]) -> CarrierCalendar:
    """The brand's carrier calendar for ``country``; Japan's when the country has no holidays."""
    try:
        return CarrierCalendar.from_settings(country, part)
    except NotImplementedError:
        return CarrierCalendar.from_settings("JP", part)


def _convert_foreign(session: Session, brand: Brand, shipment_ids: list[int] | None) -> None:
    """Convert the rollup's amounts in other currencies with the brand's rate table.

    The SQL above keeps only amounts in the brand's currency; here the others are converted at the
    order day's rates, or marked ``fx_missing`` so the figures report them as left out.
    """
    parameters: dict[str, Any] = {"brand_id": brand.id, "currency": brand.currency}
    if shipment_ids is not None:
        parameters["ids"] = shipment_ids
    rows = session.execute(_foreign_rows(by_ids=shipment_ids is not None), parameters).all()
    if not rows:
        return
    rates = RateTable.of_brand(session, id_of(brand))
    for shipment_id, cost, cost_currency, total, order_currency, day in rows:
        changes: dict[str, Any] = {}
        used: list[date] = []
        missing = False
        for name, amount, currency in (
            ("cost_amount", cost, cost_currency),
            ("order_value", total, order_currency),
        ):
            if amount is None or not currency or currency == brand.currency:
                continue
            converted = rates.convert(amount, currency, brand.currency, day)
            if converted is None:
                missing = True
                continue
            changes[name] = converted.amount
            used += [converted.rate_date] if converted.rate_date else []
        session.execute(
            update(ShipmentFigures)
            .where(col(ShipmentFigures.shipment_id) == shipment_id)
            .values(**changes, fx_rate_date=min(used) if used else None, fx_missing=missing)
        )


@cache
def _foreign_rows(*, by_ids: bool) -> Any:
    """The parcels of the brand (bind ``brand_id``, ``currency``; ``ids`` when ``by_ids``) whose
    cost or order value is in another currency, with their rollup's order day; built once."""
    currency = bindparam("currency", type_=String())
    foreign_cost = and_(
        col(Shipment.cost_amount).is_not(None),
        col(Shipment.cost_currency).is_not(None),
        col(Shipment.cost_currency) != currency,
    )
    where = [col(Shipment.brand_id) == bindparam("brand_id", type_=Integer())]
    if by_ids:
        where.append(col(Shipment.id).in_(bindparam("ids", expanding=True)))
    return (
        sa_select(
            col(Shipment.id),
            col(Shipment.cost_amount),
            col(Shipment.cost_currency),
            col(Order.total_amount),
            col(Order.currency),
            col(ShipmentFigures.order_day),
        )
        .select_from(Shipment)
        .join(Order, col(Order.id) == Shipment.order_id)
        .join(ShipmentFigures, col(ShipmentFigures.shipment_id) == Shipment.id)
        .where(*where, or_(foreign_cost, col(Order.currency) != currency))
    )


def _row(
    group: dict[str, Any],
    shipments: int,
    delivered: int,
    cost_sum: int,
    cost_count: int,
    value_sum: int,
    value_count: int,
    promised: int,
    on_time: int,
    first_attempt: int,
    failed: int,
    returned: int,
    units: int,
    responses: int,
    promoters: int,
    detractors: int,
    unattended: int,
    late: int,
    complaints: int,
    complaints_promised: int,
    complaints_late: int,
    returned_late: int,
    returned_on_time: int,
    *split_scores: int,
) -> FigureRow:
    """A group's row from its counts (see :func:`_one_pass` for their order)."""
    return FigureRow(
        group=group,
        shipments=shipments,
        delivered=delivered,
        cost_total=cost_sum if cost_count else None,
        cost_avg=cost_sum / cost_count if cost_count else None,
        order_value_avg=value_sum / value_count if value_count else None,
        on_time_share=on_time / promised if promised else None,
        first_attempt_share=first_attempt / delivered if delivered else None,
        redelivery_rate=failed / delivered if delivered else None,
        return_rate=returned / shipments if shipments else None,
        returned_units=units,
        nps=_nps(responses, promoters, detractors),
        nps_responses=responses,
        response_rate=responses / delivered if delivered else None,
        unattended_share=unattended / delivered if delivered else None,
        late=late,
        late_complaints=complaints,
        late_complaints_late_share=complaints_late / complaints_promised
        if complaints_promised
        else None,
        return_rate_late=returned_late / late if late else None,
        return_rate_on_time=returned_on_time / on_time if on_time else None,
        nps_late=_nps(*split_scores[:3]),
        nps_on_time=_nps(*split_scores[3:]),
    )


def _nps(responses: int, promoters: int, detractors: int) -> float | None:
    return 100 * (promoters - detractors) / responses if responses else None


def _sort_key(row: FigureRow, names: tuple[str, ...]) -> tuple[Any, ...]:
    """Groups in reading order: prefectures in JIS order, other values by text, unknown last."""
    key: list[Any] = []
    for name in names:
        value = row.group.get(name)
        key.append(
            (
                value is None,
                _JIS_INDEX.get(value or "", len(_JIS_INDEX)) if name == "destination_region" else 0,
                value or "",
            )
        )
    return tuple(key)


@dataclass(frozen=True)
class ReasonRow:
    """Units returned for one reason code from the period's orders, and their share of those units."""

    reason_code: str
    units: int
    share: float


@dataclass(frozen=True)
class Comment:
    """A customer's words on a parcel of the period, with the order and parcel they are about."""

    shipment_id: int
    order_number: str | None
    carrier_code: str
    service: str | None
    destination_region: str | None
    score: int | None
    comment: str
    created_at: datetime


def _in_period(brand_id: int, start: date, end: date) -> list[Any]:
    """Conditions on a joined :class:`ShipmentFigures` row: its parcel was ordered in the period
    (the period of every figure above).

    Written as a join (or ``EXISTS``), never ``IN (the period's parcel ids)``: with a quarter of a
    million ids PostgreSQL took minutes over the return reasons that way, a fraction of a second
    as a semi-join.
    """
    facts = ShipmentFigures
    return [
        col(facts.brand_id) == brand_id,
        col(facts.order_day) >= start,
        col(facts.order_day) <= end,
    ]


def return_reasons(*, session: Session, brand_id: int, start: date, end: date) -> list[ReasonRow]:
    """Units returned per reason code on the return requests of the period's orders, most first.

    Same period as :func:`figures`: the order's local date; each return request counts once, however
    many parcels its order had.
    """
    apply_pending_refreshes(session)
    ordered_in_period = exists().where(
        col(Shipment.order_id) == ReturnRequest.order_id,
        col(ShipmentFigures.shipment_id) == Shipment.id,
        *_in_period(brand_id, start, end),
    )
    units = func.sum(ReturnLine.quantity)
    result = session.execute(
        select(ReturnLine.reason_code, units)
        .join(ReturnRequest, col(ReturnRequest.id) == ReturnLine.return_id)
        .where(
            ReturnRequest.brand_id == brand_id,
            ReturnLine.brand_id == brand_id,
            ordered_in_period,
        )
        .group_by(ReturnLine.reason_code)
    ).all()
    total = sum(int(count or 0) for _, count in result)
    return sorted(
        (
            ReasonRow(reason_code=code, units=int(count), share=int(count) / total)
            for code, count in result
            if count
        ),
        key=lambda row: (-row.units, row.reason_code),
    )


def comments(
    *, session: Session, brand_id: int, start: date, end: date, limit: int = 50
) -> list[Comment]:
    """The newest feedback comments on the period's parcels, lowest scores first within a day."""
    apply_pending_refreshes(session)
    result = session.execute(
        sa_select(
            col(Shipment.id),
            col(Order.number),
            col(Shipment.carrier_code),
            col(Shipment.service),
            col(Shipment.destination_region),
            col(Feedback.nps_score),
            col(Feedback.comment),
            col(Feedback.created_at),
        )
        .join(Shipment, col(Shipment.id) == Feedback.shipment_id)
        .join(ShipmentFigures, col(ShipmentFigures.shipment_id) == Shipment.id)
        .outerjoin(Order, col(Order.id) == Shipment.order_id)
        .where(
            col(Feedback.brand_id) == brand_id,
            col(Feedback.comment).is_not(None),
            col(Feedback.comment) != "",
            *_in_period(brand_id, start, end),
        )
        .order_by(col(Feedback.created_at).desc(), col(Feedback.id).desc())
        .limit(limit)
    ).all()
    return [Comment(*row) for row in result]
