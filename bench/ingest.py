"""Ingest benchmark: signed shipment.created events into gunicorn (2 workers), SQLite or PostgreSQL.

    python bench/ingest.py [--events 20000] [--concurrency 8] [--runs 1] [--customers 0]
        [--workers N [--workers-after] [--unit-ms 25]] [--postgres | --database-url URL]
        [--history N [--statistics]]

Creates a throwaway instance folder and brand (``postpurchase init --json``), seeds the orders of
95% of the shipments, then posts 20,000 signed ``shipment.created`` events (3 lines each): 10% of
the posts are re-deliveries of an earlier event (same body, fresh signature) and 5% of the
shipments arrive before their ``order.created``, which is posted a little later. It reports
accepted events/s, p50/p99 latency, the time until every event is processed, rows lost and
duplicates applied twice, and the ratio to a bare Flask endpoint answering 204 under the same
gunicorn setup and the same client; then the CPU time per event of the web processes (and per
request of the bare endpoint's), of the client (this process: the two share the cores with the
server), of the workers and (``--postgres``) of the database server, read from ``/proc`` (Linux)
and ``time.process_time``, and the load
average at the start and the end of each run: wall-clock rates on a shared machine say little
without them.

The database: SQLite (WAL) in the instance folder by default; ``--postgres`` starts a throwaway
PostgreSQL cluster (``scripts/pg-start`` in a temporary folder on a free port) and stops it at the
end; ``--database-url URL`` uses an existing PostgreSQL database, whose ``public`` schema every run
drops and migrates afresh (a throwaway database only). Lost and doubled rows are counted with the
same SQLAlchemy queries on both.

Two modes:

- default (``--workers 0``): ``INBOX_INLINE`` on, each web process applies what it accepted in a
  background thread (batches of at most ``WORKER_BATCH`` events), as the figures in BENCHMARKS.md
  up to 2026-12-02 were measured;
- ``--workers N``: the web processes only accept (``INBOX_INLINE=false``) and ``N`` separate
  ``postpurchase worker`` processes apply the inbox (batches of ``INBOX_BATCH`` events and at most
  ``--unit-ms`` of work, claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL). On PostgreSQL the workers are woken by
  ``LISTEN/NOTIFY`` and poll every ``--poll-ms`` besides; SQLite has no notifications, they only
  poll. The workers start before the posts and, once idle (imported and listening), run during
  them (acceptance and processing side by side on the same cores); the time until all are
  processed counts from the first post. With ``--workers-after`` they start only after the last
  answer, so the acceptance and the processing figures are each measured alone: the processing
  rate is then the events over the time from the first to the last verdict (``processed_at``),
  and the workers' CPU counts from the first verdict, so their start-up is left out. The workers
  also run the scheduler (its jobs find nothing to do here).

``--history N`` first writes N past orders of the brand with delivered parcels (a grown brand, as
a 3PL's peak day meets it; not timed, not counted in lost or doubled) and ``--statistics`` gathers
the planner statistics a running database has (SQLite's ``ops.statistics`` job, PostgreSQL's
autovacuum) before the posts: without them PostgreSQL's planner reads a fresh table by its first
index column and filters, or, analyzed while empty, checks each foreign key with a scan.

``--customers SHARE`` gives that share of the orders (seeded and late) a customer with an email
address and a phone number, who consents to transactional email: processing then has someone to
write to (shipped messages, suppressions, profiles), as a brand's real orders do. The default, 0,
is how every figure up to 2026-12-03 was measured.

Scaling from 1 to 2 workers: run ``--workers 1`` and ``--workers 2`` (with and without
``--workers-after``) back to back and compare processed events/s and worker CPU per event.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from processes import (  # noqa: E402
    SYNC_WORKER,
    Postgres,
    cpu_seconds,
    fresh_database,
    start_gunicorn,
    start_workers,
    stop,
    throwaway_postgres,
    wait_idle,
    worker_name,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

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


def has_customer(i: int, share: float) -> bool:
    """Whether order ``i`` has a customer, for ``share`` of the orders, spread evenly."""
    return share > 0 and int((i + 1) * share) > int(i * share)


def customer_of(i: int) -> dict[str, Any]:
    """The customer of order ``i`` as the generic schema sends it."""
    return {
        "customer_id": f"C-{i:06d}",
        "email": f"c{i:06d}@example.jp",
        "phone": f"090-{i // 10000 % 10000:04d}-{i % 10000:04d}",
        "name": "山田 花子",
        "locale": "ja",
        "consent": {"email": {"transactional": True, "marketing": False}},
    }


def build_posts(
    total: int, seed: int = 7, customers: float = 0.0
) -> tuple[list[Post], list[str], int]:
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
                **({"customer": customer_of(i)} if has_customer(i, customers) else {}),
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
    """A throwaway app on a new SQLite file (unless ``config`` names a ``DATABASE_URL``) with its
    schema, accepting without processing inline (what the profiles time in one process);
    ``config`` adds or overrides settings."""
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


def add_history_arguments(parser: argparse.ArgumentParser) -> None:
    """``--history N`` and ``--statistics``, for the profiles that time a grown brand."""
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        help="first write this many past orders of the brand, each with a delivered parcel (a grown "
        "brand; in bulk, not timed)",
    )
    parser.add_argument(
        "--statistics",
        action="store_true",
        help="gather planner statistics before timing, as a running database has them: SQLite's "
        "as the scheduler's ops.statistics job does once the file grows (without: none, as a file "
        "has until then), PostgreSQL's as autovacuum does within a minute of the rows' arrival "
        "(without: none, as in a cluster's first minute)",
    )


def gather_statistics(app, now: datetime) -> None:  # type: ignore[no-untyped-def]
    """``--statistics``: the planner statistics a running database has, saying whether any were
    gathered (SQLite: as the scheduler's job would now, none below its first size; PostgreSQL:
    ``ANALYZE``, as autovacuum would have)."""
    from postpurchase.db import get_db
    from postpurchase.ops.statistics import FIRST_PAGES, refresh_sqlite_statistics

    with app.app_context():
        if not get_db(app).is_sqlite:
            with get_db(app).engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE")
            print("planner statistics gathered (ANALYZE)")
            return
        gathered = refresh_sqlite_statistics(app, now=now)
    print(
        "planner statistics gathered"
        if gathered
        else f"no planner statistics: the file is below {FIRST_PAGES} pages, as the job leaves it"
    )


#: The start of the order and parcel ids :func:`add_history` writes (the runs' own are counted
#: apart).
HISTORY_ORDER = "H-"
HISTORY_PARCEL = "HS-"


def _inserted_ids(connection, model, rows: list[dict[str, Any]]) -> list[int]:  # type: ignore[no-untyped-def]
    """Insert ``rows`` of ``model`` in one statement; their ids in the rows' order."""
    from sqlalchemy import insert

    statement = insert(model).returning(model.id, sort_by_parameter_order=True)
    return list(connection.execute(statement, rows).scalars().all())


def add_history(app, brand_id: int, orders: int, now: datetime) -> None:  # type: ignore[no-untyped-def]
    """``orders`` past orders of the brand, each with a delivered parcel and half of them from 500
    returning customers, written in bulk (no events, no processing): the history a grown brand's
    lookups and rollups search. Planner statistics are not gathered here
    (:func:`gather_statistics`)."""
    from sqlalchemy import insert

    from postpurchase.db import get_db
    from postpurchase.models import Customer, Order, Shipment

    engine = get_db(app).engine
    with engine.begin() as connection:
        customers = _inserted_ids(
            connection,
            Customer,
            [
                {
                    "brand_id": brand_id,
                    "external_id": f"C-H{i:04d}",
                    "email": f"h{i}@example.jp",
                    "consent": {},
                    "attributes": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(500)
            ],
        )
    for start in range(0, orders, 5_000):
        chunk = range(start, min(orders, start + 5_000))
        placed = [now - timedelta(days=1 + i % 700, minutes=i % 1440) for i in chunk]
        with engine.begin() as connection:
            ids = _inserted_ids(
                connection,
                Order,
                [
                    {
                        "brand_id": brand_id,
                        "external_id": f"{HISTORY_ORDER}{i:07d}",
                        "number": f"#H{i}",
                        "customer_id": customers[i % 500] if i % 2 else None,
                        "email": f"h{i % 500}@example.jp",
                        "placed_at": when,
                        "total_amount": 5940,
                        "shipping_postal_code": "150-0001",
                        "shipping_region": "東京都",
                        "shipping_country": "JP",
                        "attributes": {},
                        "created_at": when,
                        "updated_at": when,
                    }
                    for i, when in zip(chunk, placed, strict=True)
                ],
            )
            connection.execute(
                insert(Shipment),
                [
                    {
                        "brand_id": brand_id,
                        "order_id": order_id,
                        "external_id": f"{HISTORY_PARCEL}{i:07d}",
                        "carrier_code": ("yamato", "sagawa", "japanpost")[i % 3],
                        "tracking_number": f"5912{i:08d}",
                        "status": "delivered",
                        "shipped_at": when + timedelta(hours=20),
                        "delivered_at": when + timedelta(days=2),
                        "destination_region": "東京都",
                        "created_at": when,
                        "updated_at": when,
                    }
                    for i, order_id, when in zip(chunk, ids, placed, strict=True)
                ],
            )


def grow(env: dict[str, str], brand_slug: str, history: int, *, statistics: bool) -> None:
    """``--history`` and ``--statistics`` on the run's database, after its orders are seeded."""
    app, brand_id = _run_app(env, brand_slug)
    now = datetime.now(UTC)
    if history:
        add_history(app, brand_id, history, now)
    if statistics:
        gather_statistics(app, now)


def _run_app(env: dict[str, str], brand_slug: str):  # type: ignore[no-untyped-def]
    """This process's app on the run's database (``env``) and the id of its brand."""
    os.environ.update(env)
    from postpurchase import create_app
    from postpurchase.brands import get_brand
    from postpurchase.db import session_scope

    app = create_app()
    with session_scope(app) as session:
        brand = get_brand(session=session, slug=brand_slug)
        assert brand is not None
        return app, brand.id


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


def seed_orders(
    env: dict[str, str], brand_slug: str, external_ids: list[str], customers: float = 0.0
) -> None:
    """Orders that arrived before the benchmark (95% of the shipments' orders), ``customers`` of
    them with their customer."""
    from sqlalchemy import insert, select

    from postpurchase.db import session_scope
    from postpurchase.models import Customer, Order

    app, brand_id = _run_app(env, brand_slug)
    now = datetime.now(UTC)
    with session_scope(app) as session:
        numbered = [(int(external_id.split("-")[1]), external_id) for external_id in external_ids]
        people = {i: customer_of(i) for i, _ in numbered if has_customer(i, customers)}
        if people:
            session.execute(
                insert(Customer),
                [
                    {
                        "brand_id": brand_id,
                        "external_id": person["customer_id"],
                        **{key: person[key] for key in ("email", "phone", "name", "locale")},
                        "consent": person["consent"],
                        "attributes": {},
                        "created_at": now,
                        "updated_at": now,
                    }
                    for person in people.values()
                ],
            )
        ids = dict(
            session.execute(
                select(Customer.external_id, Customer.id).where(Customer.brand_id == brand_id)
            ).all()
        )
        session.execute(
            insert(Order),
            [
                {
                    "brand_id": brand_id,
                    "external_id": external_id,
                    "number": f"#{external_id}",
                    "customer_id": ids[people[i]["customer_id"]] if i in people else None,
                    "email": people[i]["email"] if i in people else None,
                    "placed_at": now,
                    "shipping_postal_code": "150-0001",
                    "shipping_region": "東京都",
                    "shipping_country": "JP",
                    "attributes": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for i, external_id in numbered
            ],
        )


def inbox_states(engine: Engine) -> dict[str, int]:
    """How many inbox events are in each state."""
    from sqlalchemy import func, select

    from postpurchase.models import InboxEvent

    state = InboxEvent.__table__.c.state  # type: ignore[attr-defined]
    with engine.connect() as connection:
        rows = connection.execute(select(state, func.count()).group_by(state)).all()
    return {str(name): count for name, count in rows}


def wait_processed(
    engine: Engine,
    expected: int,
    on_first: Callable[[], None] | None = None,
    timeout: float = 600,
) -> tuple[float, dict[str, int]]:
    """Seconds until ``expected`` events are processed (or the timeout), and the state counts;
    ``on_first`` runs as soon as an event is seen processed."""
    started = time.perf_counter()
    counts: dict[str, int] = {}
    first_seen = False
    while time.perf_counter() - started < timeout:
        counts = inbox_states(engine)
        if not first_seen and counts.get("processed", 0):
            first_seen = True
            if on_first is not None:
                on_first()
        if (
            counts.get("pending", 0) == counts.get("deferred", 0) == 0
            and sum(counts.values()) >= expected
        ):
            break
        time.sleep(0.05 if not first_seen else 0.25)
    return time.perf_counter() - started, counts


def processing_span(engine: Engine) -> float:
    """Seconds from the first to the last processed event (their ``processed_at``).

    A batch's events share the time its unit of work started, so this leaves out one batch."""
    from sqlalchemy import func, select

    from postpurchase.models import InboxEvent

    table = InboxEvent.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        first, last = connection.execute(
            select(func.min(table.c.processed_at), func.max(table.c.processed_at)).where(
                table.c.state == "processed"
            )
        ).one()
    return (last - first).total_seconds()


def verify(engine: Engine, unique_shipments: int, late_orders: int) -> dict[str, int]:
    """Rows lost and events applied twice, counted the same way on SQLite and PostgreSQL."""
    from sqlalchemy import distinct, func, select

    from postpurchase.models import InboxEvent, Shipment

    shipment = Shipment.__table__  # type: ignore[attr-defined]
    inbox = InboxEvent.__table__  # type: ignore[attr-defined]
    posted = ~shipment.c.external_id.startswith(HISTORY_PARCEL)  # not --history's
    with engine.connect() as connection:
        one = lambda query: connection.execute(query).scalar_one()  # noqa: E731
        shipments = one(select(func.count()).where(posted))
        unique = one(select(func.count(distinct(shipment.c.external_id))).where(posted))
        linked = one(select(func.count()).where(posted, shipment.c.order_id.is_not(None)))
        applied = one(
            select(func.count()).where(
                inbox.c.state == "processed", inbox.c.event_type == "shipment.created"
            )
        )
    return {
        "shipments": shipments,
        "lost": unique_shipments - min(unique, linked),
        "doubled": (shipments - unique) + max(0, applied - unique_shipments),
        "late_orders": late_orders,
    }


def run_once(
    args: argparse.Namespace,
    posts: list[Post],
    seeded: list[str],
    unique: int,
    postgres: Postgres | None,
) -> dict:
    """One run on a fresh database: SQLite in a new instance folder, or PostgreSQL (``--postgres``
    or ``--database-url``) with its ``public`` schema dropped and migrated afresh."""
    from sqlalchemy import create_engine

    work = Path(tempfile.mkdtemp(prefix="pp-bench-"))
    url = postgres.url if postgres is not None else args.database_url
    if url:
        fresh_database(url)
    inline = "false" if args.workers else os.environ.get("BENCH_INLINE", "true")
    env = {
        **os.environ,
        "POSTPURCHASE_INSTANCE_PATH": str(work),
        "POSTPURCHASE_DATABASE_URL": url or "",
        "POSTPURCHASE_LOG_LEVEL": "WARNING",
        "POSTPURCHASE_SCHEDULER": "false",
        "POSTPURCHASE_INBOX_INLINE": inline,
        "POSTPURCHASE_INBOX_POLL_MS": str(args.poll_ms),
        "POSTPURCHASE_INBOX_UNIT_MS": str(args.unit_ms),
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
    seed_orders(env, "bench", seeded, args.customers)
    if args.history or args.statistics:
        grow(env, "bench", args.history, statistics=args.statistics)
    engine = create_engine(url or f"sqlite:///{work / 'postpurchase.db'}")
    load_before = os.getloadavg()[0]
    cpu: dict[str, float] = {}

    bare, port = start_gunicorn(
        "ingest:bare_app()", ROOT / "bench", env, worker_class=args.worker_class
    )
    try:
        bare_from, client_from = cpu_seconds(bare.pid, children=True), time.process_time()
        baseline = post_all(
            port, posts, args.concurrency, created["api_key"], created["signing_secret"]
        )
        cpu["bare"] = cpu_seconds(bare.pid, children=True) - bare_from
        cpu["bare_client"] = time.process_time() - client_from
    finally:
        stop(bare)

    server, port = start_gunicorn("wsgi:app", ROOT, env, worker_class=args.worker_class)
    workers: list[subprocess.Popen] = []
    late_orders = sum(post.kind == "order" for post in posts)

    def workers_cpu() -> float:
        return sum(cpu_seconds(worker.pid) for worker in workers)

    def first_verdict() -> None:
        cpu["workers_from"] = workers_cpu()
        cpu["db_verdicts_from"] = postgres.cpu_seconds() if postgres else 0.0

    try:
        if not args.workers_after:
            workers = start_workers(args.workers, env)
            wait_idle(workers)  # imported, connected, listening: start-up is not processing
            first_verdict()
        cpu["web_from"] = cpu_seconds(server.pid, children=True)
        cpu["db_from"] = postgres.cpu_seconds() if postgres else 0.0
        started, client_from = time.perf_counter(), time.process_time()
        load = post_all(
            port, posts, args.concurrency, created["api_key"], created["signing_secret"]
        )
        cpu["web_posts"] = cpu_seconds(server.pid, children=True) - cpu["web_from"]
        cpu["client"] = time.process_time() - client_from
        if args.workers_after:
            started = time.perf_counter()
            workers = start_workers(args.workers, env)
        waited, states = wait_processed(
            engine, unique + late_orders, on_first=first_verdict if args.workers_after else None
        )
        processed_after = time.perf_counter() - started
        if args.workers_after:  # from the first verdict, not from the workers' start-up
            processed_after = processing_span(engine)
        cpu["workers"] = workers_cpu() - cpu.get("workers_from", 0.0)
        cpu["web"] = cpu_seconds(server.pid, children=True) - cpu["web_from"]
        db_to = postgres.cpu_seconds() if postgres else 0.0
        cpu["db"] = db_to - cpu["db_from"]
        cpu["db_verdicts"] = db_to - cpu.get("db_verdicts_from", cpu["db_from"])
    finally:
        for process in [server, *workers]:
            stop(process)
    checks = verify(engine, unique, late_orders)
    engine.dispose()
    events = unique + late_orders
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
        "processing_rate": events / processed_after,
        "states": states,
        "web_cpu_ms_per_post": 1000 * cpu["web_posts"] / len(posts),
        "bare_cpu_ms_per_post": 1000 * cpu["bare"] / len(posts),
        "client_cpu_ms_per_post": 1000 * cpu["client"] / len(posts),
        "bare_client_cpu_ms_per_post": 1000 * cpu["bare_client"] / len(posts),
        "web_cpu_ms_per_event": 1000 * cpu["web"] / events,
        "worker_cpu_ms_per_event": 1000 * cpu["workers"] / events,
        "db_cpu_ms_per_event": 1000 * cpu["db"] / events,
        "db_verdicts_cpu_ms_per_event": 1000 * cpu["db_verdicts"] / events,
        "load": (load_before, os.getloadavg()[0]),
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
    parser.add_argument(
        "--worker-class",
        default=SYNC_WORKER,
        help="gunicorn's -k for both servers (default: the project's sync worker; 'sync' for "
        "gunicorn's own)",
    )
    parser.add_argument(
        "--customers",
        type=float,
        default=0.0,
        help="share of the orders with a customer to write to (default 0, as measured so far)",
    )
    parser.add_argument(
        "--unit-ms",
        type=int,
        default=25,
        help="the workers' INBOX_UNIT_MS (a unit of work's time budget; 60000: none in practice)",
    )
    database = parser.add_mutually_exclusive_group()
    database.add_argument(
        "--postgres",
        action="store_true",
        help="run against a throwaway PostgreSQL cluster (scripts/pg-start in a temporary folder "
        "on a free port, stopped afterwards) instead of SQLite",
    )
    database.add_argument(
        "--database-url",
        help="run against this PostgreSQL database; its public schema is dropped: a throwaway one",
    )
    add_history_arguments(parser)
    args = parser.parse_args()
    if args.workers_after and not args.workers:
        parser.error("--workers-after needs --workers N")
    posts, seeded, unique = build_posts(args.events, customers=args.customers)
    with throwaway_postgres() if args.postgres else nullcontext() as postgres:
        results = [run_once(args, posts, seeded, unique, postgres) for _ in range(args.runs)]
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
        (
            "processed events/s (target >= "
            + ("1,000 on PostgreSQL" if args.postgres or args.database_url else "500")
            + ")",
            "processing_rate",
            "{:.0f}",
        ),
        ("rows lost (target 0)", "lost", "{:.0f}"),
        ("duplicates applied twice (target 0)", "doubled", "{:.0f}"),
        ("web CPU ms per post, during the posts", "web_cpu_ms_per_post", "{:.2f}"),
        ("  bare Flask's CPU ms per post", "bare_cpu_ms_per_post", "{:.2f}"),
        ("client CPU ms per post (this process)", "client_cpu_ms_per_post", "{:.2f}"),
        ("  posting to bare Flask", "bare_client_cpu_ms_per_post", "{:.2f}"),
        ("web CPU ms per event, until all processed", "web_cpu_ms_per_event", "{:.2f}"),
    ]
    if args.workers:
        rows.append(("worker CPU ms per event (all workers)", "worker_cpu_ms_per_event", "{:.2f}"))
    if args.postgres:
        rows.append(("PostgreSQL CPU ms per event (server)", "db_cpu_ms_per_event", "{:.2f}"))
        if args.workers_after:
            rows.append(("  from the first verdict", "db_verdicts_cpu_ms_per_event", "{:.2f}"))
    if not args.workers:
        mode = "processing inline in the web processes"
    else:
        mode = f"web processes only accept, {args.workers} `postpurchase worker` process(es) " + (
            "started after the last answer" if args.workers_after else "during the posts"
        )
    engine = "PostgreSQL" if args.postgres or args.database_url else "SQLite WAL"
    if args.history:
        engine += f", a brand grown by {args.history} past orders"
    if args.statistics:
        engine += ", planner statistics gathered before the posts"
    print(
        f"\ningest benchmark: {args.events} shipment.created posts, concurrency "
        f"{args.concurrency}, gunicorn -w 2 ({worker_name(args.worker_class)}), {engine}, {mode}, "
        f"{args.runs} run(s), median"
    )
    for label, key, fmt in rows:
        values = [r[key] for r in results]
        print(
            f"{label:<52} {fmt.format(statistics.median(values)):>10}   "
            + " ".join(fmt.format(v) for v in values)
        )
    print("status codes:", results[-1]["statuses"], " inbox states:", results[-1]["states"])
    print(
        "load average (1 min) at the start and the end of each run:",
        ", ".join(f"{start:.2f} -> {end:.2f}" for start, end in (r["load"] for r in results)),
    )


if __name__ == "__main__":
    main()
