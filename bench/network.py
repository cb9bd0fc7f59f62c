"""The fulfilment-network what-if at scale: 100,000 historical orders, timed.

    python bench/network.py [--orders 100000] [--runs 3] [--database URL]

Bulk-inserts one brand's year of synthetic history: four centres, 200 SKUs, ``--orders`` orders of
one to three lines, each shipped as one parcel from one centre to one of the 47 prefectures (days
and cost depend on the distance between the centre's and the destination's area, with noise;
~3 % undelivered), and the stock each centre reported for each SKU every day (some SKUs run out at
some centres for weeks). Builds the insights rollup, then times :func:`network.what_if` over the
whole year, fastest and cheapest, and the page's CSV. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from carriers.status import Status  # noqa: E402
from postpurchase import create_app  # noqa: E402
from postpurchase.brands import create_brand  # noqa: E402
from postpurchase.db import get_db  # noqa: E402
from postpurchase.insights import network  # noqa: E402
from postpurchase.insights.figures import JIS_PREFECTURES, refresh_rollup  # noqa: E402
from postpurchase.models import (  # noqa: E402
    FulfillmentCentre,
    InventoryHistory,
    Order,
    OrderLine,
    Shipment,
)
from postpurchase.models.types import table_of  # noqa: E402

YEAR_START = datetime(2025, 11, 1, tzinfo=UTC)
PERIOD = (date(2025, 11, 1), date(2026, 10, 31))
#: Centre code → the JIS index (0-based) of its prefecture.
CENTRES = {"CHIBA": 11, "OSAKA": 26, "FUKUOKA": 39, "SAPPORO": 0}
SKUS = [f"SKU-{n:03d}" for n in range(200)]
BATCH = 20_000


def _flush(conn: Any, model: type, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(table_of(model)), rows)
        rows.clear()


def _load(database: Any, brand_id: int, orders: int, seed: int) -> None:
    """The brand's centres, orders, lines, parcels and daily stock reports, in bulk."""
    rng = random.Random(seed)
    with database.engine.begin() as conn:
        conn.execute(
            insert(table_of(FulfillmentCentre)),
            [
                {
                    "brand_id": brand_id,
                    "code": code,
                    "name": code.title(),
                    "region": JIS_PREFECTURES[i],
                }
                for code, i in CENTRES.items()
            ],
        )
        fc_ids = dict(
            conn.execute(
                select(FulfillmentCentre.code, FulfillmentCentre.id).where(
                    FulfillmentCentre.brand_id == brand_id
                )
            ).all()
        )
        stock: list[dict[str, Any]] = []
        for sku in SKUS:
            for code in CENTRES:
                # Each SKU runs out at each centre for a few weeks a year, at random.
                gap_start = rng.randrange(365)
                gap_days = rng.choice((0, 0, 14, 30, 60))
                for day in range(366):
                    out = gap_start <= day < gap_start + gap_days
                    stock.append(
                        {
                            "brand_id": brand_id,
                            "sku": sku,
                            "fc_code": code,
                            "available": 0 if out else rng.randrange(5, 200),
                            "recorded_at": YEAR_START + timedelta(days=day, hours=-9),
                        }
                    )
                    if len(stock) >= BATCH:
                        _flush(conn, InventoryHistory, stock)
        _flush(conn, InventoryHistory, stock)
        order_rows: list[dict[str, Any]] = []
        for n in range(orders):
            placed = YEAR_START + timedelta(seconds=rng.randrange(365 * 86_400))
            order_rows.append(
                {
                    "brand_id": brand_id,
                    "external_id": f"o{n}",
                    "number": f"#{n}",
                    "placed_at": placed,
                    "status": "open",
                    "channel": "online",
                    "currency": "JPY",
                    "total_amount": 5000,
                    "shipping_amount": 0,
                    "attributes": {},
                    "created_at": placed,
                    "updated_at": placed,
                }
            )
            if len(order_rows) >= BATCH:
                _flush(conn, Order, order_rows)
        _flush(conn, Order, order_rows)
        ids = conn.execute(
            select(Order.id, Order.placed_at).where(Order.brand_id == brand_id).order_by(Order.id)
        ).all()
        lines: list[dict[str, Any]] = []
        parcels: list[dict[str, Any]] = []
        codes = list(CENTRES)
        for order_id, placed in ids:
            lines.extend(
                {
                    "brand_id": brand_id,
                    "order_id": order_id,
                    "line_key": sku,
                    "sku": sku,
                    "name": sku,
                    "quantity": rng.choice((1, 1, 1, 2, 3)),
                    "unit_price": 2000,
                    "final_sale": False,
                }
                for sku in rng.sample(SKUS, rng.choice((1, 1, 2, 3)))
            )
            destination = rng.randrange(47)
            code = rng.choice(codes)
            distance = abs(CENTRES[code] - destination)
            days = 1 + distance // 12 + rng.choice((0, 0, 0, 1, 2))
            delivered = rng.random() > 0.03
            parcels.append(
                {
                    "brand_id": brand_id,
                    "order_id": order_id,
                    "external_id": f"s{order_id}",
                    "parcel_index": 0,
                    "fc_id": fc_ids[code],
                    "carrier_code": "yamato",
                    "service": "standard",
                    "status": Status.delivered if delivered else Status.in_transit,
                    "shipped_at": placed + timedelta(hours=20),
                    "delivered_at": placed + timedelta(days=days) if delivered else None,
                    "cost_amount": 700 + 25 * distance + rng.randrange(0, 200),
                    "cost_currency": "JPY",
                    "destination_region": JIS_PREFECTURES[destination],
                    "destination_country": "JP",
                    "delivery_option": "door",
                    "failed_attempts": 0,
                    "imported": True,
                    "lines": [],
                    "poll_failures": 0,
                    "created_at": placed,
                    "updated_at": placed,
                }
            )
            if len(lines) >= BATCH:
                _flush(conn, OrderLine, lines)
            if len(parcels) >= BATCH:
                _flush(conn, Shipment, parcels)
        _flush(conn, OrderLine, lines)
        _flush(conn, Shipment, parcels)


def _time(runs: int, work: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", help="database URL (default: a new SQLite file)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-network-"))
    url = args.database or f"sqlite:///{workdir / 'bench.db'}"
    app = create_app(
        {
            "DATABASE_URL": url,
            "SCHEDULER": False,
            "SECRET_KEY": "bench",
            "INSTANCE_PATH": str(workdir / "instance"),
        }
    )
    database = get_db(app)
    if not database.is_sqlite:  # a throwaway database: start from an empty schema
        with database.engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    database.create_all()
    with app.app_context():
        session = database.session()
        brand_id = create_brand(session=session, slug="measured", name="Measured").brand_id
        session.commit()
        started = time.perf_counter()
        _load(database, brand_id, args.orders, seed=7)
        load_seconds = time.perf_counter() - started
        started = time.perf_counter()
        refresh_rollup(session=session, brand_id=brand_id, now=datetime.now(UTC))
        session.commit()
        rollup_seconds = time.perf_counter() - started
        with database.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        )
        print(f"database: {database.engine.dialect.name}")
        print(f"bulk insert of {args.orders} orders with stock history: {load_seconds:.1f} s")
        print(f"insights rollup of their parcels: {rollup_seconds:.1f} s")
        print()
        print(
            "| what | orders | compared | moved | days saved | cost saved | median s | runs | load avg |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for prefer in network.Prefer:
            seconds, result = _time(
                args.runs,
                lambda prefer=prefer: network.what_if(
                    session=session,
                    brand_id=brand_id,
                    start=PERIOD[0],
                    end=PERIOD[1],
                    prefer=prefer,
                ),
            )
            print(
                f"| what-if, {prefer.value} | {result.orders} | {result.compared} | {result.moved} "
                f"| {result.days_saved:.0f} | {result.cost_saved:.0f} | {seconds:.2f} | {args.runs} "
                f"| {os.getloadavg()[0]:.1f} |"
            )
        seconds, text = _time(
            args.runs,
            lambda: network.csv_text(
                network.what_if(session=session, brand_id=brand_id, start=PERIOD[0], end=PERIOD[1])
            ),
        )
        print(
            f"| what-if + CSV ({len(text) // 1024} KiB) | – | – | – | – | – | {seconds:.2f} | {args.runs} "
            f"| {os.getloadavg()[0]:.1f} |"
        )
        session.close()


if __name__ == "__main__":
    main()
