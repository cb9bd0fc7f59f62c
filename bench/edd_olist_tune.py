"""Choose the EDD model's tuning on the olist TRAINING period only (walk-forward inside it).

    python bench/edd_olist_tune.py [--split 2017-07-01] [--end 2017-10-01] [--set name=v1,v2 ...] [--cutoff 17:00]

Trains on orders purchased before ``--split`` and predicts, walk-forward, the orders purchased
from ``--split`` to ``--end`` (default: the benchmark's own training cut-off, so the benchmark's
test months are never read). Every combination of the ``--set`` values is run on both files; the
table shows on-time share at the marketplace's own level, window coverage (stated 80%) and MAE.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from edd_olist import ROOT, TIMEZONE, convert_classified, convert_orders, evaluate, marketplace

from postpurchase.edd.backtest import AsOf, Setting, walk_forward
from postpurchase.edd.calendar import CarrierCalendar, parse_cutoff
from postpurchase.edd.model import ModelParams


def _value(text: str) -> object:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "olist")
    parser.add_argument("--split", default="2017-07-01")
    parser.add_argument("--end", default="2017-10-01")
    parser.add_argument("--set", action="append", default=[], help="param=v1,v2,... (grid)")
    parser.add_argument(
        "--cutoff", default=None, help="FC cut-off HH:MM (orders after it count from the next day)"
    )
    parser.add_argument(
        "--in-flight",
        action="store_true",
        help="let each refit see parcels started and not yet delivered (what a live service knows)",
    )
    options = parser.parse_args()
    split, end = datetime.fromisoformat(options.split), datetime.fromisoformat(options.end)
    grid = [
        [(name, _value(v)) for v in values.split(",")]
        for name, values in (item.split("=", 1) for item in options.set)
    ]
    cases = [
        (
            "classified",
            convert_classified(options.data / "olist_classified_public_dataset.csv"),
            ["ordered"],
        ),
        (
            "orders",
            convert_orders(options.data / "olist_orders_sample.csv"),
            ["ordered", "shipped"],
        ),
    ]
    setting = Setting(
        calendar=CarrierCalendar(country="BR"),
        timezone=TIMEZONE,
        cutoff=parse_cutoff(options.cutoff),
    )
    print("| params | file | as of | level | on time | cover | width | MAE | padding |")
    print("|---|---|---|---|---|---|---|---|---|")
    for combo in itertools.product(*grid):
        params = replace(ModelParams(), **dict(combo))
        label = ", ".join(f"{k}={v}" for k, v in combo) or "defaults"
        for name, rows, modes in cases:
            train = [r for r in rows if r.ordered_at and r.ordered_at.replace(tzinfo=None) < split]
            test = [
                r for r in rows if r.ordered_at and split <= r.ordered_at.replace(tzinfo=None) < end
            ]
            level = round(marketplace(test).on_time, 3)
            for mode in modes:
                predictions = walk_forward(
                    train,
                    test,
                    mode=AsOf(mode),
                    setting=replace(setting, params=params),
                    promise_level=level,
                    use_in_flight=options.in_flight,
                )
                predicted = {
                    p.query.shipment_id: (
                        p.estimate.predicted_date,
                        p.estimate.window_start,
                        p.estimate.window_end,
                        p.estimate.promise_date,
                    )
                    for p in predictions
                }
                f = evaluate("", test, predicted)
                print(
                    f"| {label} | {name} | {mode} | {level:.3f} | {f.on_time:.1%} | {f.coverage:.1%} | "
                    f"{f.width:.1f} | {f.mae:.2f} | {f.padding:.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
