"""Profile the customer tracking page alone: its requests through the WSGI app, no server.

    python bench/page_profile.py [--orders 300] [--pages 2000] [--route link|lookup|both]
        [--top 40] [--sort tottime] [--no-profile] [--statements] [--save PATH]
        [--history N [--statistics]]

Single process, fresh SQLite file, every feature connected. It seeds ``--orders`` orders the way
``bench/load.py`` does (its signed ``order.created`` + ``shipment.created`` webhooks, accepted
through the app and then processed), applies to each parcel what the sandbox carrier answers 0-3
days after its hand-over (so the pages show every stage from in transit to delivered, with their
scans), pins the clock 3 days on, then times ``--pages`` requests of each route:

- ``link``: ``GET /<brand>/track/<token>``, the signed link ``bench/load.py`` asks for (messages
  link to it too);
- ``lookup``: ``POST /<brand>/track`` with the order number and email address, answered with a
  redirect to the signed link (one throttle check, the order's lookup).

``--history N`` first gives the brand N past orders with delivered parcels (a grown brand: the
lookups search them), ``--statistics`` gathers SQLite's planner statistics before timing.

Prints CPU µs per request and SQL statements per request of each route (``--statements``: how
many times each statement ran per request) and, unless ``--no-profile``, the functions with the
most time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

#: The pages are asked this long after the parcels were handed over (less the day story() adds).
DAYS_ON = 3


def seed(
    app: Any, slug: str, orders: int, now: datetime, history: int = 0
) -> tuple[Any, list[str], list[int]]:
    """The brand, then ``orders`` orders with a parcel each, through the webhook and the inbox; each
    parcel has the sandbox carrier's answer of 0 to ``DAYS_ON`` days after ``now``. Returns the
    brand, the orders' numbers and their ids."""
    from accept_profile import drive, environs
    from ingest import HISTORY_ORDER, HISTORY_PARCEL, add_history
    from load import story
    from sqlmodel import col, select

    from carriers.sandbox import SandboxCarrier
    from postpurchase.brands import create_brand
    from postpurchase.db import session_scope
    from postpurchase.inbox import process_pending
    from postpurchase.models import Order, Shipment
    from postpurchase.models.types import id_of
    from postpurchase.tracking.apply import apply_result

    with app.app_context(), session_scope(app) as session:
        brand = create_brand(session=session, slug=slug, name="Page 茶舗")
    if history:
        add_history(app, brand.brand_id, history, now)
    bodies = [body for n in range(orders) for body in story(n, "P")]
    drive(app, environs(bodies, brand.api_key, brand.signing_secret))
    process_pending(app, limit=len(bodies) + 1, now=now)
    carrier = SandboxCarrier(clock=lambda: now)
    with app.app_context(), session_scope(app) as session:
        shipments = session.exec(
            select(Shipment)
            .where(~col(Shipment.external_id).startswith(HISTORY_PARCEL))
            .order_by(col(Shipment.id))
        ).all()
        for n, shipment in enumerate(shipments):
            when = now + timedelta(days=n % (DAYS_ON + 1), hours=n % 11)
            result = carrier.result_at(shipment.tracking_number or "", when)
            if result is not None:
                apply_result(
                    session=session,
                    shipment_id=id_of(shipment),
                    result=result,
                    source="poll",
                    now=when,
                )
        rows = session.exec(
            select(Order)
            .where(~col(Order.external_id).startswith(HISTORY_ORDER))
            .order_by(col(Order.id))
        ).all()
        return brand, [row.number for row in rows], [id_of(row) for row in rows]


def page_environs(requests: Iterable[tuple[str, str, bytes | None]]) -> list[dict[str, Any]]:
    """One WSGI environ per (method, path, form body), built before timing starts."""
    from werkzeug.test import EnvironBuilder

    built = []
    for method, path, body in requests:
        headers = [("Content-Type", "application/x-www-form-urlencoded")] if body else []
        builder = EnvironBuilder(path=path, method=method, data=body or b"", headers=headers)
        built.append(builder.get_environ())
        builder.close()
    return built


class Statements:
    """Counts the SQL run on an engine (and each statement's runs with ``by_text``)."""

    def __init__(self, engine: Any, *, by_text: bool) -> None:
        from sqlalchemy import event as sa_event

        self.total = 0
        self.kinds: Counter[str] = Counter()

        def count(_conn: object, _cursor: object, sql: str, *_: object) -> None:
            self.total += 1
            if by_text:
                self.kinds[
                    re.sub(r"sa_savepoint_\d+", "sa_savepoint_N", " ".join(sql.split()))[:110]
                ] += 1

        sa_event.listen(engine, "before_cursor_execute", count)

    def reset(self) -> None:
        self.total = 0
        self.kinds.clear()


def measure(
    name: str,
    app: Callable[..., Iterable[bytes]],
    prepared: list[dict[str, Any]],
    statements: Statements,
    profiler: cProfile.Profile | None,
) -> None:
    from accept_profile import drive

    drive(app, prepared[: max(1, len(prepared) // 10)])  # warm up (templates, caches of a process)
    statements.reset()
    started = time.perf_counter()
    cpu = time.process_time()
    if profiler is not None:
        profiler.enable()
    statuses = drive(app, prepared)
    if profiler is not None:
        profiler.disable()
    seconds = time.perf_counter() - started
    per = 1e6 * (time.process_time() - cpu) / len(prepared)
    print(
        f"{name}: {len(prepared)} requests {statuses} in {seconds:.2f} s: {per:.0f} µs CPU per "
        f"request, {statements.total / len(prepared):.2f} SQL statements per request"
    )
    for sql, times in statements.kinds.most_common():
        print(f"{times / len(prepared):6.2f} per request  {sql}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--pages", type=int, default=2000, help="requests timed per route")
    parser.add_argument("--route", choices=["link", "lookup", "both"], default="both")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--sort", default="tottime", help="pstats sort key (e.g. cumulative)")
    parser.add_argument(
        "--statements", action="store_true", help="print how many times each statement ran"
    )
    parser.add_argument(
        "--save", metavar="PATH", help="also write the raw profile here (for pstats or snakeviz)"
    )
    from ingest import add_history_arguments

    add_history_arguments(parser)
    args = parser.parse_args()

    from ingest import gather_statistics, profile_app

    from postpurchase import clock
    from postpurchase.db import get_db
    from postpurchase.lookup import order_link_path

    app = profile_app("pp-page-")
    now = datetime.now(UTC)
    brand, numbers, ids = seed(app, "page", args.orders, now, args.history)
    if args.statistics:
        gather_statistics(app, now)
    requests: dict[str, list[tuple[str, str, bytes | None]]] = {}
    if args.route in ("link", "both"):
        secret = app.config["SECRET_KEY"]
        requests["link"] = [
            ("GET", order_link_path(secret, brand.slug, brand.brand_id, ids[n % len(ids)]), None)
            for n in range(args.pages)
        ]
    if args.route in ("lookup", "both"):
        requests["lookup"] = []
        for n in range(args.pages):
            number = numbers[n % len(numbers)]
            form = {"order_number": number, "email_or_postal": f"c{number.lstrip('#')}@example.jp"}
            requests["lookup"].append(("POST", f"/{brand.slug}/track", urlencode(form).encode()))
    statements = Statements(get_db(app).engine, by_text=args.statements)
    profiler = None if args.no_profile else cProfile.Profile()
    with clock.use(lambda: now + timedelta(days=DAYS_ON)):
        for name, wanted in requests.items():
            measure(name, app, page_environs(wanted), statements, profiler)
    if profiler is not None:
        if args.save:
            profiler.dump_stats(args.save)
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
