"""The tracking page over HTTP: web CPU per page asked back-to-back, and paced at a rate.

    python bench/page_http.py [--orders 200] [--pages 1500] [--rate 150] [--rounds 2]
                              [--web-workers 1] [--worker-class sync]

Seeds the orders of ``bench/page_profile.py`` (their webhooks, then the sandbox carrier's scans)
into a SQLite file, serves it with gunicorn (the project's sync worker, as
``deploy/gunicorn.conf.py`` does; ``--worker-class sync`` for gunicorn's own) and asks for the
orders' signed links over loopback, one connection per page as ``bench/load.py`` does:
``--pages`` requests one after the other as fast as they are answered, then ``--pages`` at
``--rate`` per second, ``--rounds`` times in turn. Prints the web processes' CPU per page in
each mode, and how many times per page they were woken from sleep (with several workers,
gunicorn's own wakes every idle one for each connection).

Why both: a page timed in one process (``bench/page_profile.py``) or back-to-back stays in warm
CPU caches; paced, as real visitors and ``bench/load.py`` ask, each request finds the web process
woken from sleep with its caches taken by others, and the same page costs more CPU.
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def fetch(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def main() -> None:
    from processes import SYNC_WORKER

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--pages", type=int, default=1500, help="pages per mode and round")
    parser.add_argument("--rate", type=float, default=150, help="pages/s when paced")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--web-workers", type=int, default=1)
    parser.add_argument(
        "--worker-class", default=SYNC_WORKER, help="gunicorn's -k ('sync' for gunicorn's own)"
    )
    args = parser.parse_args()

    from ingest import profile_app
    from page_profile import DAYS_ON, seed
    from processes import cpu_seconds, start_gunicorn, stop, wakeups, worker_name

    from postpurchase.lookup import order_link_path

    app = profile_app("pp-page-http-")
    # Handed over DAYS_ON days ago: the pages are asked at the moment bench/page_profile.py pins.
    brand, _numbers, ids = seed(app, "page", args.orders, datetime.now(UTC) - timedelta(DAYS_ON))
    secret = str(app.config["SECRET_KEY"])
    links = [order_link_path(secret, brand.slug, brand.brand_id, order_id) for order_id in ids]
    env = {
        "POSTPURCHASE_DATABASE_URL": str(app.config["DATABASE_URL"]),
        "POSTPURCHASE_INSTANCE_PATH": str(app.config["INSTANCE_PATH"]),
        "POSTPURCHASE_SECRET_KEY": secret,
        "POSTPURCHASE_LOG_LEVEL": "ERROR",
        "POSTPURCHASE_INBOX_INLINE": "false",
        "POSTPURCHASE_SCHEDULER": "false",
    }
    web, port = start_gunicorn(
        "wsgi:app", ROOT, {**os.environ, **env}, args.web_workers, worker_class=args.worker_class
    )
    try:
        statuses: dict[int, int] = {}
        for link in links[:100]:  # warm: templates compiled, statements cached
            fetch(port, link)
        print(
            f"page_http: {args.orders} orders, gunicorn -w {args.web_workers} "
            f"({worker_name(args.worker_class)}), "
            f"{args.pages} pages per mode"
        )
        for round_ in range(1, args.rounds + 1):
            for mode, gap in (("back-to-back", 0.0), (f"paced {args.rate:g}/s", 1 / args.rate)):
                before = cpu_seconds(web.pid, children=True)
                woken = wakeups(web.pid)
                started = time.perf_counter()
                for n in range(args.pages):
                    if gap:
                        wait = started + n * gap - time.perf_counter()
                        if wait > 0:
                            time.sleep(wait)
                    status = fetch(port, links[n % len(links)])
                    statuses[status] = statuses.get(status, 0) + 1
                spent = cpu_seconds(web.pid, children=True) - before
                woken = wakeups(web.pid) - woken
                print(
                    f"round {round_} {mode:>16}: {spent / args.pages * 1000:.2f} ms web CPU per "
                    f"page, {woken / args.pages:.1f} web wake-ups per page, "
                    f"{args.pages / (time.perf_counter() - started):.0f} pages/s"
                )
        print(f"statuses: {statuses}")
    finally:
        stop(web)


if __name__ == "__main__":
    main()
