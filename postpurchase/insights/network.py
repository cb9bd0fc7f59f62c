"""The fulfilment network: how each centre serves each destination region, what the past orders
would have gained from another centre, and which centre should ship a new order.

**Matrix.** For each fulfilment centre and destination region, the parcels ordered in the period
and their figures as :func:`figures.figures` defines them (grouped by ``fc`` and
``destination_region``): ``order_to_delivery_days_median`` (days from the local order date to the
local delivery date, median over delivered parcels) and ``cost_avg`` (mean carrier cost in minor
units of the brand's currency). A cell is the estimate for any parcel from that centre to that
region.

**Stock at a moment.** A centre's stock of a SKU at a moment is the last level it reported at or
before that moment (``inventory.updated``, restocks; kept in ``InventoryHistory``, with the current
``InventoryLevel`` as one more record). *No record* at or before the moment counts as *not in
stock*, except at the centre that really shipped the order: it had the stock, since it shipped it.

**What-if.** Each order of the period (by its local order date, as in every figure) whose parcels
all left one centre for a known region is re-assigned to the centre that had every line in stock
(quantities summed per SKU) at the order's ``placed_at`` and whose matrix cell to the order's
region is the fastest (``days``, then ``cost``) or the cheapest (``cost``, then ``days``); a tie
keeps the actual centre, then the lower centre code wins. Savings compare the two *cells* (actual
centre's against the chosen one's), so an order that stays saves nothing, and an order counts as
one parcel. Each order is judged against the reported stock on its own: moving orders does not use
up the stock the next order sees (the reported levels already include what really shipped). The
*stock split* is the units per SKU and centre the compared orders took, as they were and under the
what-if: the stock each centre would have needed to hold.

**Advice.** For a new order: every centre with the lines in stock now (``InventoryLevel``), ranked
the same way on the matrix of the last :data:`ADVICE_DAYS` days, with reasons for the pick and for
each alternative.
"""

from __future__ import annotations

import bisect
import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, and_, cast, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from postpurchase.edd.leadtimes import prefecture_of
from postpurchase.insights.figures import JIS_PREFECTURES, figures
from postpurchase.models import (
    FulfillmentCentre,
    InventoryHistory,
    InventoryLevel,
    Order,
    OrderLine,
    Shipment,
    ShipmentFigures,
)

#: Days of history the order-time advice reads its matrix from.
ADVICE_DAYS = 90


class Prefer(StrEnum):
    """What the what-if and the advice optimise first."""

    fastest = "fastest"
    cheapest = "cheapest"


class Skip(StrEnum):
    """Why an order of the period was left out of the what-if."""

    no_centre = "no_centre"
    several_centres = "several_centres"
    no_region = "no_region"
    no_lines = "no_lines"
    no_estimate = "no_estimate"


@dataclass(frozen=True)
class Cell:
    """Parcels from one centre to one region, with their median days and mean cost."""

    fc_code: str
    region: str
    shipments: int
    delivered: int
    days: float | None
    cost: float | None


@dataclass(frozen=True)
class Matrix:
    start: date
    end: date
    currency: str
    #: Centre codes and regions with at least one parcel, in reading order (regions in JIS order).
    centres: list[str]
    regions: list[str]
    cells: dict[tuple[str, str], Cell]

    def cell(self, fc_code: str, region: str) -> Cell | None:
        return self.cells.get((fc_code, region))


def matrix(*, session: Session, brand_id: int, start: date, end: date) -> Matrix:
    """Days and cost from each centre to each region, for parcels ordered from ``start`` to ``end``."""
    result = figures(
        session=session,
        brand_id=brand_id,
        start=start,
        end=end,
        group_by=("fc", "destination_region"),
    )
    cells: dict[tuple[str, str], Cell] = {}
    regions: list[str] = []
    for row in result.rows:
        fc_code, region = row.group["fc"], row.group["destination_region"]
        if fc_code is None or region is None:
            continue
        cells[fc_code, region] = Cell(
            fc_code=fc_code,
            region=region,
            shipments=row.shipments,
            delivered=row.delivered,
            days=row.order_to_delivery_days_median,
            cost=row.cost_avg,
        )
        if region not in regions:
            regions.append(region)  # rows come in JIS order of their region within a centre
    jis = {name: index for index, name in enumerate(JIS_PREFECTURES)}
    regions.sort(key=lambda name: (jis.get(name, len(jis)), name))
    return Matrix(
        start=start,
        end=end,
        currency=result.currency,
        centres=sorted({fc_code for fc_code, _ in cells}),
        regions=regions,
        cells=cells,
    )


def _key(cell: Cell, prefer: Prefer) -> tuple[float, float]:
    """A cell's order in a ranking: (days, cost) for fastest, (cost, days) for cheapest; unknown last."""
    days = math.inf if cell.days is None else cell.days
    cost = math.inf if cell.cost is None else cell.cost
    return (days, cost) if prefer is Prefer.fastest else (cost, days)


def rank(
    matrix: Matrix,
    region: str,
    centres: Iterable[str],
    prefer: Prefer,
    stay: str | None = None,
) -> list[Cell]:
    """The cells of ``centres`` to ``region`` that have the preferred figure, best first.

    Fastest: fewer days, then lower cost; cheapest: the other way round. A figure a cell lacks ranks
    last; on a tie ``stay`` (the actual centre) comes first, then the lower code.
    """
    figure = "days" if prefer is Prefer.fastest else "cost"
    cells = [matrix.cell(code, region) for code in centres]
    return sorted(
        (cell for cell in cells if cell is not None and getattr(cell, figure) is not None),
        key=lambda cell: (*_key(cell, prefer), cell.fc_code != stay, cell.fc_code),
    )


def _epoch(session: Session, column: Any) -> ColumnElement[int]:
    """``column`` (an aware UTC moment) as whole seconds since 1970, computed by the database.

    Reading hundreds of thousands of moments as numbers instead of datetimes is most of what makes
    the what-if fast enough; a second is finer than any stock report.
    """
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", column)), BigInteger)
    return cast(func.strftime("%s", column), BigInteger)


class StockBook:
    """Stock levels per SKU and centre through time, as reported (moments in epoch seconds)."""

    def __init__(self, records: Iterable[tuple[str, str, int, int]]) -> None:
        series: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        for sku, fc_code, at, available in records:
            series[sku, fc_code].append((at, available))
        self._times: dict[tuple[str, str], list[int]] = {}
        self._levels: dict[tuple[str, str], list[int]] = {}
        for key, points in series.items():
            points.sort()
            self._times[key] = [at for at, _ in points]
            self._levels[key] = [available for _, available in points]

    def available(self, sku: str, fc_code: str, at: int) -> int | None:
        """The level last reported at or before ``at``; None when there is no such record."""
        times = self._times.get((sku, fc_code))
        if not times:
            return None
        index = bisect.bisect_right(times, at)
        return self._levels[sku, fc_code][index - 1] if index else None

    def has(self, lines: Mapping[str, int], fc_code: str, at: int) -> bool:
        """Whether ``fc_code`` held every line's quantity at ``at``."""
        for sku, quantity in lines.items():
            level = self.available(sku, fc_code, at)
            if level is None or level < quantity:
                return False
        return True


def stock_book(
    *, session: Session, brand_id: int, since: datetime | None = None, until: datetime | None = None
) -> StockBook:
    """The stock levels the brand's centres reported, and the current ones.

    With ``since``/``until``: only what a moment between them can see, i.e. the reports between
    them and each SKU and centre's last report before ``since`` (years of daily reports stay in the
    database when a month is asked about).
    """
    connection = session.connection()
    history = InventoryHistory
    columns = (
        col(history.sku),
        col(history.fc_code),
        _epoch(session, history.recorded_at),
        col(history.available),
    )
    mine = col(history.brand_id) == brand_id
    query = sa_select(*columns).where(mine)
    if until is not None:
        query = query.where(col(history.recorded_at) <= until)
    if since is not None:
        query = query.where(col(history.recorded_at) >= since)
        last = (
            sa_select(
                col(history.sku),
                col(history.fc_code),
                func.max(history.recorded_at).label("recorded_at"),
            )
            .where(mine, col(history.recorded_at) < since)
            .group_by(col(history.sku), col(history.fc_code))
            .subquery()
        )
        before = (
            sa_select(*columns)
            .join(
                last,
                and_(
                    last.c.sku == history.sku,
                    last.c.fc_code == history.fc_code,
                    last.c.recorded_at == history.recorded_at,
                ),
            )
            .where(mine)
        )
        reports = connection.execute(query.union_all(before)).all()
    else:
        reports = connection.execute(query).all()
    levels = connection.execute(
        sa_select(
            col(InventoryLevel.sku),
            col(InventoryLevel.fc_code),
            _epoch(session, InventoryLevel.updated_at),
            col(InventoryLevel.available),
        ).where(col(InventoryLevel.brand_id) == brand_id)
    ).all()
    seen = {(sku, fc_code, at) for sku, fc_code, at, _ in reports}
    return StockBook(
        [
            *((row[0], row[1], row[2], row[3]) for row in reports),
            *((row[0], row[1], row[2], row[3]) for row in levels if tuple(row[:3]) not in seen),
        ]
    )


def record_stock(
    brand_id: int, *, session: Session, skus: Iterable[str], now: datetime | None = None
) -> None:
    """Keep the history of the levels just written for ``skus`` (receiver of ``inventory_updated``).

    Each centre's current level is recorded at the moment it holds from, once.
    """
    skus = sorted(set(skus))
    if not skus:
        return
    levels = session.execute(
        sa_select(
            col(InventoryLevel.sku),
            col(InventoryLevel.fc_code),
            col(InventoryLevel.updated_at),
            col(InventoryLevel.available),
        ).where(col(InventoryLevel.brand_id) == brand_id, col(InventoryLevel.sku).in_(skus))
    ).all()
    known = {
        (row.sku, row.fc_code, row.recorded_at): row
        for row in session.exec(
            select(InventoryHistory).where(
                col(InventoryHistory.brand_id) == brand_id,
                col(InventoryHistory.sku).in_(skus),
                col(InventoryHistory.recorded_at).in_({level[2] for level in levels}),
            )
        )
    }
    for sku, fc_code, at, available in levels:
        row = known.get((sku, fc_code, at))
        if row is None:
            session.add(
                InventoryHistory(
                    brand_id=brand_id, sku=sku, fc_code=fc_code, recorded_at=at, available=available
                )
            )
        elif row.available != available:
            row.available = available
            session.add(row)
    session.flush()


@dataclass(frozen=True)
class MoveRow:
    """Orders to one region the what-if moves from one centre to another, and what that saves."""

    from_fc: str
    to_fc: str
    region: str
    orders: int
    days_saved: float
    cost_saved: float


@dataclass(frozen=True)
class SplitRow:
    """Units of one SKU a centre shipped for the compared orders, and would have under the what-if."""

    sku: str
    fc_code: str
    actual_units: int
    what_if_units: int


@dataclass
class WhatIf:
    prefer: Prefer
    matrix: Matrix
    #: Orders of the period with parcels, and those compared (the rest are in ``skipped``).
    orders: int = 0
    compared: int = 0
    moved: int = 0
    #: Sums over moved orders of the actual cell's figure minus the chosen cell's (negative: lost).
    days_saved: float = 0.0
    cost_saved: float = 0.0
    skipped: dict[Skip, int] = field(default_factory=dict)
    moves: list[MoveRow] = field(default_factory=list)
    split: list[SplitRow] = field(default_factory=list)

    @property
    def days_saved_per_moved_order(self) -> float | None:
        return self.days_saved / self.moved if self.moved else None


def _orders(
    session: Session, brand_id: int, start: date, end: date
) -> dict[int, tuple[int, set[str | None], set[str | None]]]:
    """``order id → (placed_at in epoch seconds, centre codes, regions)`` of the period's parcels."""
    facts = ShipmentFigures
    query = (
        sa_select(
            col(Order.id),
            _epoch(session, Order.placed_at),
            col(facts.fc_code),
            col(facts.destination_region),
        )
        .select_from(facts)
        .join(Shipment, col(Shipment.id) == facts.shipment_id)
        .join(Order, col(Order.id) == Shipment.order_id)
        .where(
            col(facts.brand_id) == brand_id,
            col(facts.order_day) >= start,
            col(facts.order_day) <= end,
        )
    )
    rows: Sequence[Any] = session.connection().execute(query).all()  # ids are never null here
    orders: dict[int, tuple[int, set[str | None], set[str | None]]] = {}
    for order_id, placed_at, fc_code, region in rows:
        _, centres, regions = orders.setdefault(order_id, (placed_at, set(), set()))
        centres.add(fc_code)
        regions.add(region)
    return orders


def _lines(session: Session, brand_id: int, start: date, end: date) -> dict[int, dict[str, int]]:
    """``order id → {sku: units}`` of the period's orders with parcels."""
    facts = ShipmentFigures
    period_orders = (
        sa_select(col(Shipment.order_id))
        .join(facts, col(facts.shipment_id) == Shipment.id)
        .where(
            col(facts.brand_id) == brand_id,
            col(facts.order_day) >= start,
            col(facts.order_day) <= end,
        )
    )
    query = (
        sa_select(col(OrderLine.order_id), col(OrderLine.sku), func.sum(OrderLine.quantity))
        .where(col(OrderLine.brand_id) == brand_id, col(OrderLine.order_id).in_(period_orders))
        .group_by(col(OrderLine.order_id), col(OrderLine.sku))
    )
    rows = session.connection().execute(query).all()
    lines: dict[int, dict[str, int]] = defaultdict(dict)
    for order_id, sku, units in rows:
        if units and units > 0:
            lines[order_id][sku] = int(units)
    return lines


def what_if(
    *, session: Session, brand_id: int, start: date, end: date, prefer: Prefer = Prefer.fastest
) -> WhatIf:
    """Re-assign the orders placed from ``start`` to ``end`` as the module docstring says."""
    grid = matrix(session=session, brand_id=brand_id, start=start, end=end)
    result = WhatIf(prefer=prefer, matrix=grid)
    orders = _orders(session, brand_id, start, end)
    lines = _lines(session, brand_id, start, end)
    moments = [placed_at for placed_at, _, _ in orders.values()]
    book = stock_book(
        session=session,
        brand_id=brand_id,
        since=datetime.fromtimestamp(min(moments), UTC) if moments else None,
        until=datetime.fromtimestamp(max(moments) + 1, UTC) if moments else None,
    )
    skipped: dict[Skip, int] = defaultdict(int)
    moves: dict[tuple[str, str, str], list[float]] = {}
    actual_units: dict[tuple[str, str], int] = defaultdict(int)
    what_if_units: dict[tuple[str, str], int] = defaultdict(int)
    result.orders = len(orders)
    rankings = {region: rank(grid, region, grid.centres, prefer) for region in grid.regions}
    for order_id, (placed_at, centres, regions) in orders.items():
        route = _route(centres, regions, order_id in lines)
        if isinstance(route, Skip):
            skipped[route] += 1
            continue
        actual, region = route
        wanted = lines[order_id]
        here = grid.cell(actual, region)
        ranked = rankings[region]
        if here is None or here not in ranked:
            skipped[Skip.no_estimate] += 1
            continue
        # Walk down the ranking to the first centre that had the stock; the actual centre had it,
        # and wins a tie.
        best, mark = here, _key(here, prefer)
        for cell in ranked:
            if cell is here or _key(cell, prefer) == mark:
                break
            if book.has(wanted, cell.fc_code, placed_at):
                best = cell
                break
        result.compared += 1
        for sku, units in wanted.items():
            actual_units[sku, actual] += units
            what_if_units[sku, best.fc_code] += units
        if best.fc_code == actual:
            continue
        result.moved += 1
        days = _saved(here.days, best.days)
        cost = _saved(here.cost, best.cost)
        result.days_saved += days
        result.cost_saved += cost
        tally = moves.setdefault((actual, best.fc_code, region), [0.0, 0.0, 0.0])
        tally[0] += 1
        tally[1] += days
        tally[2] += cost
    result.skipped = dict(skipped)
    result.moves = sorted(
        (
            MoveRow(from_fc, to_fc, region, int(n), days, cost)
            for (from_fc, to_fc, region), (n, days, cost) in moves.items()
        ),
        key=lambda row: (-row.orders, row.from_fc, row.to_fc, row.region),
    )
    result.split = [
        SplitRow(
            sku, fc_code, actual_units.get((sku, fc_code), 0), what_if_units.get((sku, fc_code), 0)
        )
        for sku, fc_code in sorted(set(actual_units) | set(what_if_units))
    ]
    return result


def _route(
    centres: set[str | None], regions: set[str | None], has_lines: bool
) -> tuple[str, str] | Skip:
    """The order's one centre and one region, or why it cannot be compared."""
    if None in centres:
        return Skip.no_centre
    if len(centres) > 1:
        return Skip.several_centres
    if None in regions or len(regions) > 1:
        return Skip.no_region
    if not has_lines:
        return Skip.no_lines
    (centre,), (region,) = centres, regions
    return str(centre), str(region)


def _saved(before: float | None, after: float | None) -> float:
    """``before − after``; nothing when either is unknown."""
    return 0.0 if before is None or after is None else before - after


class Reason(StrEnum):
    """Why a centre is the pick or an alternative."""

    in_stock = "in_stock"
    out_of_stock = "out_of_stock"
    no_stock_record = "no_stock_record"
    no_history = "no_history"
    fastest = "fastest"
    cheapest = "cheapest"
    slower = "slower"
    more_expensive = "more_expensive"
    ranked_lower = "ranked_lower"


@dataclass(frozen=True)
class Shortfall:
    sku: str
    needed: int
    #: None: the centre never reported this SKU.
    available: int | None


@dataclass(frozen=True)
class Option:
    fc_code: str
    name: str
    in_stock: bool
    missing: list[Shortfall]
    #: The matrix cell to the destination region (None figures: no parcels there in the window).
    days: float | None
    cost: float | None
    delivered: int
    reasons: list[Reason]


@dataclass(frozen=True)
class Advice:
    region: str
    prefer: Prefer
    start: date
    end: date
    currency: str
    choice: Option | None
    alternatives: list[Option]


def region_for_postal_code(*, session: Session, brand_id: int, postal_code: str) -> str | None:
    """The destination region of a postal code, as the brand's own parcels name it.

    The region most of the brand's parcels to the same three-digit prefix were sent to; else the
    prefecture of a Japanese postal code (JIS name); None when neither says.
    """
    digits = "".join(ch for ch in postal_code if ch.isdigit())
    if len(digits) >= 3:
        count = func.count()
        row = session.execute(
            sa_select(col(Shipment.destination_region), count)
            .where(
                col(Shipment.brand_id) == brand_id,
                col(Shipment.destination_region).is_not(None),
                col(Shipment.destination_postal_code).like(f"{digits[:3]}%"),
            )
            .group_by(col(Shipment.destination_region))
            .order_by(count.desc(), col(Shipment.destination_region))
            .limit(1)
        ).first()
        if row is not None:
            return str(row[0])
    code = prefecture_of(postal_code)
    return JIS_PREFECTURES[int(code) - 1] if code else None


def advise(
    *,
    session: Session,
    brand_id: int,
    region: str,
    lines: Mapping[str, int],
    today: date,
    prefer: Prefer = Prefer.fastest,
) -> Advice:
    """The centre to ship ``lines`` to ``region`` from, ranked on the last :data:`ADVICE_DAYS` days."""
    start = today - timedelta(days=ADVICE_DAYS - 1)
    grid = matrix(session=session, brand_id=brand_id, start=start, end=today)
    names = dict(
        session.execute(
            sa_select(col(FulfillmentCentre.code), col(FulfillmentCentre.name)).where(
                col(FulfillmentCentre.brand_id) == brand_id
            )
        ).all()
    )
    levels: dict[tuple[str, str], int] = {
        (sku, fc_code): available
        for sku, fc_code, available in session.execute(
            sa_select(
                col(InventoryLevel.sku), col(InventoryLevel.fc_code), col(InventoryLevel.available)
            ).where(col(InventoryLevel.brand_id) == brand_id, col(InventoryLevel.sku).in_(lines))
        )
    }
    codes = sorted(set(names) | set(grid.centres))
    missing = {
        code: [
            Shortfall(sku, needed, levels.get((sku, code)))
            for sku, needed in lines.items()
            if levels.get((sku, code), -1) < needed
        ]
        for code in codes
    }
    ranked = rank(grid, region, [code for code in codes if not missing[code]], prefer)
    best = ranked[0] if ranked else None
    first_reason = Reason.fastest if prefer is Prefer.fastest else Reason.cheapest

    def option(code: str) -> Option:
        cell = grid.cell(code, region)
        reasons: list[Reason] = []
        if not missing[code]:
            reasons.append(Reason.in_stock)
        elif any(short.available is None for short in missing[code]):
            reasons.append(Reason.no_stock_record)
        else:
            reasons.append(Reason.out_of_stock)
        if cell is None or cell.days is None:
            reasons.append(Reason.no_history)
        if best is not None and code == best.fc_code:
            reasons.append(first_reason)
        elif best is not None and cell is not None:
            if cell.days is not None and best.days is not None and cell.days > best.days:
                reasons.append(Reason.slower)
            if cell.cost is not None and best.cost is not None and cell.cost > best.cost:
                reasons.append(Reason.more_expensive)
            if cell in ranked and len(reasons) == 1:
                reasons.append(Reason.ranked_lower)
        return Option(
            fc_code=code,
            name=names.get(code, ""),
            in_stock=not missing[code],
            missing=missing[code],
            days=None if cell is None else cell.days,
            cost=None if cell is None else cell.cost,
            delivered=0 if cell is None else cell.delivered,
            reasons=reasons,
        )

    order = [cell.fc_code for cell in ranked]
    order += [code for code in codes if code not in order]
    options = [option(code) for code in order]
    return Advice(
        region=region,
        prefer=prefer,
        start=start,
        end=today,
        currency=grid.currency,
        choice=options[0] if best is not None else None,
        alternatives=options[1:] if best is not None else options,
    )


#: Columns of the network CSV; ``table`` names the page's table a line belongs to.
CSV_COLUMNS: tuple[str, ...] = (
    "table",
    "fc_code",
    "to_fc_code",
    "destination_region",
    "sku",
    "reason",
    "shipments",
    "delivered",
    "days_median",
    "cost_avg",
    "orders",
    "compared",
    "moved",
    "days_saved",
    "cost_saved",
    "actual_units",
    "what_if_units",
    "currency",
    "prefer",
)


def csv_text(result: WhatIf) -> str:
    """The page's tables, one line per row: matrix cells, the what-if summary, left-out orders by
    reason, moves and the stock split (money in minor units, days as numbers)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\r\n", restval="")
    writer.writeheader()
    common = {"currency": result.matrix.currency, "prefer": result.prefer.value}
    for cell in result.matrix.cells.values():
        writer.writerow(
            {
                "table": "matrix",
                "fc_code": cell.fc_code,
                "destination_region": cell.region,
                "shipments": cell.shipments,
                "delivered": cell.delivered,
                "days_median": _plain(cell.days),
                "cost_avg": _plain(cell.cost),
                **common,
            }
        )
    writer.writerow(
        {
            "table": "summary",
            "orders": result.orders,
            "compared": result.compared,
            "moved": result.moved,
            "days_saved": result.days_saved,
            "cost_saved": result.cost_saved,
            **common,
        }
    )
    for reason, count in sorted(result.skipped.items()):
        writer.writerow({"table": "left_out", "reason": reason.value, "orders": count, **common})
    for move in result.moves:
        writer.writerow(
            {
                "table": "moves",
                "fc_code": move.from_fc,
                "to_fc_code": move.to_fc,
                "destination_region": move.region,
                "orders": move.orders,
                "days_saved": move.days_saved,
                "cost_saved": move.cost_saved,
                **common,
            }
        )
    for row in result.split:
        writer.writerow(
            {
                "table": "stock_split",
                "fc_code": row.fc_code,
                "sku": row.sku,
                "actual_units": row.actual_units,
                "what_if_units": row.what_if_units,
                **common,
            }
        )
    return out.getvalue()


def _plain(value: float | None) -> str:
    return "" if value is None else str(value)
