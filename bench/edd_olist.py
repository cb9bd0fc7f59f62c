"""Delivery-date prediction on the olist orders: walk-forward backtest through the real CLI.

    python bench/edd_olist.py [--runs 3] [--data ../shared/data/olist]

Converts both olist files to the history CSV (carrier ``olist``, service ``standard``, country BR),
trains on orders purchased before 2017-10-01 and predicts the rest walk-forward with
``postpurchase edd backtest``. The promise level is the marketplace estimate's own on-time share on
the same test rows, so the padding of both promises is compared at equal punctuality. Prints a
Markdown table for BENCHMARKS.md.

Each backtest runs twice: under the issue's strict walk-forward rule (only rows delivered before the
as-of time), and with ``--in-flight`` (also the rows started and not yet delivered then, which the
live service knows from its own orders and tracking), reported on its own row.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from postpurchase.edd.cli import backtest_command  # noqa: E402
from postpurchase.edd.history import HistoryRow, read_history, write_history  # noqa: E402

#: The history's local wall-clock split (rows are compared without their zone).
SPLIT = datetime(2017, 10, 1)  # noqa: DTZ001
TIMEZONE = "America/Sao_Paulo"


def _ts(value: str) -> datetime | None:
    from zoneinfo import ZoneInfo

    value = value.strip()
    return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(TIMEZONE)) if value else None


def _number(value: str) -> float | None:
    return float(value) if value.strip() else None


def convert_classified(path: Path) -> list[HistoryRow]:
    """One row per order: destination state and 3-digit zip prefix, freight, value, category."""
    rows = []
    with path.open(newline="", encoding="utf-8") as handle:
        for r in csv.DictReader(handle):
            rows.append(
                HistoryRow(
                    shipment_id=f"c{r['id']}",
                    carrier="olist",
                    service="standard",
                    origin_postal_code="",
                    origin_region="",
                    destination_postal_code=r["customer_zip_code_prefix"].zfill(3),
                    destination_region=r["customer_state"],
                    destination_country="BR",
                    ordered_at=_ts(r["order_purchase_timestamp"]),
                    shipped_at=None,
                    delivered_at=_ts(r["order_delivered_customer_date"]),
                    promised_at=_ts(r["order_estimated_delivery_date"]),
                    cost=_number(r["order_freight_value"]),
                    currency="BRL",
                    items=_number(r["order_items_qty"]),
                    order_value=_number(r["order_products_value"]),
                    category=r["product_category_name"],
                )
            )
    return rows


def convert_orders(path: Path) -> list[HistoryRow]:
    """Orders sample: no location, but the hand-over to the carrier."""
    rows = []
    with path.open(newline="", encoding="utf-8") as handle:
        for r in csv.DictReader(handle):
            rows.append(
                HistoryRow(
                    shipment_id=r["order_id"],
                    carrier="olist",
                    service="standard",
                    origin_postal_code="",
                    origin_region="",
                    destination_postal_code="",
                    destination_region="",
                    destination_country="BR",
                    ordered_at=_ts(r["order_purchase_timestamp"]),
                    shipped_at=_ts(r["order_delivered_carrier_date"]),
                    delivered_at=_ts(r["order_delivered_customer_date"]),
                    promised_at=_ts(r["order_estimated_delivery_date"]),
                    currency="BRL",
                )
            )
    return rows


def local_date(moment: datetime) -> date:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(TIMEZONE)).date()


@dataclass
class Figures:
    label: str
    rows: int
    mae: float | None = None
    median_error: float | None = None
    within_1: float | None = None
    coverage: float | None = None
    width: float | None = None
    on_time: float | None = None
    padding: float | None = None
    seconds: float | None = None


def evaluate(
    label: str, test: list[HistoryRow], predicted: dict[str, tuple[date, date, date, date]]
) -> Figures:
    errors, inside, widths, on_time, padding = [], [], [], [], []
    for row in test:
        if row.delivered_at is None or row.shipment_id not in predicted:
            continue
        actual = local_date(row.delivered_at)
        point, start, end, promise = predicted[row.shipment_id]
        errors.append((point - actual).days)
        inside.append(start <= actual <= end)
        widths.append((end - start).days)
        on_time.append(actual <= promise)
        padding.append((promise - actual).days)
    absolute = [abs(e) for e in errors]
    return Figures(
        label,
        len(errors),
        statistics.mean(absolute),
        statistics.median(absolute),
        sum(a <= 1 for a in absolute) / len(absolute),
        sum(inside) / len(inside),
        statistics.mean(widths),
        sum(on_time) / len(on_time),
        statistics.mean(padding),
    )


def marketplace(test: list[HistoryRow]) -> Figures:
    pairs = [
        (local_date(r.delivered_at), local_date(r.promised_at))
        for r in test
        if r.delivered_at is not None and r.promised_at is not None
    ]
    return Figures(
        "marketplace estimate",
        len(pairs),
        on_time=sum(a <= p for a, p in pairs) / len(pairs),
        padding=statistics.mean((p - a).days for a, p in pairs),
    )


def _quantile(values: list[int], level: float) -> int:
    ordered = sorted(values)
    return ordered[min(int(level * len(ordered)), len(ordered) - 1)]


def destination_baseline(
    train: list[HistoryRow], test: list[HistoryRow], level: float, *, walk_forward: bool
) -> dict[str, tuple[date, date, date, date]]:
    """Order day + the destination state's median (point) and ``level`` quantile (promise) of days.

    Static: from the training rows only. Walk-forward: from every row delivered before the test
    row's order day (what a daily-refreshed lookup table would know).
    """
    history = sorted(
        (r for r in [*train, *test] if r.delivered_at and r.ordered_at),
        key=lambda r: r.delivered_at,
    )
    out = {}
    for row in test:
        if row.ordered_at is None:
            continue
        cutoff = datetime.combine(
            local_date(row.ordered_at), datetime.min.time(), row.ordered_at.tzinfo
        )
        source = (
            [r for r in history if r.delivered_at < cutoff]
            if walk_forward
            else [r for r in train if r.delivered_at and r.ordered_at]
        )
        by_region: dict[str, list[int]] = defaultdict(list)
        for r in source:
            by_region[r.destination_region].append(
                (local_date(r.delivered_at) - local_date(r.ordered_at)).days
            )
        days = by_region.get(row.destination_region) or [d for v in by_region.values() for d in v]
        start = local_date(row.ordered_at)
        point = start + timedelta(days=statistics.median_low(days))
        out[row.shipment_id] = (
            point,
            start + timedelta(days=_quantile(days, 0.1)),
            start + timedelta(days=_quantile(days, 0.9)),
            start + timedelta(days=_quantile(days, level)),
        )
    return out


def run_backtest(
    train_csv: Path, test_csv: Path, as_of: str, level: float, out: Path, *, in_flight: bool = False
) -> float:
    args = [
        "--train",
        str(train_csv),
        "--test",
        str(test_csv),
        "--as-of",
        as_of,
        "--promise-level",
        f"{level:.3f}",
        "--country",
        "BR",
        "--timezone",
        TIMEZONE,
        "--out",
        str(out),
    ]
    if in_flight:
        args.append("--in-flight")
    started = time.perf_counter()
    backtest_command.main(args, standalone_mode=False)
    return time.perf_counter() - started


def read_predictions(path: Path) -> dict[str, tuple[date, date, date, date]]:
    with path.open(newline="") as handle:
        return {
            r["shipment_id"]: (
                date.fromisoformat(r["predicted_date"]),
                date.fromisoformat(r["window_start"]),
                date.fromisoformat(r["window_end"]),
                date.fromisoformat(r["promise_date"]),
            )
            for r in csv.DictReader(handle)
        }


def fmt(value: float | None, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "olist")
    parser.add_argument("--runs", type=int, default=3)
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
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        "| file | as of | method | rows | MAE d | median abs err d | within ±1 d | window cover | "
        "window width d | promise level | on time | mean padding d | run s (median) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, rows, modes in cases:
            train = [r for r in rows if r.ordered_at and r.ordered_at.replace(tzinfo=None) < SPLIT]
            test = [r for r in rows if r.ordered_at and r.ordered_at.replace(tzinfo=None) >= SPLIT]
            paths = {}
            for part, subset in (("train", train), ("test", test)):
                paths[part] = folder / f"{name.replace(' ', '_')}_{part}.csv"
                with paths[part].open("w", newline="") as handle:
                    write_history(subset, handle)
            test = read_history(paths["test"], timezone=TIMEZONE)
            market = marketplace(test)
            level = round(market.on_time, 3)
            for as_of in modes:
                out = folder / f"{name}_{as_of}.csv"
                times = [
                    run_backtest(paths["train"], paths["test"], as_of, level, out)
                    for _ in range(options.runs)
                ]
                ours = evaluate("postpurchase edd", test, read_predictions(out))
                ours.seconds = statistics.median(times)
                times = [
                    run_backtest(paths["train"], paths["test"], as_of, level, out, in_flight=True)
                    for _ in range(options.runs)
                ]
                live = evaluate(
                    "postpurchase edd, parcels in flight seen (live service)",
                    test,
                    read_predictions(out),
                )
                live.seconds = statistics.median(times)
                baselines = [
                    evaluate(
                        "destination median (train)",
                        test,
                        destination_baseline(train, test, level, walk_forward=False),
                    ),
                    evaluate(
                        "destination median (walk-forward)",
                        test,
                        destination_baseline(train, test, level, walk_forward=True),
                    ),
                ]
                for figures in (ours, live, *baselines, market):
                    print(
                        f"| {name} | {as_of} | {figures.label} | {figures.rows} | {fmt(figures.mae, '{:.2f}')} | "
                        f"{fmt(figures.median_error, '{:.1f}')} | {fmt(figures.within_1, '{:.1%}')} | "
                        f"{fmt(figures.coverage, '{:.1%}')} | {fmt(figures.width, '{:.1f}')} | {level:.3f} | "
                        f"{fmt(figures.on_time, '{:.1%}')} | {fmt(figures.padding, '{:.2f}')} | "
                        f"{fmt(figures.seconds, '{:.1f}')} |"
                    )
                sys.stdout.flush()


if __name__ == "__main__":
    main()
