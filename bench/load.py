"""Load and soak: mixed traffic on loopback for N minutes, per-route latency, queue lag and memory.

    python bench/load.py [--minutes 10] [--webhooks 300] [--lookups 200] [--api 20] [--merchant 5]
                         [--database-url URL] [--workers 2] [--web-workers N] [--web-threads 1]
                         [--worker-class sync]
                         [--intake-web-workers N [--intake-nice N]] [--trace answers.csv]
                         [--cpu-trace cpu.csv]

Starts gunicorn (accepting only: ``INBOX_INLINE=false``) with ``--web-workers`` sync workers (the
project's, as ``deploy/gunicorn.conf.py`` runs; ``--worker-class sync`` for gunicorn's own), by
default one per core (on SQLite the web's requests use the CPU rather than wait: more workers
spent more CPU per answer, BENCHMARKS.md), or gthread workers with ``--web-threads`` above 1;
``--workers`` ``postpurchase worker`` processes (processing the inbox, polling the sandbox
carrier, sending to a local SMTP server) on SQLite, or on ``--database-url`` (its ``public`` schema is dropped: use a throwaway
database). It seeds orders with shipments, then for ``--minutes`` sends, each paced at its own
rate per second: signed ``order.created`` + ``shipment.created`` webhooks (``--webhooks`` events/s,
half of each), tracking-page lookups through the signed link of a seeded order (``--lookups``), API
reads (``GET /api/v1/shipments``, ``/api/v1/orders/<id>``) and merchant pages (shipments list,
insights) with a signed-in merchant. Every 10 s it samples the inbox backlog and the age of its
oldest pending event (queue lag), due unsent messages, the parcels polled so far (the seeded ones
fall due one after another over the run), the RSS of the web and worker processes, and the
machine's CPU time stolen by its host and waiting for the disk since the previous sample.
The requests are sent open-loop from a process of its own (one thread, non-blocking sockets, a
connection per request), apart from this one's SMTP sink and samples. It prints throughput and
p50/p99 per route, the seconds of the run in which slow tracking pages were asked for, the CPU the
web, worker, sending and bench processes used during the traffic, the load average, the samples,
and the target verdict (tracking page p99 <= 100 ms at 200 lookups/s while intake runs at 300
events/s). ``--intake-web-workers`` sends the webhooks to a gunicorn of their own (as a proxy
routing ``/webhooks/`` would), optionally niced; ``--trace`` writes every answer to a CSV,
``--cpu-trace`` every process's CPU each half second beside the machine's own speed
(:class:`CpuTrace`), to tell a slow second's cause.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from faults import Mailbox  # noqa: E402
from processes import (  # noqa: E402
    SYNC_WORKER,
    Cycle,
    Paced,
    children_of,
    cpu_seconds,
    free_port,
    fresh_database,
    http_request,
    machine_times,
    send_paced,
    send_paced_apart,
    start_gunicorn,
    stop,
    worker_name,
)


@dataclass
class Route:
    """One kind of traffic, by name: its requests and what came back."""

    name: str
    paced: Paced

    @property
    def rate(self) -> float:
        return self.paced.rate

    @property
    def late(self) -> int:
        return self.paced.late

    @property
    def latencies(self) -> list[float]:
        return [seconds for _sent, seconds, _status in self.paced.answers]

    @property
    def statuses(self) -> dict[int, int]:
        return dict(Counter(status for _sent, _seconds, status in self.paced.answers))

    def slow_seconds(self, started: float, over: float) -> list[int]:
        """The seconds of the run (from ``started``) in which an answer taking more than ``over``
        seconds was sent: a few seconds for stalls, most of them for a queue that never empties."""
        return sorted(
            {int(sent - started) for sent, seconds, _ in self.paced.answers if seconds > over}
        )

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0


def family(pid: int) -> list[int]:
    """``pid`` and its children (gunicorn's master and its workers)."""
    return [pid, *children_of(pid)]


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children, in MB."""
    total = 0
    for one in family(pid):
        status = Path(f"/proc/{one}/status")
        if status.exists():
            match = re.search(r"VmRSS:\s+(\d+)", status.read_text())
            total += int(match.group(1)) if match else 0
    return total / 1024


def envelope(event_id: str, kind: str, data: dict[str, Any]) -> bytes:
    when = datetime.now(UTC).isoformat()
    body = {"id": event_id, "type": kind, "occurred_at": when, "data": data}
    return json.dumps(body, ensure_ascii=False).encode()


def story(n: int, prefix: str) -> tuple[bytes, bytes]:
    """An order.created and its shipment.created with a sandbox number handed over a day ago."""
    from carriers import sandbox
    from postpurchase.intake.examples import ORDER

    order = {
        **ORDER,
        "order_id": f"SO-{prefix}{n:07d}",
        "number": f"#{prefix}{n}",
        "placed_at": datetime.now(UTC).isoformat(),
        "customer": {
            **ORDER["customer"],
            "customer_id": f"C-{prefix}{n:07d}",
            "email": f"c{prefix}{n}@example.jp",
        },
    }
    handed = datetime.now(UTC) - timedelta(days=1)
    shipment = {
        "shipment_id": f"SH-{prefix}{n:07d}",
        "order_id": f"SO-{prefix}{n:07d}",
        "carrier": "sandbox",
        "tracking_number": sandbox.tracking_number(handed, n),
        "shipped_at": handed.isoformat(),
        "lines": [{"sku": line["sku"], "quantity": line["quantity"]} for line in ORDER["lines"]],
    }
    return (
        envelope(f"evt-{prefix}o-{n}", "order.created", order),
        envelope(f"evt-{prefix}s-{n}", "shipment.created", shipment),
    )


class Database:
    """Reads the bench needs, on SQLite or PostgreSQL."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine

        self.engine = create_engine(url)

    def rows(self, sql: str, **params: Any) -> list[Any]:
        from sqlalchemy import text

        with self.engine.connect() as connection:
            return list(connection.execute(text(sql), params).all())


def due_during(db: Database, *, seconds: float) -> None:
    """Make the seeded parcels fall due for a poll one after another over the traffic's
    ``seconds``, as a day's parcels in flight do. Planned as the service plans a new parcel, the
    first poll comes an hour after intake: after the run, and the workers would poll nothing."""
    from sqlalchemy import bindparam, update

    from postpurchase.models import Shipment
    from postpurchase.models.types import table_of

    ids = [row[0] for row in db.rows("SELECT id FROM shipment ORDER BY id")]
    start = datetime.now(UTC)
    shipment = table_of(Shipment)
    with db.engine.begin() as connection:
        connection.execute(
            update(shipment)
            .where(shipment.c.id == bindparam("shipment_id"))
            .values(next_poll_at=bindparam("due")),
            [
                {
                    "shipment_id": shipment_id,
                    "due": start + timedelta(seconds=seconds * n / len(ids)),
                }
                for n, shipment_id in enumerate(ids)
            ],
        )


def waiting(db: Database) -> tuple[int, datetime | None]:
    """Accepted events not processed yet, and when the oldest of them was received."""
    from postpurchase.inbox import waiting as waiting_events

    with db.engine.connect() as connection:
        return waiting_events(connection)


@dataclass(frozen=True)
class Stories:
    """The n-th request of a webhook stream: :func:`story` ``n // 2``'s order, then its shipment,
    signed as a WMS signs (a class, so the sender's spawned process can be handed it)."""

    api_key: str
    secret: str
    prefix: str

    def __call__(self, n: int) -> bytes:
        from postpurchase.inbox.signing import sign

        body = story(n // 2, self.prefix)[n % 2]
        return http_request(
            "POST",
            "/webhooks/wms",
            body,
            {
                "Authorization": f"Bearer {self.api_key}",
                "Content-Type": "application/json",
                "X-Postpurchase-Signature": sign(self.secret, body, int(time.time())),
            },
        )


#: The machine's CPU time by kind at the previous sample (``/proc/stat``, Linux; empty elsewhere).
_machine_before: list[int] = []


def machine_share() -> dict[str, float]:
    """Shares of the machine's CPU time since the previous call that were stolen by the host
    (``steal``: a virtual machine waiting for its physical cores) or spent waiting for the disk
    (``iowait``), in per cent: a run whose pages slow down all at once with neither is slowed by
    its own processes."""
    global _machine_before
    times = machine_times()
    before, _machine_before = _machine_before, times
    if not before or not times:
        return {}
    spent = [now - then for now, then in zip(times, before, strict=True)]
    total = sum(spent) or 1
    return {
        "iowait_pct": round(100 * spent[4] / total, 1),
        "steal_pct": round(100 * spent[7] / total, 1),
    }


class CpuTrace:
    """Every ``every`` seconds, the CPU each process under this one used since the previous look
    (every web worker and worker, the sending process among this one's ``child:<pid>``, and this
    process itself, each on its own), the machine's idle share, the size of the SQLite files in
    ``work`` and the cost of two fixed pieces of work (:meth:`_yardsticks`): a slow second of
    the answers' trace then shows whether the web worked more, worked less (it waited), another
    process took the cores, or the machine itself ran slower."""

    def __init__(self, names: dict[int, str], work: Path, started: float, every: float = 0.5):
        self.names, self.work, self.started, self.every = names, work, started, every
        self.rows: list[tuple[float, str, float, float, float, float, int, int]] = []
        self._memory = np.arange(8_000_000, dtype=np.int64)
        self._places = np.random.default_rng(16).integers(0, len(self._memory), 50_000)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CpuTrace:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _name(self, pid: int, parent: int) -> str:
        if pid in self.names:
            return self.names[pid]
        if parent in self.names:
            return f"{self.names[parent]}:{pid}"
        return f"child:{pid}" if parent == os.getpid() else f"other:{pid}"

    def _tree(self) -> dict[str, float]:
        """CPU seconds of this process and each one under it (its own, without children)."""
        spent: dict[str, float] = {"bench": cpu_seconds(os.getpid())}
        todo = [os.getpid()]
        while todo:
            parent = todo.pop()
            for kid in children_of(parent):  # the sender is started by one of this one's threads
                spent[self._name(kid, parent)] = cpu_seconds(kid)
                todo.append(kid)
        return spent

    @staticmethod
    def _machine() -> tuple[int, int]:
        """The machine's CPU ticks so far, all and idle."""
        times = machine_times() or [0] * 8
        return sum(times), times[3]

    def _yardsticks(self) -> tuple[int, int]:
        """Microseconds of CPU two fixed pieces of work take here now: a Python loop that stays
        in the core's caches, and reads at random places of 64 MB, which go to memory. The same
        work costing more says the machine itself ran slower (its clock, or neighbours on the
        host's shared cache and memory), not that the processes asked for more."""
        started = time.thread_time()
        sum(i * i for i in range(20_000))
        looped = time.thread_time()
        self._memory[self._places].sum()
        done = time.thread_time()
        return round((looped - started) * 1e6), round((done - looped) * 1e6)

    def _run(self) -> None:
        before = self._tree()
        total_before, idle_before = self._machine()
        while not self._stop.wait(self.every):
            now = self._tree()
            total, idle = self._machine()
            at = round(time.perf_counter() - self.started, 2)
            idle_pct = round(100 * (idle - idle_before) / max(1, total - total_before), 1)
            wal, spool_wal = (
                round(f.stat().st_size / 1e6, 1) if f.exists() else 0.0
                for f in (
                    self.work / "postpurchase.db-wal",
                    self.work / "postpurchase.db.spool-wal",
                )
            )
            looped, read = self._yardsticks()
            self.rows += [
                (
                    at,
                    name,
                    round(cpu - before.get(name, 0.0), 3),
                    idle_pct,
                    wal,
                    spool_wal,
                    looped,
                    read,
                )
                for name, cpu in now.items()
            ]
            before, total_before, idle_before = now, total, idle

    def write(self, path: str) -> None:
        with open(path, "w") as out:
            out.write("t_s,process,cpu_s,idle_pct,wal_mb,spool_wal_mb,loop_us,memory_us\n")
            out.writelines(",".join(map(str, row)) + "\n" for row in self.rows)


def sample(db: Database, pids: dict[str, int], started: float) -> dict[str, Any]:
    now = datetime.now(UTC)
    pending, oldest = waiting(db)
    due = db.rows(
        "SELECT count(*) FROM outboxmessage WHERE state IN ('pending', 'sending') AND due_at <= :n",
        n=now,
    )[0][0]
    polled = db.rows("SELECT count(*) FROM shipment WHERE last_polled_at IS NOT NULL")[0][0]
    return {
        "t_s": round(time.perf_counter() - started),
        "inbox_pending": pending,
        "lag_s": round((now - oldest).total_seconds(), 1) if oldest else 0.0,
        "due_unsent": due,
        "shipments_polled": polled,
        **{f"rss_{name}_mb": round(rss_mb(pid)) for name, pid in pids.items()},
        **machine_share(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--webhooks", type=float, default=300, help="events/s")
    parser.add_argument("--lookups", type=float, default=200, help="tracking pages/s")
    parser.add_argument("--api", type=float, default=20, help="API reads/s")
    parser.add_argument("--merchant", type=float, default=5, help="merchant pages/s")
    parser.add_argument("--workers", type=int, default=2, help="postpurchase worker processes")
    parser.add_argument(
        "--web-workers",
        type=int,
        default=os.cpu_count() or 1,
        help="gunicorn worker processes (default: one per core)",
    )
    parser.add_argument(
        "--worker-class",
        default=SYNC_WORKER,
        help="gunicorn's -k for --web-threads 1 (default: the project's sync worker; 'sync' for "
        "gunicorn's own, whose idle workers all wake for each connection)",
    )
    parser.add_argument(
        "--web-threads",
        type=int,
        default=1,
        help="threads per gunicorn worker (more than 1: the gthread worker; default 1: sync)",
    )
    parser.add_argument(
        "--intake-web-workers",
        type=int,
        default=0,
        help="webhooks to a gunicorn of their own with this many sync workers (default 0: the "
        "same server as the pages, as when one gunicorn serves every route)",
    )
    parser.add_argument(
        "--intake-nice",
        type=int,
        default=0,
        help="niceness of the intake server of --intake-web-workers (pages keep niceness 0)",
    )
    parser.add_argument("--seed-orders", type=int, default=300)
    parser.add_argument(
        "--trace", default="", help="write every answer (route, sent at s, ms, status) to this CSV"
    )
    parser.add_argument(
        "--cpu-trace",
        default="",
        help="write each process's CPU every half second, the idle share, WAL sizes and the "
        "machine's speed to this CSV",
    )
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pp-load-"))
    url = args.database_url or f"sqlite:///{work / 'postpurchase.db'}"
    if args.database_url:
        fresh_database(args.database_url)
    mailbox = Mailbox(free_port())
    mailbox.up()
    env = {
        **os.environ,
        "POSTPURCHASE_DATABASE_URL": args.database_url,
        "POSTPURCHASE_INSTANCE_PATH": str(work),
        "POSTPURCHASE_LOG_LEVEL": "ERROR",
        "POSTPURCHASE_INBOX_INLINE": "false",
        "POSTPURCHASE_INBOX_POLL_MS": "200",
        "POSTPURCHASE_SMTP_PORT": str(mailbox.port),
    }

    def cli(*command: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "postpurchase.cli", *command],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    created = json.loads(cli("init", "--brand-slug", "load", "--name", "Load 茶舗", "--json"))
    # Quiet hours hold every message in the brand's night (a run at 00:10 JST sent none): the
    # bench's brand has none, so the workers' sending is part of the load at any hour.
    for end in ("start", "end"):
        cli("settings", "set", "--brand", "load", f"messaging.quiet_hours.{end}", '"00:00"')
    password = "load-bench-password-1"  # noqa: S105 (a throwaway instance's user)
    cli("users", "add", "--brand", "load", "--email", "m@example.jp", "--password", password)
    api_key, secret = created["api_key"], created["signing_secret"]

    web, port = start_gunicorn(
        "wsgi:app",
        ROOT,
        env,
        workers=args.web_workers,
        worker_class="gthread" if args.web_threads > 1 else args.worker_class,
        threads=args.web_threads,
    )
    servers = {"web": web}
    intake_port = port
    if args.intake_web_workers:
        intake, intake_port = start_gunicorn(
            "wsgi:app", ROOT, env, workers=args.intake_web_workers, nice=args.intake_nice
        )
        servers["intake"] = intake
    # Before the workers start: on SQLite a sign-in meeting their writes can fail (see BENCHMARKS.md).
    cookie = sign_in(port, "m@example.jp", password)
    workers = [
        subprocess.Popen([sys.executable, "-m", "postpurchase.cli", "worker"], env=env, cwd=ROOT)
        for _ in range(args.workers)
    ]
    db = Database(url)
    try:
        seed = Paced(100, intake_port, Stories(api_key, secret, "S"))
        send_paced([seed], args.seed_orders * 2 / 100)
        deadline = time.monotonic() + 120
        while waiting(db)[0]:
            if time.monotonic() > deadline:
                raise RuntimeError("seed events not processed in 120 s")
            time.sleep(1)
        due_during(db, seconds=args.minutes * 60)
        pages = Cycle(tuple(http_request("GET", link) for link in tracking_links(env, "load")))
        api = {"Authorization": f"Bearer {api_key}"}
        listing = http_request("GET", "/api/v1/shipments?limit=20", headers=api)
        # An order's answer, then the list of parcels, in turn.
        orders = [
            http_request("GET", f"/api/v1/orders/{row[0]}", headers=api)
            for row in db.rows('SELECT external_id FROM "order"')
        ]
        api_reads = Cycle(tuple(r for order in orders for r in (order, listing)) or (listing,))
        merchant_pages = Cycle(
            tuple(
                http_request("GET", path, headers={"Cookie": cookie})
                for path in ("/merchant/shipments", "/merchant/insights")
            )
        )
        routes = [
            Route(
                "webhook (order+shipment)",
                Paced(args.webhooks, intake_port, Stories(api_key, secret, "L")),
            ),
            Route("tracking page", Paced(args.lookups, port, pages)),
            Route("api read", Paced(args.api, port, api_reads)),
            Route("merchant page", Paced(args.merchant, port, merchant_pages)),
        ]
        seconds = args.minutes * 60
        # The sender's process imports for about a second before the first request is due.
        started = time.perf_counter() + 3
        samples: list[dict[str, Any]] = []
        pids = {name: server.pid for name, server in servers.items()}
        pids |= {f"worker{i}": w.pid for i, w in enumerate(workers)}
        sent_cpu: list[float] = []
        sender = threading.Thread(
            target=lambda: sent_cpu.append(
                send_paced_apart([route.paced for route in routes], seconds, started)
            )
        )
        sender.start()
        time.sleep(max(0.0, started - time.perf_counter()))
        # With its children, reaped ones too: a gunicorn worker killed and replaced keeps its CPU.
        cpu = {name: cpu_seconds(pid, children=True) for name, pid in pids.items()}
        bench_cpu = time.process_time()
        load = [os.getloadavg()[0]]
        cpu_trace = (
            CpuTrace({pid: name for name, pid in pids.items()}, work, started)
            if args.cpu_trace
            else None
        )
        with cpu_trace or nullcontext():
            while sender.is_alive():
                samples.append(sample(db, pids, started))
                load.append(os.getloadavg()[0])
                time.sleep(10)
        samples.append(sample(db, pids, started))
        load.append(os.getloadavg()[0])
        if not sent_cpu:
            raise RuntimeError("the sending process stopped before the end of the run (above)")
        cpu = {name: cpu_seconds(pids[name], children=True) - cpu[name] for name in pids} | {
            "client": sent_cpu[0],
            "bench": time.process_time() - bench_cpu,
        }
        drain_started = time.perf_counter()
        while samples[-1]["inbox_pending"] and time.perf_counter() - drain_started < 300:
            time.sleep(2)
            samples.append(sample(db, pids, started))
        drained = time.perf_counter() - drain_started
    finally:
        for worker in workers:
            stop(worker)
        for server in servers.values():
            stop(server)
        mailbox.down()
    if cpu_trace is not None:
        cpu_trace.write(args.cpu_trace)
    if args.trace:
        with open(args.trace, "w") as trace:
            trace.write("route,sent_s,ms,status\n")
            for route in routes:
                for sent, took, status in route.paced.answers:
                    trace.write(f"{route.name},{sent - started:.4f},{took * 1000:.2f},{status}\n")
    report(args, routes, samples, drained, seconds, mailbox, cpu, load, started)


def tracking_links(env: dict[str, str], slug: str) -> list[str]:
    """The signed tracking-page path of every order of brand ``slug``."""
    os.environ.update(env)
    from sqlmodel import select

    from postpurchase import create_app
    from postpurchase.brands import get_brand
    from postpurchase.db import session_scope
    from postpurchase.lookup import order_link_path
    from postpurchase.models import Order
    from postpurchase.models.types import id_of

    app = create_app()
    with app.app_context(), session_scope(app) as session:
        brand = get_brand(session=session, slug=slug)
        assert brand is not None
        ids = [
            id_of(order) for order in session.exec(select(Order).where(Order.brand_id == brand.id))
        ]
        return [
            order_link_path(app.config["SECRET_KEY"], slug, id_of(brand), order_id)
            for order_id in ids
        ]


def sign_in(port: int, email: str, password: str, tries: int = 5) -> str:
    """The merchant sign-in cookie of ``email`` (tried again after a 500: on SQLite a sign-in
    that meets a worker's write can fail with "database is locked")."""
    for _ in range(tries - 1):
        try:
            return sign_in_once(port, email, password)
        except AssertionError:
            time.sleep(1)
    return sign_in_once(port, email, password)


def sign_in_once(port: int, email: str, password: str) -> str:
    import http.client
    from urllib.parse import urlencode

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/merchant/login")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie", "").split(";")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    form = urlencode({"csrf_token": token.group(1), "email": email, "password": password})
    connection.request(
        "POST",
        "/merchant/login",
        body=form,
        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
    )
    response = connection.getresponse()
    response.read()
    assert response.status == 302, response.status
    return response.getheader("Set-Cookie", "").split(";")[0]


def report(
    args: argparse.Namespace,
    routes: list[Route],
    samples: list[dict[str, Any]],
    drained: float,
    seconds: float,
    mailbox: Mailbox,
    cpu: dict[str, float],
    load: list[float],
    started: float,
) -> None:
    database = "PostgreSQL" if args.database_url else "SQLite"
    kind = (
        f"gthread x {args.web_threads}" if args.web_threads > 1 else worker_name(args.worker_class)
    )
    if args.intake_web_workers:
        kind += (
            f"; webhooks to gunicorn -w {args.intake_web_workers} (sync) at niceness "
            f"{args.intake_nice}"
        )
    print(
        f"\nload: {args.minutes:g} min on {database}, gunicorn -w {args.web_workers} ({kind}) + "
        f"{args.workers} worker(s); asked: webhooks {args.webhooks:g}/s, lookups "
        f"{args.lookups:g}/s, api {args.api:g}/s, merchant {args.merchant:g}/s; load average "
        f"{min(load):.1f}-{max(load):.1f} (1 min, sampled every 10 s)\n"
    )
    print(
        f"{'route':<26} {'asked/s':>8} {'done/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'late':>6}  statuses"
    )
    for route in routes:
        print(
            f"{route.name:<26} {route.rate:>8.0f} {len(route.latencies) / seconds:>8.1f} "
            f"{route.percentile(0.5):>8.1f} {route.percentile(0.99):>8.1f} {route.late:>6}  "
            f"{route.statuses}"
        )
    answered = sum(len(route.latencies) for route in routes)
    web = cpu["web"] + cpu.get("intake", 0)
    split = (
        f" (pages, API and merchant {cpu['web']:.1f} s; webhooks {cpu['intake']:.1f} s)"
        if "intake" in cpu
        else ""
    )
    print(
        f"\nCPU during the traffic: web {web:.1f} s{split} "
        f"({1000 * web / max(1, answered):.2f} ms per answered request, all routes), "
        + ", ".join(f"{name} {cpu[name]:.1f} s" for name in cpu if name.startswith("worker"))
        + f", client (the sending process) {cpu['client']:.1f} s, this process (SMTP sink, "
        f"samples) {cpu['bench']:.1f} s, over {seconds:.0f} s on {os.cpu_count()} cores"
    )
    print("\nsamples (every 10 s):")
    for row in samples[:: max(1, len(samples) // 20)] + samples[-1:]:
        print("  " + json.dumps(row))
    waiting = samples[-1]["inbox_pending"]
    inbox = (
        f"inbox not drained: {waiting} events still waiting {drained:.0f} s after the traffic "
        "stopped, when the bench stopped waiting"
        if waiting
        else f"inbox drained {drained:.0f} s after the traffic stopped"
    )
    print(
        f"\n{inbox}; SMTP received {sum(mailbox.seen.values())} messages, "
        f"{sum(v > 1 for v in mailbox.seen.values())} twice"
    )
    tracking, intake = routes[1], routes[0]
    slow = tracking.slow_seconds(started, 0.1)
    print(
        f"tracking pages over 100 ms: {sum(t > 0.1 for t in tracking.latencies)}, sent in "
        f"{len(slow)} of the {seconds:.0f} seconds{': ' if slow else ''}"
        + ", ".join(map(str, slow[:30]))
        + (" ..." if len(slow) > 30 else "")
    )
    met = (
        tracking.percentile(0.99) <= 100
        and len(tracking.latencies) / seconds >= 0.95 * 200
        and len(intake.latencies) / seconds >= 0.95 * 300
    )
    print(
        f"target (tracking p99 <= 100 ms at 200/s with intake 300/s): {'met' if met else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
