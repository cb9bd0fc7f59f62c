"""How far can any predictor go on the olist test? Hindsight bounds for the EDD targets.

    python bench/edd_olist_bounds.py [--data ../shared/data/olist]

The EDD targets ask for the marketplace's punctuality with at most half its padding, and for a
point error ≤ 85% of the destination-median baseline. This script measures what predictors that
*cheat* would reach: each is given the realized order-to-delivery days of the test rows themselves
(grouped by order day, by destination state, by state and month), so it knows the Nov–Dec slowdown
in advance and has no estimation noise within its groups. Their promise is the group's quantile at
the lowest level whose on-time share reaches the marketplace's. If such a hindsight predictor cannot
reach a target, no honest walk-forward model on these columns can.

It also lowers/raises our own model's promise level (walk-forward, in process) until its on-time
share reaches the marketplace's, to show the padding that punctuality costs it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable, Hashable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from edd_olist import (
    ROOT,
    SPLIT,
    TIMEZONE,
    convert_classified,
    convert_orders,
    destination_baseline,
    evaluate,
    local_date,
    marketplace,
)

from postpurchase.edd.backtest import AsOf, Setting, walk_forward
from postpurchase.edd.calendar import CarrierCalendar
from postpurchase.edd.history import HistoryRow


def _days(row: HistoryRow) -> int:
    return (local_date(row.delivered_at) - local_date(row.ordered_at)).days


def _quantile(values: list[int], level: float) -> int:
    ordered = sorted(values)
    return ordered[min(int(level * len(ordered)), len(ordered) - 1)]


def hindsight(
    test: list[HistoryRow], key: Callable[[HistoryRow], Hashable], target: float
) -> dict[str, float]:
    """MAE, window cover and the padding at ≥ ``target`` on time of a group-quantile predictor that knows the test."""
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for row in test:
        groups[key(row)].append(_days(row))
    actual = [_days(row) for row in test]
    point = [statistics.median_low(groups[key(row)]) for row in test]
    cover = [
        _quantile(groups[key(r)], 0.1) <= a <= _quantile(groups[key(r)], 0.9)
        for r, a in zip(test, actual, strict=True)
    ]
    for step in range(50, 100):
        level = step / 100
        promise = [_quantile(groups[key(r)], level) for r in test]
        on_time = sum(a <= p for a, p in zip(actual, promise, strict=True)) / len(actual)
        if on_time >= target:
            break
    return {
        "mae": statistics.mean(abs(p - a) for p, a in zip(point, actual, strict=True)),
        "cover": sum(cover) / len(cover),
        "level": level,
        "on_time": on_time,
        "padding": statistics.mean(p - a for p, a in zip(promise, actual, strict=True)),
    }


def ours_at(
    train: list[HistoryRow], test: list[HistoryRow], mode: AsOf, target: float, *, in_flight: bool
) -> tuple[float, float, float]:
    """(promise level, on time, padding) of our walk-forward model at the first level reaching ``target``."""
    setting = Setting(calendar=CarrierCalendar(country="BR"), timezone=TIMEZONE)
    for level in (0.90, 0.93, 0.95, 0.96, 0.97, 0.98, 0.99):
        predictions = walk_forward(
            train, test, mode=mode, setting=setting, promise_level=level, use_in_flight=in_flight
        )
        figures = evaluate(
            "",
            test,
            {
                p.query.shipment_id: (
                    p.estimate.predicted_date,
                    p.estimate.window_start,
                    p.estimate.window_end,
                    p.estimate.promise_date,
                )
                for p in predictions
            },
        )
        if figures.on_time >= target:
            break
    return level, figures.on_time, figures.padding


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "olist")
    options = parser.parse_args()
    cases = [
        (
            "classified",
            convert_classified(options.data / "olist_classified_public_dataset.csv"),
            ["ordered"],
        ),
        (
            "orders sample",
            convert_orders(options.data / "olist_orders_sample.csv"),
            ["ordered", "shipped"],
        ),
    ]
    print(
        "| file | predictor | MAE d | MAE / baseline | window cover | promise level | on time | mean padding d | "
        "padding / marketplace |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, rows, modes in cases:
        train = [r for r in rows if r.ordered_at and r.ordered_at.replace(tzinfo=None) < SPLIT]
        test = [
            r
            for r in rows
            if r.ordered_at and r.ordered_at.replace(tzinfo=None) >= SPLIT and r.delivered_at
        ]
        market = marketplace(test)
        level = round(market.on_time, 3)
        baseline = min(
            evaluate("", test, destination_baseline(train, test, level, walk_forward=walk)).mae
            for walk in (False, True)
        )
        keys: list[tuple[str, Callable[[HistoryRow], Hashable]]] = [
            ("order day", lambda r: local_date(r.ordered_at))
        ]
        if name == "classified":
            keys += [
                ("state", lambda r: r.destination_region),
                ("state and month", lambda r: (r.destination_region, r.ordered_at.month)),
            ]
        print(
            f"| {name} | marketplace estimate | – | – | – | – | {market.on_time:.1%} | {market.padding:.2f} | 100% |"
        )
        for label, key in keys:
            f = hindsight(test, key, market.on_time)
            print(
                f"| {name} | hindsight quantiles per {label} | {f['mae']:.2f} | {f['mae'] / baseline:.0%} | "
                f"{f['cover']:.1%} | {f['level']:.2f} | {f['on_time']:.1%} | {f['padding']:.2f} | "
                f"{f['padding'] / market.padding:.0%} |",
                flush=True,
            )
        for mode in modes:
            for in_flight, label in ((False, ""), (True, ", parcels in flight seen")):
                at, on_time, padding = ours_at(
                    train, test, AsOf(mode), market.on_time, in_flight=in_flight
                )
                print(
                    f"| {name} | postpurchase edd as of {mode}{label}, level raised to reach it | – | – | – | "
                    f"{at:.2f} | {on_time:.1%} | {padding:.2f} | {padding / market.padding:.0%} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
