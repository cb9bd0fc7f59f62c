"""Profile event processing alone: ``process_pending`` over stored ``shipment.created`` events.

    python bench/ingest_profile.py [--events 3000] [--customers 0.5] [--top 25] [--sort tottime] [--no-profile]
        [--save PATH] [--profile-refresh] [--statements] [--batch 50] [--unit-ms 60000] [--late-orders]
        [--orders-as-events] [--history N [--statistics]] [--database-url URL]

Single process, fresh SQLite file (or, with ``--database-url``, a PostgreSQL database whose
``public`` schema is dropped and migrated afresh: a throwaway one), every feature connected (EDD,
tracking, messaging). The events
are the ones ``bench/ingest.py`` posts (3 lines each); their orders are seeded first, and a share
(``--customers``) of them has a customer with an email address and a phone number, so messaging
has someone to write to (the HTTP benchmark's orders have none). Prints events/s, SQL statements
per event and, unless ``--no-profile``, the functions with the most cumulative time (with
``--profile-refresh``, those of the ``profiles.refresh`` job that follows). ``--batch``
sets how many events one unit of work claims (the inline worker of a web process takes at most
``WORKER_BATCH``, the ``postpurchase worker`` loop ``INBOX_BATCH``). ``--history N`` first gives the
brand N past orders with delivered parcels (a grown brand), ``--statistics`` gathers the
planner statistics before timing (SQLite's as its job does, PostgreSQL's with ``ANALYZE``).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import re
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def large_statement_conversions() -> str | None:
    """On PostgreSQL, how often psycopg converted a large statement anew (its cache missed) and
    how often it reused one, since the process started (the history's inserts included)."""
    try:
        from psycopg import _queries
    except ImportError:
        return None
    info = getattr(getattr(_queries, "_query2pg_nocache", None), "cache_info", None)
    if info is None:
        return None
    seen = info()
    return f"large statements converted {seen.misses} times, reused {seen.hits} times"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--customers", type=float, default=0.5)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--sort", default="cumulative", help="pstats sort key (e.g. tottime)")
    parser.add_argument(
        "--save", metavar="PATH", help="also write the raw profile here (for pstats or snakeviz)"
    )
    parser.add_argument(
        "--profile-refresh",
        action="store_true",
        help="profile the profiles.refresh job that follows processing, instead of processing",
    )
    parser.add_argument(
        "--statements",
        action="store_true",
        help="print how many times each SQL statement ran (its first 90 characters)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=None,
        help="INBOX_BATCH: events per unit of work (default: the inbox's, 50 on SQLite and 200 on "
        "PostgreSQL)",
    )
    parser.add_argument(
        "--unit-ms",
        type=int,
        default=60_000,
        help="INBOX_UNIT_MS: time budget of a unit of work (default: none in practice, so each "
        "unit holds --batch events)",
    )
    parser.add_argument(
        "--disconnect",
        action="append",
        default=[],
        choices=["edd", "tracking", "messaging"],
        help="measure without this feature's shipment_created receivers (repeatable)",
    )
    parser.add_argument(
        "--late-orders",
        action="store_true",
        help="process bench/ingest.py's stream as posted: 5%% of the orders are not seeded and "
        "arrive as order.created events after their parcels (without it every order is seeded)",
    )
    parser.add_argument(
        "--orders-as-events",
        action="store_true",
        help="process bench/load.py's stream instead: every order arrives as an order.created "
        "(with a new customer with an email address) before its one shipment.created; --events "
        "counts both, and nothing is seeded",
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="a throwaway PostgreSQL database instead of SQLite (its public schema is dropped)",
    )
    from ingest import add_history_arguments

    add_history_arguments(parser)
    args = parser.parse_args()

    from ingest import add_history, build_posts, gather_statistics, profile_app
    from processes import fresh_database
    from sqlalchemy import event as sa_event
    from sqlalchemy import insert

    from postpurchase import signals
    from postpurchase.brands import create_brand
    from postpurchase.db import get_db, session_scope
    from postpurchase.inbox import process_pending, receive
    from postpurchase.models import Customer, Order
    from postpurchase.profiles import refresh_job

    database = {"DATABASE_URL": args.database_url} if args.database_url else {}
    if args.database_url:
        fresh_database(args.database_url)
    app = profile_app("pp-profile-", SMTP_HOST="127.0.0.1", SMTP_PORT=2525, **database)
    posts, _seeded, _unique = build_posts(args.events + args.events // 9, customers=args.customers)
    shipments = [p for p in posts if p.kind == "shipment"][: args.events]
    stream = _stream(posts, len(shipments)) if args.late_orders else shipments
    if args.orders_as_events:
        stream, shipments = _stories(args.events // 2), []
    late = {json.loads(p.body)["data"]["order_id"] for p in stream if p.kind == "order"}
    now = datetime.now(UTC)
    with app.app_context(), session_scope(app) as session:
        brand = create_brand(session=session, slug="bench", name="Bench 茶舗")
    if args.history:
        add_history(app, brand.brand_id, args.history, now)
    with app.app_context(), session_scope(app) as session:
        with_customer = int(len(shipments) * args.customers)
        session.execute(
            insert(Customer),
            [
                {
                    "brand_id": brand.brand_id,
                    "external_id": f"C-{i:06d}",
                    "email": f"c{i}@example.jp",
                    "phone": "090-1234-5678",
                    "name": "山田 花子",
                    "consent": {},
                    "attributes": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(with_customer)
            ],
        ) if with_customer else None
        ids = dict(
            session.execute(
                Customer.__table__.select().with_only_columns(  # type: ignore[attr-defined]
                    Customer.external_id, Customer.id
                )
            ).all()
        )
        seeded = [
            {
                "brand_id": brand.brand_id,
                "external_id": f"SO-{i:06d}",
                "number": f"#{i}",
                "placed_at": now,
                "customer_id": ids.get(f"C-{i:06d}"),
                "email": f"c{i}@example.jp" if i < with_customer else None,
                "total_amount": 5940,
                "shipping_postal_code": "150-0001",
                "shipping_region": "東京都",
                "shipping_country": "JP",
                "attributes": {},
                "created_at": now,
                "updated_at": now,
            }
            for i in range(len(shipments))
            if f"SO-{i:06d}" not in late
        ]
        if seeded:
            session.execute(insert(Order), seeded)
        for index, post in enumerate(stream):
            receive(
                session=session,
                brand_id=brand.brand_id,
                source="wms",
                external_id=f"evt-{index}",
                raw_body=post.body,
                event_type=json.loads(post.body)["type"],
                now=now,
            )

    statements = 0
    kinds: Counter[str] = Counter()

    def count(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        nonlocal statements
        statements += 1
        if args.statements:
            kinds[re.sub(r"sa_savepoint_\d+", "sa_savepoint_N", " ".join(sql.split()))[:90]] += 1

    if args.statistics:
        gather_statistics(app, now)
    sa_event.listen(get_db(app).engine, "before_cursor_execute", count)
    for feature in args.disconnect:
        for receiver in list(signals.shipment_created.receivers_for(None)):
            if receiver.__module__.startswith(f"postpurchase.{feature}."):
                signals.shipment_created.disconnect(receiver)
    if args.batch:
        app.config["INBOX_BATCH"] = args.batch
    app.config["INBOX_UNIT_MS"] = args.unit_ms
    profiler = cProfile.Profile()
    started = time.perf_counter()
    cpu_started = time.process_time()
    processing_profiled = not args.no_profile and not args.profile_refresh
    if processing_profiled:
        profiler.enable()
    # A deferred event counts once when it waits and once when its order releases it.
    stats = process_pending(app, limit=2 * len(stream) + 1)
    if processing_profiled:
        profiler.disable()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    print(
        f"{stats.processed} processed ({stats.failed} failed, {stats.deferred} deferred) of {len(stream)} in "
        f"{seconds:.2f} s: {stats.processed / seconds:.0f} events/s, "
        f"{statements / max(1, stats.processed):.1f} SQL statements per event, "
        f"{1000 * cpu / max(1, stats.processed):.2f} CPU s per 1,000 events"
    )
    conversions = large_statement_conversions()
    if conversions:
        print(conversions)
    for sql, times in kinds.most_common():
        print(f"{times / max(1, stats.processed):6.2f} per event  {sql}")
    # What processing left for later (profiles marked stale), done now as the job would, so the
    # figures above are never read as work that vanished.
    cpu_started = time.process_time()
    if args.profile_refresh:
        profiler.enable()
    with app.app_context():
        refreshed = 0
        while batch := refresh_job(app):
            refreshed += batch
    if args.profile_refresh:
        profiler.disable()
    deferred_cpu = time.process_time() - cpu_started
    print(
        f"then the profiles.refresh job: {refreshed} profiles in {deferred_cpu:.2f} CPU s; "
        f"processing and refreshes together {1000 * (cpu + deferred_cpu) / max(1, stats.processed):.2f} "
        "CPU s per 1,000 events"
    )
    if not args.no_profile:
        if args.save:
            profiler.dump_stats(args.save)
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)


def _stories(count: int) -> list[Any]:
    """``bench/load.py``'s webhooks: ``count`` orders, each an ``order.created`` and then its
    ``shipment.created``."""
    from types import SimpleNamespace

    from load import story

    return [
        SimpleNamespace(body=body, kind=kind)
        for n in range(count)
        for kind, body in zip(("order", "shipment"), story(n, "p"), strict=True)
    ]


def _stream(posts: list[Any], shipments: int) -> list[Any]:
    """The posts of the first ``shipments`` parcels and of their late orders, in the order
    ``bench/ingest.py`` posts them, without its re-deliveries (the inbox drops those on receipt)."""
    wanted = {f"SO-{i:06d}" for i in range(shipments)}
    return [
        post
        for post in posts
        if post.kind in ("shipment", "order")
        and json.loads(post.body)["data"]["order_id"] in wanted
    ]


if __name__ == "__main__":
    main()
