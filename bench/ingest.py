"""Ingest benchmark: signed shipment.created events into gunicorn (2 workers), SQLite, loopback.

    python bench/ingest.py [--events 20000] [--concurrency 8] [--runs 1]
        [--workers N [--workers-after]]

Creates a throwaway instance folder and brand (``postpurchase init --json``), seeds the orders of
95% of the shipments, then posts 20,000 signed ``shipment.created`` events (3 lines each): 10% of
the posts are re-deliveries of an earlier event (same body, fresh signature) and 5% of the
shipments arrive before their ``order.created``, which is posted a little later. It reports
accepted events/s, p50/p99 latency, the time until every event is processed, rows lost and
duplicates applied twice, and the ratio to a bare Flask endpoint answering 204 under the same
gunicorn setup and the same client.

Two modes:

- default (``--workers 0``): ``INBOX_INLINE`` on, each web process applies what it accepted in a
  background thread (batches of at most ``WORKER_BATCH`` events), as the figures in BENCHMARKS.md
  up to 2026-12-02 were measured;
- ``--workers N``: the web processes only accept (``INBOX_INLINE=false``) and ``N`` separate
  ``postpurchase worker`` processes apply the inbox (batches of ``BATCH_SIZE``; they poll every
  ``--poll-ms``, SQLite has no notifications). The workers run during the posts (acceptance and
  processing side by side on the same cores); with ``--workers-after`` they start only after the
  last answer, so the acceptance and the processing figures are each measured alone. The
  processing rate is then the events over the time from the workers' start until all are
  processed. The workers also run the scheduler (its jobs find nothing to do here).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PATH = "/webhooks/wms"


def bare_app():  # type: ignore[no-untyped-def]
    """The baseline: a Flask endpoint that reads the body and answers 204."""
    from flask import Flask, request

    app = Flask("bare")

    @app.post(PATH)
    def bare() -> tuple[str, int]:
        request.get_data()
        return "", 204

    return app


@dataclass
class Post:
    body: bytes
    kind: str  # shipment, duplicate, order


def build_posts(total: int, seed: int = 7) -> tuple[list[Post], list[str], int]:
    """The post sequence, the orders to seed, and the number of unique shipments."""
    rng = random.Random(seed)
    duplicates = total // 10
    unique = total - duplicates
    late = set(rng.sample(range(unique), unique // 20))
    base = datetime(2026, 11, 21, 5, 0, tzinfo=UTC)
    shipments: list[Post] = []
    orders_late: dict[int, Post] = {}
    for i in range(unique):
        when = (base + timedelta(seconds=i)).isoformat()
        data = {
            "shipment_id": f"SH-{i:06d}",
            "order_id": f"SO-{i:06d}",
            "fc_code": "ICHIKAWA-1",
            "carrier": ("yamato", "sagawa", "japanpost")[i % 3],
            "service": "宅急便",
            "tracking_number": f"4912{i:08d}",
            "shipped_at": when,
            "weight_g": 900 + i % 700,
            "cost": 930,
            "currency": "JPY",
            "time_slot": ("morning", "14-16", "19-21")[i % 3],
            "delivery_option": "leave_at_door",
            "lines": [{"sku": f"SKU-{(i + k) % 500:04d}", "quantity": 1 + k} for k in range(3)],
        }
        body = json.dumps(
            {
                "id": f"evt-sh-{i:06d}",
                "type": "shipment.created",
                "occurred_at": when,
                "data": data,
            },
            ensure_ascii=False,
        ).encode()
        shipments.append(Post(body, "shipment"))
        if i in late:
            order = {
                "order_id": f"SO-{i:06d}",
                "number": f"#{i}",
                "placed_at": when,
                "shipping_address": {"postal_code": "150-0001", "region": "東京都"},
                "lines": [
                    {"sku": f"SKU-{(i + k) % 500:04d}", "quantity": 1 + k, "unit_price": 1980}
                    for k in range(3)
                ],
            }
            orders_late[i] = Post(
                json.dumps(
                    {
                        "id": f"evt-so-{i:06d}",
                        "type": "order.created",
                        "occurred_at": when,
                        "data": order,
                    },
                    ensure_ascii=False,
                ).encode(),
                "order",
            )
    posts: list[Post] = []
    pending_orders: list[tuple[int, Post]] = []
    for i, shipment in enumerate(shipments):
        posts.append(shipment)
        if i in orders_late:
            pending_orders.append((i + rng.randint(20, 400), orders_late[i]))
        while pending_orders and pending_orders[0][0] <= i:
            posts.append(pending_orders.pop(0)[1])
        pending_orders.sort(key=lambda pair: pair[0])
    posts.extend(post for _, post in pending_orders)
    position_of = {id(post): index for index, post in enumerate(posts)}
    inserts: dict[int, list[Post]] = {}
    for _ in range(duplicates):
        original = shipments[rng.randrange(unique)]
        after = rng.randint(position_of[id(original)], len(posts) - 1)
        inserts.setdefault(after, []).append(Post(original.body, "duplicate"))
    posts = [p for index, post in enumerate(posts) for p in (post, *inserts.get(index, ()))]
    seeded = [f"SO-{i:06d}" for i in range(unique) if i not in late]
    return posts, seeded, unique


def profile_app(prefix: str, **config):  # type: ignore[no-untyped-def]
    """A throwaway app on a new SQLite file with its schema, accepting without processing inline
    (what the profiles time in one process); ``config`` adds or overrides settings."""
    from postpurchase import create_app
    from postpurchase.db import get_db

    work = Path(tempfile.mkdtemp(prefix=prefix))
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{work / 'p.db'}",
            "INSTANCE_PATH": str(work),
            "SECRET_KEY": "profile",
            "SCHEDULER": False,
            "INBOX_INLINE": False,
            "LOG_LEVEL": "WARNING",
            **config,
        }
    )
    get_db(app).create_all()
    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(
    target: str,
    chdir: Path,
    env: dict[str, str],
    *,
    workers: int = 2,
    worker_class: str = "sync",
    threads: int = 1,
) -> tuple[subprocess.Popen, int]:
    """gunicorn serving ``target`` on a free loopback port, once it answers (2 sync workers unless
    told otherwise)."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-k",
            worker_class,
            "--threads",
            str(threads),
            "-b",
            f"127.0.0.1:{port}",
            "--chdir",
            str(chdir),
            "--backlog",
            "2048",
            "--log-level",
            "warning",
            target,
        ],
        env=env,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        # An answer, not just an open port: the master listens before its workers have imported
        # the app, and the first posts would otherwise wait for that (seconds, in p99 of short runs).
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/")
            connection.getresponse().read()
            connection.close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"gunicorn did not start: {target}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


@dataclass
class Load:
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


def post_all(port: int, posts: list[Post], concurrency: int, api_key: str, secret: str) -> Load:
    """Post everything from ``concurrency`` threads, each with its own connection."""
    from postpurchase.inbox.signing import sign

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    cursor = iter(range(len(posts)))

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        codes: dict[int, int] = {}
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                break
            body = posts[index].body
            headers = {
                "Authorization": f"Bearer {api_key}",
                "Content-Type": "application/json",
                "X-Postpurchase-Signature": sign(secret, body, int(time.time())),
            }
            started = time.perf_counter()
            try:
                connection.request("POST", PATH, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
            except (ConnectionError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                connection.request("POST", PATH, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
            mine.append(time.perf_counter() - started)
            codes[response.status] = codes.get(response.status, 0) + 1
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        with lock:
            latencies.extend(mine)
            for code, count in codes.items():
                statuses[code] = statuses.get(code, 0) + count

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Load(time.perf_counter() - started, latencies, statuses)


def seed_orders(env: dict[str, str], brand_slug: str, external_ids: list[str]) -> None:
    """Orders that arrived before the benchmark (95% of the shipments' orders)."""
    os.environ.update(env)
    from sqlalchemy import insert

    from postpurchase import create_app
    from postpurchase.brands import get_brand
    from postpurchase.db import session_scope
    from postpurchase.models import Order

    app = create_app()
    now = datetime.now(UTC)
    with session_scope(app) as session:
        brand = get_brand(session=session, slug=brand_slug)
        assert brand is not None
        session.execute(
            insert(Order),
            [
                {
                    "brand_id": brand.id,
                    "external_id": external_id,
                    "number": f"#{external_id}",
                    "placed_at": now,
                    "shipping_postal_code": "150-0001",
                    "shipping_region": "東京都",
                    "shipping_country": "JP",
                    "attributes": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for external_id in external_ids
            ],
        )


def wait_processed(
    db_path: Path, expected: int, timeout: float = 600
) -> tuple[float, dict[str, int]]:
    """Seconds until ``expected`` events are processed (or the timeout), and the state counts."""
    started = time.perf_counter()
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    counts: dict[str, int] = {}
    while time.perf_counter() - started < timeout:
        counts = dict(connection.execute("SELECT state, count(*) FROM inboxevent GROUP BY state"))
        if (
            counts.get("pending", 0) == counts.get("deferred", 0) == 0
            and sum(counts.values()) >= expected
        ):
            break
        time.sleep(0.25)
    connection.close()
    return time.perf_counter() - started, counts


def processing_span(db_path: Path) -> float:
    """Seconds from the first to the last processed event (their ``processed_at``).

    A batch's events share the time its unit of work started, so this leaves out one batch."""
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    first, last = connection.execute(
        "SELECT min(processed_at), max(processed_at) FROM inboxevent WHERE state = 'processed'"
    ).fetchone()
    connection.close()
    return (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()


def verify(db_path: Path, unique_shipments: int, late_orders: int) -> dict[str, int]:
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    one = lambda sql: connection.execute(sql).fetchone()[0]  # noqa: E731
    shipments = one("SELECT count(*) FROM shipment")
    distinct = one("SELECT count(DISTINCT external_id) FROM shipment")
    linked = one("SELECT count(*) FROM shipment WHERE order_id IS NOT NULL")
    applied = one(
        "SELECT count(*) FROM inboxevent WHERE state = 'processed' "
        "AND event_type = 'shipment.created'"
    )
    connection.close()
    return {
        "shipments": shipments,
        "lost": unique_shipments - min(distinct, linked),
        "doubled": (shipments - distinct) + max(0, applied - unique_shipments),
        "late_orders": late_orders,
    }


def start_workers(count: int, env: dict[str, str]) -> list[subprocess.Popen]:
    """``count`` ``postpurchase worker`` processes (inbox processing and the scheduler)."""
    return [
        subprocess.Popen([sys.executable, "-m", "postpurchase.cli", "worker"], env=env, cwd=ROOT)
        for _ in range(count)
    ]


def run_once(args: argparse.Namespace, posts: list[Post], seeded: list[str], unique: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="pp-bench-"))
    inline = "false" if args.workers else os.environ.get("BENCH_INLINE", "true")
    env = {
        **os.environ,
        "POSTPURCHASE_INSTANCE_PATH": str(work),
        "POSTPURCHASE_DATABASE_URL": "",
        "POSTPURCHASE_LOG_LEVEL": "WARNING",
        "POSTPURCHASE_SCHEDULER": "false",
        "POSTPURCHASE_INBOX_INLINE": inline,
        "POSTPURCHASE_INBOX_POLL_MS": str(args.poll_ms),
    }
    created = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-m",
                "postpurchase.cli",
                "init",
                "--brand-slug",
                "bench",
                "--name",
                "Bench 茶舗",
                "--json",
            ],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
    )
    seed_orders(env, "bench", seeded)

    bare, port = start_gunicorn("ingest:bare_app()", ROOT / "bench", env)
    try:
        baseline = post_all(
            port, posts, args.concurrency, created["api_key"], created["signing_secret"]
        )
    finally:
        stop(bare)

    server, port = start_gunicorn("wsgi:app", ROOT, env)
    workers: list[subprocess.Popen] = []
    try:
        if not args.workers_after:
            workers = start_workers(args.workers, env)
        started = time.perf_counter()
        load = post_all(
            port, posts, args.concurrency, created["api_key"], created["signing_secret"]
        )
        late_orders = sum(post.kind == "order" for post in posts)
        if args.workers_after:
            started = time.perf_counter()
            workers = start_workers(args.workers, env)
        waited, states = wait_processed(work / "postpurchase.db", unique + late_orders)
        processed_after = time.perf_counter() - started
        if args.workers_after:  # from the first verdict, not from the workers' start-up
            processed_after = processing_span(work / "postpurchase.db")
    finally:
        for process in [server, *workers]:
            stop(process)
    checks = verify(work / "postpurchase.db", unique, late_orders)
    return {
        "posts": len(posts),
        "bare_rate": baseline.rate,
        "rate": load.rate,
        "ratio": load.rate / baseline.rate,
        "p50": load.percentile(0.50),
        "p99": load.percentile(0.99),
        "bare_p99": baseline.percentile(0.99),
        "statuses": load.statuses,
        "all_processed_s": processed_after,
        "drain_after_last_post_s": waited,
        "processing_rate": (unique + late_orders) / processed_after,
        "states": states,
        **checks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="0: web processes apply what they accept (INBOX_INLINE); N: they only accept and N "
        "`postpurchase worker` processes apply the inbox",
    )
    parser.add_argument(
        "--workers-after",
        action="store_true",
        help="start the workers after the last answer (acceptance and processing measured alone)",
    )
    parser.add_argument("--poll-ms", type=int, default=100, help="the workers' INBOX_POLL_MS")
    args = parser.parse_args()
    if args.workers_after and not args.workers:
        parser.error("--workers-after needs --workers N")
    posts, seeded, unique = build_posts(args.events)
    results = [run_once(args, posts, seeded, unique) for _ in range(args.runs)]
    rows = [
        ("posts (shipment.created + late order.created)", "posts", "{:.0f}"),
        ("bare Flask 204, requests/s", "bare_rate", "{:.0f}"),
        ("intake accepted events/s", "rate", "{:.0f}"),
        ("ratio to bare (target >= 0.40)", "ratio", "{:.2f}"),
        ("p50 latency ms", "p50", "{:.1f}"),
        ("p99 latency ms (target <= 100)", "p99", "{:.1f}"),
        ("bare p99 latency ms", "bare_p99", "{:.1f}"),
        (
            "seconds until all processed"
            + (" (first to last verdict)" if args.workers_after else ""),
            "all_processed_s",
            "{:.1f}",
        ),
        ("  of which after the last answer", "drain_after_last_post_s", "{:.1f}"),
        ("processed events/s (target >= 500)", "processing_rate", "{:.0f}"),
        ("rows lost (target 0)", "lost", "{:.0f}"),
        ("duplicates applied twice (target 0)", "doubled", "{:.0f}"),
    ]
    if not args.workers:
        mode = "processing inline in the web processes"
    else:
        mode = f"web processes only accept, {args.workers} `postpurchase worker` process(es) " + (
            "started after the last answer" if args.workers_after else "during the posts"
        )
    print(
        f"\ningest benchmark: {args.events} shipment.created posts, concurrency "
        f"{args.concurrency}, gunicorn -w 2 (sync), SQLite WAL, {mode}, {args.runs} run(s), median"
    )
    for label, key, fmt in rows:
        values = [r[key] for r in results]
        print(
            f"{label:<48} {fmt.format(statistics.median(values)):>10}   "
            + " ".join(fmt.format(v) for v in values)
        )
    print("status codes:", results[-1]["statuses"], " inbox states:", results[-1]["states"])


if __name__ == "__main__":
    main()
