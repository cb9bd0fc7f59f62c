"""Profile the accept path alone: signed ``shipment.created`` posts through the WSGI app, no server.

    python bench/accept_profile.py [--events 3000] [--top 40] [--sort tottime] [--no-profile] [--save PATH]

Single process, fresh SQLite file, every feature connected, ``INBOX_INLINE`` off (nothing is
processed). Each post is one call of the app's WSGI callable with a prepared environ, the same
bodies ``bench/ingest.py`` posts (10 % re-deliveries, answered ``duplicate``); the same is done
for the bare Flask endpoint of ``bench/ingest.py``. Prints CPU µs per request of both (the ratio
is the best the accept path could reach against the bare endpoint when CPU is what limits),
SQL statements per request (on every database file, the spool's too) and, unless
``--no-profile``, the functions with the most time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def environs(bodies: list[bytes], api_key: str, secret: str) -> list[dict[str, Any]]:
    """One WSGI environ per body, built before timing starts."""
    from ingest import PATH
    from werkzeug.test import EnvironBuilder

    from postpurchase.inbox.signing import sign

    built = []
    for body in bodies:
        builder = EnvironBuilder(
            path=PATH,
            method="POST",
            data=body,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Content-Type": "application/json",
                "X-Postpurchase-Signature": sign(secret, body, int(time.time())),
            },
        )
        built.append(builder.get_environ())
        builder.close()
    return built


def drive(app: Callable[..., Iterable[bytes]], prepared: list[dict[str, Any]]) -> dict[str, int]:
    """Call the WSGI app once per environ; the status codes counted."""
    statuses: dict[str, int] = {}

    def start_response(status: str, _headers: Any, _exc_info: Any = None) -> None:
        statuses[status] = statuses.get(status, 0) + 1

    for environ in prepared:
        environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].getvalue())
        result = app(environ, start_response)
        b"".join(result)
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--sort", default="tottime", help="pstats sort key (e.g. cumulative)")
    parser.add_argument(
        "--save", metavar="PATH", help="also write the raw profile here (for pstats or snakeviz)"
    )
    args = parser.parse_args()

    from ingest import bare_app, build_posts, profile_app
    from sqlalchemy import event as sa_event
    from sqlalchemy.engine import Engine

    from postpurchase.brands import create_brand
    from postpurchase.db import session_scope

    app = profile_app("pp-accept-")
    with app.app_context(), session_scope(app) as session:
        brand = create_brand(session=session, slug="bench", name="Bench 茶舗")
    posts, _seeded, _unique = build_posts(args.events)
    bodies = [post.body for post in posts][: args.events]

    bare = bare_app()
    prepared = environs(bodies, brand.api_key, brand.signing_secret)
    drive(bare, prepared[:200])  # warm up
    cpu = time.process_time()
    drive(bare, prepared)
    bare_us = 1e6 * (time.process_time() - cpu) / len(prepared)

    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    # Every engine: on SQLite the spool's (a second file) as well as the database's.
    sa_event.listen(Engine, "before_cursor_execute", count)
    prepared = environs(bodies, brand.api_key, brand.signing_secret)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    cpu = time.process_time()
    if not args.no_profile:
        profiler.enable()
    statuses = drive(app, prepared)
    if not args.no_profile:
        profiler.disable()
    seconds = time.perf_counter() - started
    app_us = 1e6 * (time.process_time() - cpu) / len(prepared)
    print(
        f"{len(prepared)} posts {statuses} in {seconds:.2f} s: accept path {app_us:.0f} µs CPU "
        f"per request, bare Flask {bare_us:.0f} µs (ratio {bare_us / app_us:.2f}), "
        f"{statements / len(prepared):.2f} SQL statements per request"
    )
    if not args.no_profile:
        if args.save:
            profiler.dump_stats(args.save)
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
