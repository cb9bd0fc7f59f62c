"""Accuracy of stored predictions against the deliveries that followed."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from postpurchase.models import Brand, DeliveryPrediction, Shipment


@dataclass(frozen=True)
class Accuracy:
    brand: str
    trigger: str
    count: int
    mae_days: float
    within_one_day: float
    window_coverage: float
    promise_on_time: float
    mean_padding_days: float


def accuracy(*, session: Session, brand_slug: str | None = None) -> list[Accuracy]:
    """Per brand and trigger: point error, window coverage and promise punctuality (local dates)."""
    query = (
        select(DeliveryPrediction, Shipment, Brand)
        .join(Shipment, col(Shipment.id) == col(DeliveryPrediction.shipment_id))
        .join(Brand, col(Brand.id) == col(DeliveryPrediction.brand_id))
        .where(col(Shipment.delivered_at).is_not(None))
    )
    if brand_slug:
        query = query.where(Brand.slug == brand_slug)
    groups: dict[tuple[str, str], list[tuple[int, bool, bool, int]]] = defaultdict(list)
    for prediction, shipment, brand in session.exec(query).all():
        assert shipment.delivered_at is not None
        actual = shipment.delivered_at.astimezone(ZoneInfo(brand.timezone)).date()
        groups[(brand.slug, prediction.trigger)].append(
            (
                (prediction.predicted_date - actual).days,
                prediction.window_start <= actual <= prediction.window_end,
                actual <= prediction.promise_date,
                (prediction.promise_date - actual).days,
            )
        )
    out = []
    for (slug, trigger), items in sorted(groups.items()):
        n = len(items)
        out.append(
            Accuracy(
                slug,
                trigger,
                n,
                sum(abs(i[0]) for i in items) / n,
                sum(abs(i[0]) <= 1 for i in items) / n,
                sum(i[1] for i in items) / n,
                sum(i[2] for i in items) / n,
                sum(i[3] for i in items) / n,
            )
        )
    return out


def format_report(rows: list[Accuracy]) -> str:
    if not rows:
        return "no stored predictions of delivered parcels yet"
    lines = [
        f"{'brand':<16} {'trigger':<9} {'n':>6} {'MAE d':>6} {'±1 d':>6} {'window':>7} {'on time':>8} {'padding d':>9}"
    ]
    for r in rows:
        lines.append(
            f"{r.brand:<16} {r.trigger:<9} {r.count:>6} {r.mae_days:>6.2f} {r.within_one_day:>6.1%} "
            f"{r.window_coverage:>7.1%} {r.promise_on_time:>8.1%} {r.mean_padding_days:>9.2f}"
        )
    return "\n".join(lines)
