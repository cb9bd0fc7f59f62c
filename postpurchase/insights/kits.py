"""Unboxing kits compared: NPS, returns and repeat purchase of orders with and without each kit.

The period, ``nps`` and ``return_rate`` are those of :mod:`postpurchase.insights.figures` (read from
the same rollup): a parcel belongs to the period when its order was placed on one of its local
dates; ``return_rate`` is parcels whose order has a return request over parcels; ``nps`` is over the
scored feedback tied to the parcels. A parcel is *with* a kit when its order got it
(:class:`~postpurchase.models.OrderKit`), *without* otherwise (other kits, no kit, or ordered
before the brand had kits).

``repeat_purchase_rate``
    Orders of known customers followed by another order of theirs (not cancelled) within
    :data:`REPEAT_DAYS`, over those orders. Orders younger than that may still be followed: the
    figure of a recent period grows as time passes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from postpurchase.clock import as_utc
from postpurchase.insights.figures import _nps, apply_pending_refreshes
from postpurchase.models import Order, OrderKit, Shipment, ShipmentFigures

#: How soon another order counts as a repeat purchase.
REPEAT_DAYS = 90

#: The figures of a comparison, in the order the page and the CSV show them.
FIGURES = ("orders", "shipments", "nps", "nps_responses", "return_rate", "repeat_purchase_rate")


@dataclass
class KitFigures:
    orders: int = 0
    shipments: int = 0
    nps: float | None = None
    nps_responses: int = 0
    return_rate: float | None = None
    repeat_purchase_rate: float | None = None


@dataclass(frozen=True)
class KitComparison:
    kit: str
    with_kit: KitFigures
    without_kit: KitFigures


@dataclass
class _Tally:
    orders: set[int]
    shipments: int = 0
    returned: int = 0
    responses: int = 0
    promoters: int = 0
    detractors: int = 0

    def figures(self, repeats: dict[int, bool]) -> KitFigures:
        known = [repeats[o] for o in self.orders if o in repeats]
        return KitFigures(
            orders=len(self.orders),
            shipments=self.shipments,
            nps=_nps(self.responses, self.promoters, self.detractors),
            nps_responses=self.responses,
            return_rate=self.returned / self.shipments if self.shipments else None,
            repeat_purchase_rate=sum(known) / len(known) if known else None,
        )


def compare_kits(
    *, session: Session, brand_id: int, start: date, end: date, kits: list[str]
) -> list[KitComparison]:
    """One comparison per kit: the brand's current kits (``kits``) first, then any other kit its
    orders of the period got."""
    apply_pending_refreshes(session)
    facts = ShipmentFigures
    parcels = session.execute(
        sa_select(
            col(Shipment.order_id),
            col(facts.returned),
            col(facts.responses),
            col(facts.promoters),
            col(facts.detractors),
        )
        .join(Shipment, col(Shipment.id) == facts.shipment_id)
        .where(
            col(facts.brand_id) == brand_id,
            col(facts.order_day) >= start,
            col(facts.order_day) <= end,
        )
    ).all()
    order_ids = sorted({row[0] for row in parcels})
    got: dict[int, set[str]] = defaultdict(set)
    for order_id, names in session.execute(
        sa_select(col(OrderKit.order_id), col(OrderKit.kits)).where(
            col(OrderKit.brand_id) == brand_id, col(OrderKit.order_id).in_(order_ids)
        )
    ):
        got[order_id].update(names)
    names = list(dict.fromkeys([*kits, *sorted(set().union(*got.values()))]))
    repeats = _repeats(session, brand_id, order_ids)
    result = []
    for name in names:
        tallies = {True: _Tally(set()), False: _Tally(set())}
        for order_id, returned, responses, promoters, detractors in parcels:
            tally = tallies[name in got.get(order_id, ())]
            tally.orders.add(order_id)
            tally.shipments += 1
            tally.returned += int(bool(returned))
            tally.responses += responses
            tally.promoters += promoters
            tally.detractors += detractors
        result.append(
            KitComparison(name, tallies[True].figures(repeats), tallies[False].figures(repeats))
        )
    return result


def _repeats(session: Session, brand_id: int, order_ids: list[int]) -> dict[int, bool]:
    """Whether each order of a known customer was followed by another within :data:`REPEAT_DAYS`."""
    placed: dict[int, tuple[int, datetime]] = {
        order_id: (customer_id, as_utc(at))
        for order_id, customer_id, at in session.execute(
            sa_select(col(Order.id), col(Order.customer_id), col(Order.placed_at)).where(
                col(Order.id).in_(order_ids), col(Order.customer_id).is_not(None)
            )
        )
    }
    if not placed:
        return {}
    first = min(at for _, at in placed.values())
    history: dict[int, list[datetime]] = defaultdict(list)
    for customer_id, at in session.execute(
        sa_select(col(Order.customer_id), col(Order.placed_at)).where(
            col(Order.brand_id) == brand_id,
            col(Order.customer_id).in_({c for c, _ in placed.values()}),
            col(Order.cancelled_at).is_(None),
            col(Order.placed_at) > first,
        )
    ):
        history[customer_id].append(as_utc(at))
    for moments in history.values():
        moments.sort()
    window = timedelta(days=REPEAT_DAYS)
    result = {}
    for order_id, (customer_id, at) in placed.items():
        moments = history.get(customer_id, [])
        after = bisect_right(moments, at)
        result[order_id] = after < len(moments) and moments[after] <= at + window
    return result


def csv_rows(comparisons: list[KitComparison]) -> list[list[Any]]:
    """``kit, orders_with, with/without, figures…`` lines for the CSV (figures as the API gives them)."""
    rows: list[list[Any]] = [["kit", "group", *FIGURES]]
    for comparison in comparisons:
        for group, figures in (("with", comparison.with_kit), ("without", comparison.without_kit)):
            rows.append(
                [
                    comparison.kit,
                    group,
                    *("" if getattr(figures, n) is None else getattr(figures, n) for n in FIGURES),
                ]
            )
    return rows
