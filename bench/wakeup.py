"""Acceptance → processing latency with separate web and worker processes on PostgreSQL.

    scripts/pg-start /tmp/pg-bench/data 55499      # prints the URL
    python bench/wakeup.py --database-url postgresql+psycopg://postgres@127.0.0.1:55499/postpurchase_test

Starts one gunicorn web process that only accepts (``INBOX_INLINE=false``) and one
``postpurchase worker`` that listens for ``NOTIFY``; posts ``--events`` signed ``order.created``
events one at a time (so each measures a wake-up from idle, not a queue) and, for each, measures
from its 202 until the database shows it processed: p50, p90, p99 and max. ``--poll-ms`` sets the
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

from processes import fresh_database, start_gunicorn, stop  # noqa: E402


def measure(
    port: int, url: str, count: int, api_key: str, secret: str, timeout: float = 10
) -> list[float]:
    """Post ``count`` events one at a time; for each, seconds from its 202 until the database
    shows it processed (polled every millisecond on a connection of its own)."""
    from sqlalchemy import create_engine, text

    from postpurchase.inbox.signing import sign
    from postpurchase.intake.examples import EXAMPLES
    from postpurchase.intake.schemas import EventType

    template = EXAMPLES[EventType.order_created]
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    engine = create_engine(url)
    state = text("SELECT state FROM inboxevent WHERE id = :id")
    seconds = []
    with engine.connect() as connection:
        for index in range(count):
            envelope = {
                **template,
                "id": f"evt_wakeup_{index:06d}",
                "data": {**template["data"], "number": f"#W{index:06d}"},
            }
            body = json.dumps(envelope).encode()
            client.request(
                "POST",
                "/webhooks/wms",
                body=body,
                headers={
                    "Authorization": f"Bearer {api_key}",
                    "Content-Type": "application/json",
                    "X-Postpurchase-Signature": sign(secret, body, int(time.time())),
                },
            )
            response = client.getresponse()
            answer = json.loads(response.read())
            accepted = time.perf_counter()
            if response.status != 202:
                raise RuntimeError(f"event {index}: {response.status} {answer}")
            while connection.execute(state, {"id": answer["id"]}).scalar() == "pending":
                connection.rollback()  # a fresh snapshot for the next look
                if time.perf_counter() - accepted > timeout:
                    raise RuntimeError(f"event {answer['id']} not processed in {timeout} s")
                time.sleep(0.001)
            seconds.append(time.perf_counter() - accepted)
            connection.rollback()
    engine.dispose()
    return seconds


def start_delays(url: str, count: int) -> list[float]:
    """Seconds from each event's ``received_at`` to its ``processed_at``, which the worker stamps
    when its batch starts: how long the event waited for a worker to pick it up (0 when a
    running batch picked it up at once)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT received_at, processed_at FROM inboxevent ORDER BY id LIMIT :n"),
            {"n": count},
        ).all()
    engine.dispose()
    return [max(0.0, (done - received).total_seconds()) for received, done in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5, help="first events not counted")
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
        found = measure(
            port, args.database_url, args.events, created["api_key"], created["signing_secret"]
        )
        started = start_delays(args.database_url, args.events)
    finally:
        stop(worker)
        stop(web)
    # The worker's first events load what processing needs (features, models): not a wake-up.
    print(
        json.dumps(
            {
                "events": args.events - args.warmup,
                "poll_ms": args.poll_ms,
                "accepted_to_started": summary(started[args.warmup :]),
                "accepted_to_processed": summary(found[args.warmup :]),
                "warmup_processed_ms": [round(s * 1000, 1) for s in found[: args.warmup]],
            }
        )
    )


def summary(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "p50_ms": round(statistics.median(ms), 1),
        "p90_ms": round(ms[int(0.9 * len(ms))], 1),
        "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 1),
        "max_ms": round(ms[-1], 1),
        "over_100ms": sum(m > 100 for m in ms),
    }


if __name__ == "__main__":
    main()
