"""Polling benchmark: the real planner against the sandbox carrier over simulated days.

    python bench/polling.py [--shipments 20000] [--days 10] [--tick 60]

Shipments are handed over between 10:00 and 19:00 Japan time during the first ``days - 3`` days,
each inserted at its hand-over time and announced with ``shipment_created`` as intake does. Every
``tick`` simulated seconds the planner's ``poll_due`` runs (the job's own interval), then the
hourly ``maintain`` job when an hour has passed. The sandbox answers instantly on the simulated
clock but counts requests and enforces its rate limit (10 requests/s, burst 10); the planner's
pacing sleeps advance the simulated clock. Everything runs against a real SQLite file with the real
claim/apply code.

Counted: **calls** = HTTP-level requests to the carrier (one batch of up to 40 numbers = one call,
rate-limited rejections included); **lookups** = tracking numbers asked about. Staleness = our
record time of a scan (``TrackingEvent.recorded_at``) minus the carrier's scan time.

The naive baseline polls every active shipment on every hour (batched the same way) until it has
seen a final status; it is computed from the same sandbox journeys without a database.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select

from carriers import sandbox
from carriers.status import (
    TERMINAL,
    Status,
)
from postpurchase import create_app
from postpurchase.brands import create_brand
from postpurchase.db import get_db, session_scope
from postpurchase.models import Shipment, TrackingEvent
from postpurchase.signals import shipment_created
from postpurchase.tracking.planner import maintain, poll_due
from postpurchase.tracking.routing import account, configure_adapter

START = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # 2026-12-01 00:00 JST
BATCH = 40


class SimClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def handovers(count: int, days: int, rng: random.Random) -> list[datetime]:
    times = []
    for _ in range(count):
        day = rng.randrange(days)
        minute = rng.randrange(10 * 60, 19 * 60)  # 10:00-19:00 JST
        times.append(START + timedelta(days=day, minutes=minute))
    return sorted(times)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def naive(numbers: list[str], end: datetime) -> dict[str, float]:
    """Hourly polling of every active shipment: calls, lookups, delivered staleness."""
    journeys = {n: sandbox.journey(n) for n in numbers}
    created = {n: sandbox.handed_over_at(n) for n in numbers}
    calls = lookups = 0
    delivered_stale: list[float] = []
    seen_final: set[str] = set()
    tick = START
    while tick <= end:
        active = [n for n in numbers if created[n] <= tick and n not in seen_final]
        calls += math.ceil(len(active) / BATCH)
        lookups += len(active)
        for n in active:
            last = journeys[n][-1]
            if last.at <= tick and last.status in TERMINAL:
                seen_final.add(n)
                if last.status.value == "delivered":
                    delivered_stale.append((tick - last.at).total_seconds() / 60)
        tick += timedelta(hours=1)
    return {
        "calls": calls,
        "lookups": lookups,
        "delivered": len(delivered_stale),
        "p50": statistics.median(delivered_stale),
        "p95": percentile(delivered_stale, 0.95),
    }


def simulate(count: int, days: int, tick_seconds: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    workdir = Path(tempfile.mkdtemp(prefix="pp-bench-polling-"))
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
            "INSTANCE_PATH": str(workdir),
            "SECRET_KEY": "bench",
            "SCHEDULER": False,
            "LOG_LEVEL": "WARNING",
        }
    )
    get_db(app).create_all()
    clock = SimClock(START)
    configure_adapter(app, "sandbox", clock=clock, requests_per_second=10, burst=10)
    with app.app_context(), session_scope(app) as session:
        brand_id = create_brand(
            session=session, slug="bench", name="Bench", timezone="Asia/Tokyo"
        ).brand_id
    times = handovers(count, days - 3, rng)
    numbers = [sandbox.tracking_number(at, i) for i, at in enumerate(times)]
    end = START + timedelta(days=days)
    pending = 0
    next_hour = START
    wall = time.perf_counter()
    with app.app_context():
        while clock.now < end:
            now = clock.now
            batch = []
            while pending < len(numbers) and times[pending] <= now:
                batch.append(pending)
                pending += 1
            if batch:
                with session_scope(app) as session:
                    rows = [
                        {
                            "brand_id": brand_id,
                            "external_id": f"B{i}",
                            "parcel_index": 0,
                            "carrier_code": "sandbox",
                            "service": "standard",
                            "tracking_number": numbers[i],
                            "status": Status.pending,
                            "shipped_at": times[i],
                            "created_at": times[i],
                            "updated_at": times[i],
                            "poll_failures": 0,
                            "delivery_option": "door",
                            "lines": [],
                        }
                        for i in batch
                    ]
                    ids = (
                        session.execute(insert(Shipment).returning(Shipment.id), rows)
                        .scalars()
                        .all()
                    )
                    for shipment_id in ids:
                        shipment_created.send(
                            brand_id, session=session, shipment_id=shipment_id, now=now
                        )
            poll_due(app, clock=clock, sleep=clock.sleep)
            if clock.now >= next_hour:
                maintain(app, now=clock.now)
                next_hour += timedelta(hours=1)
            clock.now = max(clock.now, now + timedelta(seconds=tick_seconds))
    wall = time.perf_counter() - wall
    adapter = account(app, "sandbox", None).adapter
    with session_scope(app) as session:
        rows = session.execute(
            select(
                TrackingEvent.status,
                TrackingEvent.occurred_at,
                TrackingEvent.recorded_at,
                TrackingEvent.carrier_code,
            ).where(
                TrackingEvent.status.in_(
                    [
                        Status.out_for_delivery,  # type: ignore[attr-defined]
                        Status.delivered,
                    ]
                )
            )
        ).all()
        delivered = session.execute(
            select(Shipment.id).where(Shipment.status == Status.delivered)
        ).all()
    stale: dict[str, list[float]] = {
        "out_for_delivery": [],
        "delivered": [],
        "DELIVERED": [],
        "PICKED_UP": [],
    }
    for status, occurred, recorded, code in rows:
        minutes = (recorded - occurred).total_seconds() / 60
        stale[Status(status).value].append(minutes)
        if code in stale:
            stale[code].append(minutes)
    base = naive(numbers, end)
    return {
        "shipments": count,
        "delivered": len(delivered),
        "calls": adapter.calls,
        "lookups": adapter.numbers,
        "rejected": adapter.rejected,
        "wall": wall,
        "ofd_p50": statistics.median(stale["out_for_delivery"]),
        "ofd_p95": percentile(stale["out_for_delivery"], 0.95),
        "dlv_p50": statistics.median(stale["delivered"]),
        "dlv_p95": percentile(stale["delivered"], 0.95),
        "door_p95": percentile(stale["DELIVERED"], 0.95),
        "pickup_p95": percentile(stale["PICKED_UP"], 0.95),
        "naive_calls": base["calls"],
        "naive_lookups": base["lookups"],
        "naive_delivered": base["delivered"],
        "naive_p50": base["p50"],
        "naive_p95": base["p95"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument(
        "--tick", type=int, default=60, help="simulated seconds between planner runs"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    r = simulate(args.shipments, args.days, args.tick, args.seed)
    print(
        f"{r['shipments']} shipments, {args.days} simulated days, planner every {args.tick} s; "
        f"wall time {r['wall']:.1f} s"
    )
    print(f"{'':28}{'planner':>12}{'naive hourly':>14}")
    print(f"{'delivered shipments':28}{r['delivered']:>12}{r['naive_delivered']:>14}")
    print(f"{'carrier calls (requests)':28}{r['calls']:>12}{r['naive_calls']:>14}")
    print(
        f"{'calls per delivered':28}{r['calls'] / r['delivered']:>12.2f}"
        f"{r['naive_calls'] / r['naive_delivered']:>14.2f}"
    )
    print(f"{'lookups (numbers asked)':28}{r['lookups']:>12}{r['naive_lookups']:>14}")
    print(
        f"{'lookups per delivered':28}{r['lookups'] / r['delivered']:>12.2f}"
        f"{r['naive_lookups'] / r['naive_delivered']:>14.2f}"
    )
    print(f"{'calls vs naive':28}{r['calls'] / r['naive_calls']:>12.1%}")
    print(f"{'rate-limited rejections':28}{r['rejected']:>12}")
    print(f"{'staleness OFD p50/p95 min':28}{r['ofd_p50']:>6.0f}/{r['ofd_p95']:<5.0f}")
    print(f"{'  door / pickup p95 min':28}{r['door_p95']:>6.0f}/{r['pickup_p95']:<5.0f}")
    print(
        f"{'staleness dlv p50/p95 min':28}{r['dlv_p50']:>6.0f}/{r['dlv_p95']:<5.0f}"
        f"{r['naive_p50']:>8.0f}/{r['naive_p95']:<5.0f}"
    )


if __name__ == "__main__":
    main()
