"""Acceptance → processing latency with separate web and worker processes on PostgreSQL.

    scripts/pg-start /tmp/pg-bench/data 55499      # prints the URL
    python bench/wakeup.py --database-url postgresql+psycopg://postgres@127.0.0.1:55499/postpurchase_test

Starts one gunicorn web process that only accepts (``INBOX_INLINE=false``) and one
``postpurchase worker`` that listens for ``NOTIFY``; posts ``--events`` signed ``order.created``
events one at a time, ``--gap`` seconds apart (so each measures a wake-up from idle, not a queue),
and reports ``processed_at - received_at`` per event: p50, p99 and max. ``--poll-ms`` sets the
worker's fallback poll (what an event waits when a notification is lost). The database's ``public`` schema is dropped and migrated afresh: use a throwaway database.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import start_gunicorn, stop  # noqa: E402


def fresh_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    from postpurchase.db import upgrade

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    upgrade(url)


def post_events(port: int, count: int, gap: float, api_key: str, secret: str) -> list[int]:
    from postpurchase.inbox.signing import sign
    from postpurchase.intake.examples import EXAMPLES
    from postpurchase.intake.schemas import EventType

    template = EXAMPLES[EventType.order_created]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    ids = []
    for index in range(count):
        envelope = {
            **template,
            "id": f"evt_wakeup_{index:06d}",
            "data": {**template["data"], "number": f"#W{index:06d}"},
        }
        body = json.dumps(envelope).encode()
        connection.request(
            "POST",
            "/webhooks/wms",
            body=body,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Content-Type": "application/json",
                "X-Postpurchase-Signature": sign(secret, body, int(time.time())),
            },
        )
        response = connection.getresponse()
        answer = json.loads(response.read())
        if response.status != 202:
            raise RuntimeError(f"event {index}: {response.status} {answer}")
        ids.append(answer["id"])
        time.sleep(gap)
    return ids


def latencies(url: str, ids: list[int], timeout: float = 30) -> list[float]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    deadline = time.monotonic() + timeout
    rows: list = []
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            rows = list(
                connection.execute(
                    text(
                        "SELECT received_at, processed_at FROM inboxevent "
                        "WHERE id = ANY(:ids) AND processed_at IS NOT NULL"
                    ),
                    {"ids": ids},
                )
            )
        if len(rows) == len(ids):
            break
        time.sleep(0.2)
    engine.dispose()
    if len(rows) < len(ids):
        raise RuntimeError(f"only {len(rows)} of {len(ids)} events were processed")
    return [(processed - received).total_seconds() for received, processed in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--gap", type=float, default=0.05)
    parser.add_argument("--poll-ms", type=int, default=1000)
    args = parser.parse_args()

    fresh_database(args.database_url)
    env = {
        **os.environ,
        "POSTPURCHASE_DATABASE_URL": args.database_url,
        "POSTPURCHASE_INSTANCE_PATH": tempfile.mkdtemp(prefix="pp-bench-wakeup-"),
        "POSTPURCHASE_LOG_LEVEL": "WARNING",
        "POSTPURCHASE_INBOX_INLINE": "false",
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
                "Bench",
                "--json",
            ],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
    )
    web, port = start_gunicorn("wsgi:app", ROOT, env)
    worker = subprocess.Popen(
        [sys.executable, "-m", "postpurchase.cli", "worker"], env=env, cwd=ROOT
    )
    try:
        time.sleep(2)  # the worker connects and LISTENs
        ids = post_events(
            port, args.events, args.gap, created["api_key"], created["signing_secret"]
        )
        seconds = sorted(latencies(args.database_url, ids))
    finally:
        stop(worker)
        stop(web)
    ms = [s * 1000 for s in seconds]
    print(
        json.dumps(
            {
                "events": len(ms),
                "poll_ms": args.poll_ms,
                "p50_ms": round(statistics.median(ms), 1),
                "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 1),
                "max_ms": round(ms[-1], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
