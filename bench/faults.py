"""Fault suite: real processes on PostgreSQL, broken on purpose, then checked for lost or doubled work.

    python bench/faults.py [--short] [--events 120]

Starts a throwaway PostgreSQL (``scripts/pg-start`` in a temporary folder, on a free port), a
gunicorn web process that only accepts (``INBOX_INLINE=false``), two ``postpurchase worker``
processes, a local SMTP server (aiosmtpd, counts every Message-ID it is handed and never drops a
repeat) and a fake carrier HTTP server answering EasyPost trackers. The workers' clock is the wall
clock plus an offset the suite writes to a file (``POSTPURCHASE_BENCH_CLOCK_OFFSET_FILE``), so
simulated hours pass in seconds. Scenarios, each during or after a burst of signed
``order.created`` + ``shipment.created`` events (the sender re-posts what was not acknowledged,
as a WMS does):

- ``kill -9``: the web process group and the scheduler leader are killed mid-burst, then restarted;
- ``postgres``: PostgreSQL is stopped for 30 s (5 s with ``--short``) and started again;
- ``smtp``: the SMTP server is down for an hour of simulated time;
- ``carrier`` (``--short`` leaves it out): at the brand's next morning every parcel is due for its
  first poll; the first two bursts' parcels turn out delivered, the last burst's are in transit
  and due today, so they are polled every 45 minutes; then the carrier is flaky for three
  simulated hours (any request may get a 429, a 500, garbage or no answer) and sound for one more;
- ``clock``: the workers' clock jumps forward a day.

After recovery it checks: every acknowledged event is in the inbox and the inbox holds nothing
unprocessed (accepted = processed); no Message-ID reached SMTP twice; every due message was sent
or sits in an explained terminal state (none pending or sending, every ``sent`` row's Message-ID
arrived); no active shipment is overdue for a poll (after the carrier scenario also: every active
parcel was polled since the carrier recovered, with how many parcels were asked about and the
answers per kind); a live worker holds the scheduler lease. It prints a table and exits 1 when a
check fails.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from processes import SYNC_WORKER, Postgres, free_port  # noqa: E402

TERMINAL_OUTBOX = ("sent", "held", "failed", "suppressed", "unknown", "stale")


class Mailbox:
    """An SMTP server that counts what it is handed, per Message-ID; ``up`` toggles it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.seen: Counter[str] = Counter()
        self.controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        from email import message_from_bytes, policy

        message = message_from_bytes(envelope.content, policy=policy.default)
        self.seen[str(message.get("Message-ID", ""))] += 1
        return "250 OK"

    def up(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def down(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


#: Answer kinds of a ``flaky`` carrier and their weights. A 429 stops the planner's run until the
#: next one (a minute of wall time: a round of polls lost) and a timeout holds it for the client's
#: read timeout, so those two are capped (:data:`FLAKY_CAPS`) to keep the scenario's wall time
#: bounded.
FLAKY = {"ok": 70, "500": 12, "garbage": 12, "429": 3, "timeout": 3}
FLAKY_CAPS = {"429": 1, "timeout": 2}


class Carrier:
    """A fake EasyPost: answers trackers in transit, or misbehaves as ``mode`` says.

    ``mode`` is one answer kind for every request (``ok``, ``429``, ``500``, ``garbage``,
    ``timeout``) or ``flaky``: each request's answer drawn from :data:`FLAKY` (seeded), so the carrier
    misbehaves in the middle of a real poll load instead of being down for everyone. A parcel in
    transit is answered with today's date (the workers' clock, in the brand's zone) as the
    estimate, as on its delivery day: the planner then asks about it every 45 minutes. Numbers in
    ``delivered`` are answered delivered.
    """

    def __init__(self, zone: str = "Asia/Tokyo") -> None:
        self.mode = "ok"
        self.zone = ZoneInfo(zone)
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        #: Answers per kind, and requests per tracking number (every kind).
        self.calls: Counter[str] = Counter()
        self.asked: Counter[str] = Counter()
        self.delivered: set[str] = set()
        self.rng = random.Random(16)
        self.lock = threading.Lock()
        carrier = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                number = body.get("tracker", {}).get("tracking_code", "")
                kind = carrier.answer(number)
                if kind == "timeout":
                    time.sleep(25)  # longer than the client's 20-second read timeout
                    return
                status, payload = 200, b""
                if kind == "429":
                    status, payload = 429, b'{"error":"rate limited"}'
                elif kind == "500":
                    status, payload = 500, b"<html>oops</html>"
                elif kind == "garbage":
                    payload = b'{"object": "Tracker", "tracking_code": '
                else:
                    payload = carrier.tracker(number)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, number: str) -> str:
        """The kind of answer this request gets, counted."""
        with self.lock:
            kind = self.mode
            if kind == "flaky":
                kind = self.rng.choices(list(FLAKY), weights=list(FLAKY.values()))[0]
                if self.calls[kind] >= FLAKY_CAPS.get(kind, sys.maxsize):
                    kind = "ok"
            self.calls[kind] += 1
            self.asked[number] += 1
            return kind

    def tracker(self, number: str) -> bytes:
        now = self.clock()
        status = "delivered" if number in self.delivered else "in_transit"
        return json.dumps(
            {
                "object": "Tracker",
                "tracking_code": number,
                "status": status,
                "est_delivery_date": now.astimezone(self.zone).date().isoformat(),
                "tracking_details": [
                    {
                        "datetime": (now - timedelta(hours=1)).isoformat(),
                        "status": status,
                        "message": "Arrived at hub",
                    }
                ],
            }
        ).encode()


@dataclass
class Cluster:
    """The processes under test and how to reach them."""

    work: Path
    url: str
    postgres: Postgres
    env: dict[str, str]
    web_port: int
    offset_file: Path
    web: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    offset: float = 0.0

    def start_web(self) -> None:
        self.web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                "2",
                "-k",
                SYNC_WORKER,  # as deploy/gunicorn.conf.py runs it
                "-b",
                f"127.0.0.1:{self.web_port}",
                "--chdir",
                str(ROOT),
                "--log-level",
                "error",
                "wsgi:app",
            ],
            env=self.env,
            start_new_session=True,
            stderr=(self.work / "web.log").open("ab"),
        )
        wait_for_port(self.web_port)

    def kill_web(self) -> None:
        assert self.web is not None
        os.killpg(self.web.pid, signal.SIGKILL)
        self.web.wait()

    def start_worker(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "postpurchase.cli", "worker"],
            env={**self.env, "POSTPURCHASE_BENCH_CLOCK_OFFSET_FILE": str(self.offset_file)},
            cwd=ROOT,
            stderr=(self.work / "worker.log").open("ab"),
        )
        self.workers.append(process)
        return process

    def advance(self, seconds: float) -> None:
        self.offset += seconds
        self.offset_file.write_text(str(self.offset))

    def now(self) -> datetime:
        """The workers' clock."""
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def stop_all(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.terminate()
        if self.web is not None and self.web.poll() is None:
            os.killpg(self.web.pid, signal.SIGTERM)
        for process in [*self.workers, *([self.web] if self.web else [])]:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.postgres.stop()


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


class Sender:
    """A WMS: posts signed events and re-posts each until it is acknowledged."""

    def __init__(self, port: int, api_key: str, secret: str) -> None:
        self.port = port
        self.api_key = api_key
        self.secret = secret
        self.acknowledged: set[str] = set()
        self.retries = 0
        self.serial = 0

    def burst(self, count: int, during: Callable[[], None] | None = None) -> None:
        """Post ``count`` orders and their shipments from 4 threads; ``during`` runs halfway."""
        bodies = [body for _ in range(count) for body in self._story()]
        half = len(bodies) // 2
        for start, end in ((0, half), (half, len(bodies))):
            chunk = bodies[start:end]
            threads = [
                threading.Thread(target=self._post_all, args=(chunk[i::4],)) for i in range(4)
            ]
            for thread in threads:
                thread.start()
            if start == 0 and during is not None:
                time.sleep(0.3)
                during()
            for thread in threads:
                thread.join()

    def _story(self) -> list[tuple[str, bytes]]:
        from postpurchase.intake.examples import ORDER

        self.serial += 1
        n = self.serial
        when = datetime.now(UTC).isoformat()
        order = {
            **ORDER,
            "order_id": f"SO-F{n:06d}",
            "number": f"#F{n}",
            "placed_at": when,
            "customer": {
                **ORDER["customer"],
                "customer_id": f"C-F{n:06d}",
                "email": f"buyer{n}@example.jp",
            },
        }
        shipment = {
            "shipment_id": f"SH-F{n:06d}",
            "order_id": f"SO-F{n:06d}",
            "carrier": "easypost",
            "tracking_number": self.tracking_number(n),
            "shipped_at": when,
            "lines": [
                {"sku": line["sku"], "quantity": line["quantity"]} for line in ORDER["lines"]
            ],
        }
        return [
            (f"evt-fo-{n}", self._envelope(f"evt-fo-{n}", "order.created", when, order)),
            (f"evt-fs-{n}", self._envelope(f"evt-fs-{n}", "shipment.created", when, shipment)),
        ]

    @staticmethod
    def tracking_number(serial: int) -> str:
        return f"EZ{serial:010d}"

    @staticmethod
    def _envelope(event_id: str, kind: str, when: str, data: dict[str, Any]) -> bytes:
        envelope = {"id": event_id, "type": kind, "occurred_at": when, "data": data}
        return json.dumps(envelope, ensure_ascii=False).encode()

    def _post_all(self, bodies: list[tuple[str, bytes]]) -> None:
        for event_id, body in bodies:
            self.post(event_id, body)

    def post(self, event_id: str, body: bytes, deadline: float = 90) -> None:
        from postpurchase.inbox.signing import sign

        give_up = time.monotonic() + deadline
        while time.monotonic() < give_up:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                connection.request(
                    "POST",
                    "/webhooks/wms",
                    body=body,
                    headers={
                        "Authorization": f"Bearer {self.api_key}",
                        "Content-Type": "application/json",
                        "X-Postpurchase-Signature": sign(self.secret, body, int(time.time())),
                    },
                )
                response = connection.getresponse()
                response.read()
                connection.close()
                if response.status < 300:
                    self.acknowledged.add(event_id)
                    return
            except (OSError, http.client.HTTPException):
                pass
            self.retries += 1
            time.sleep(0.5)
        raise RuntimeError(f"{event_id} was never acknowledged")


@dataclass
class Check:
    scenario: str
    name: str
    ok: bool
    detail: str


def one(cluster: Cluster, sql: str, **params: Any) -> Any:
    from sqlalchemy import create_engine, text

    engine = create_engine(cluster.url, pool_pre_ping=True)
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql), params).all()
    finally:
        engine.dispose()


def settled(cluster: Cluster, since: datetime | None = None) -> dict[str, Any]:
    """What the checks look at, read in one go; ``since``: also count the active parcels not
    polled (successfully) since then."""
    now = cluster.now()
    inbox = dict(one(cluster, "SELECT state, count(*) FROM inboxevent GROUP BY state"))
    ids = {row[0] for row in one(cluster, "SELECT external_id FROM inboxevent")}
    outbox = dict(one(cluster, "SELECT state, count(*) FROM outboxmessage GROUP BY state"))
    due_open = one(
        cluster,
        "SELECT count(*) FROM outboxmessage WHERE state IN ('pending', 'sending') AND due_at <= :now",
        now=now,
    )[0][0]
    sent_ids = [
        row[0] for row in one(cluster, "SELECT provider_id FROM outboxmessage WHERE state = 'sent'")
    ]
    # Claiming a parcel pushes its next poll a lease ahead: "not overdue" alone holds before
    # any answer, hence the second count (the active parcels not polled since ``since``).
    overdue, unpolled_since = one(
        cluster,
        "SELECT count(*) FILTER (WHERE next_poll_at IS NULL OR next_poll_at < :late), "
        "count(*) FILTER (WHERE last_polled_at IS NULL OR last_polled_at < :since) "
        "FROM shipment WHERE tracking_number IS NOT NULL "
        "AND status NOT IN ('delivered', 'returned', 'expired')",
        late=now - timedelta(minutes=5),
        since=since or now,
    )[0]
    if since is None:
        unpolled_since = 0
    polled = one(
        cluster,
        "SELECT count(*), count(last_polled_at) FROM shipment WHERE tracking_number IS NOT NULL",
    )[0]
    lease = one(
        cluster,
        "SELECT holder FROM leaderlease WHERE name = 'scheduler' AND expires_at > :now",
        now=now,
    )
    return {
        "polled": tuple(polled),
        "inbox": inbox,
        "ids": ids,
        "outbox": outbox,
        "due_open": due_open,
        "sent_ids": sent_ids,
        "overdue": overdue,
        "unpolled_since": unpolled_since,
        "leader": lease[0][0] if lease else None,
    }


def wait_settled(
    cluster: Cluster,
    ready: Callable[[dict[str, Any]], bool],
    timeout: float,
    since: datetime | None = None,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    state = settled(cluster, since)
    while not ready(state) and time.monotonic() < deadline:
        time.sleep(1)
        state = settled(cluster, since)
    return state


def pass_time(cluster: Cluster, steps: int, step: float = 180, wall: float = 1) -> None:
    """Move the workers' clock ``steps`` times by ``step`` seconds, ``wall`` seconds apart: an
    outage, not a jump (see the SMTP scenario), and time for the work that comes due."""
    for _ in range(steps):
        cluster.advance(step)
        time.sleep(wall)


def inbox_drained(state: dict[str, Any]) -> bool:
    return not any(state["inbox"].get(s) for s in ("pending", "deferred", "failed"))


def outbox_drained(state: dict[str, Any]) -> bool:
    return inbox_drained(state) and state["due_open"] == 0


def morning_after(moment: datetime, zone: str = "Asia/Tokyo", hour: float = 9.5) -> datetime:
    """The first ``hour`` o'clock (local) in ``zone``, the suite brand's, after ``moment``."""
    local = moment.astimezone(ZoneInfo(zone))
    morning = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(hours=hour)
    if morning <= local:
        morning += timedelta(days=1)
    return morning


def check(
    scenario: str,
    cluster: Cluster,
    sender: Sender,
    mailbox: Mailbox,
    *,
    polls: bool = False,
    polled_since: datetime | None = None,
    carrier_before: tuple[Counter[str], Counter[str]] | None = None,
    note: str = "",
    timeout: float = 60,
) -> list[Check]:
    """Wait for the system to settle, then check the invariants.

    ``polls``: also no active parcel overdue for a poll; ``polled_since``: also every active
    parcel polled successfully since then (a claimed parcel is not overdue, so the first check
    alone passes before a single answer); ``carrier_before``: the carrier's counters
    (:attr:`Carrier.calls`, :attr:`Carrier.asked`) when the scenario began, to report its own;
    ``note``: added to that report.
    """

    def ready(state: dict[str, Any]) -> bool:
        return (
            outbox_drained(state)
            and state["leader"] is not None
            and (not polls or state["overdue"] == 0)
            and state["unpolled_since"] == 0
        )

    state = wait_settled(cluster, ready, timeout, polled_since)
    live = {f":{p.pid}:" for p in cluster.workers if p.poll() is None}
    missing = sender.acknowledged - state["ids"]
    open_inbox = {s: state["inbox"].get(s, 0) for s in ("pending", "deferred", "failed")}
    doubled = {k: v for k, v in mailbox.seen.items() if v > 1}
    unarrived = [i for i in state["sent_ids"] if i and i not in mailbox.seen]
    explained = {s: n for s, n in state["outbox"].items() if s not in ("sent", "pending")}
    checks = [
        Check(
            scenario,
            "accepted = processed",
            not missing and not any(open_inbox.values()),
            f"{len(sender.acknowledged)} acked, {len(missing)} missing, open {open_inbox}",
        ),
        Check(scenario, "no message sent twice", not doubled, f"{len(doubled)} doubled"),
        Check(
            scenario,
            "no message lost",
            # nothing sent at all would make "none lost" true of a suite that tested nothing
            state["due_open"] == 0 and not unarrived and state["outbox"].get("sent", 0) > 0,
            f"{state['outbox'].get('sent', 0)} sent, {state['due_open']} due unsent, "
            f"{len(unarrived)} sent but not received, other {explained}",
        ),
        Check(
            scenario,
            "leader elected",
            state["leader"] is not None and any(tag in state["leader"] for tag in live),
            str(state["leader"]),
        ),
    ]
    if polls:
        checks.append(
            Check(
                scenario,
                "no shipment unpolled",
                state["overdue"] == 0,
                f"{state['overdue']} overdue, {state['polled'][1]}/{state['polled'][0]} polled "
                f"at least once, carrier answers {dict(CARRIER.calls)}",
            )
        )
    if polled_since is not None:
        calls, asked = (
            (CARRIER.calls - carrier_before[0], CARRIER.asked - carrier_before[1])
            if carrier_before is not None
            else (CARRIER.calls, CARRIER.asked)
        )
        checks.append(
            Check(
                scenario,
                "every parcel polled",
                state["unpolled_since"] == 0,
                f"{state['unpolled_since']} active parcels not polled since "
                f"{polled_since:%H:%M} UTC (simulated); in all {carrier_summary(calls, asked)}"
                + (f"; {note}" if note else ""),
            )
        )
    return checks


CARRIER: Carrier


def carrier_summary(calls: Counter[str], asked: Counter[str]) -> str:
    """How many parcels the carrier was asked about (3+ times: how many of them) and its answers."""
    return (
        f"{len(asked)} parcels asked about, {sum(1 for n in asked.values() if n >= 3)} of them "
        f"3+ times, {calls.total()} requests {dict(calls)}"
    )


def leader_process(cluster: Cluster) -> subprocess.Popen[bytes] | None:
    rows = one(
        cluster,
        "SELECT holder FROM leaderlease WHERE name = 'scheduler' AND expires_at > :now",
        now=cluster.now(),
    )
    holder = rows[0][0] if rows else ""
    return next((p for p in cluster.workers if f":{p.pid}:" in holder), None)


def run(args: argparse.Namespace) -> list[Check]:
    global CARRIER
    work = Path(tempfile.mkdtemp(prefix="pp-faults-"))
    postgres = Postgres(work / "pg", free_port())
    url = postgres.start()
    mailbox = Mailbox(free_port())
    mailbox.up()
    CARRIER = Carrier()
    env = {
        **os.environ,
        "POSTPURCHASE_DATABASE_URL": url,
        "POSTPURCHASE_INSTANCE_PATH": str(work),
        "POSTPURCHASE_LOG_LEVEL": "ERROR",
        "POSTPURCHASE_INBOX_INLINE": "false",
        "POSTPURCHASE_INBOX_POLL_MS": "200",
        "POSTPURCHASE_LEADER_LEASE_SECONDS": "4",
        "POSTPURCHASE_LEADER_RENEW_SECONDS": "1",
        "POSTPURCHASE_SMTP_PORT": str(mailbox.port),
        "POSTPURCHASE_MESSAGES_RETRY_BASE_SECONDS": "60",
        "POSTPURCHASE_MESSAGES_RETRY_MAX_SECONDS": "600",
        "POSTPURCHASE_CARRIER_EASYPOST_API_KEY": "fault-suite",
        "POSTPURCHASE_CARRIER_EASYPOST_BASE_URL": f"http://127.0.0.1:{CARRIER.port}",
    }
    created = json.loads(
        subprocess.run(
            [
                *(sys.executable, "-m", "postpurchase.cli", "init", "--brand-slug", "faults"),
                *("--name", "Fault 茶舗", "--json"),
            ],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
    )
    # Quiet hours would hold every message the suite runs into at night in the brand's zone, and
    # "none lost" would pass without a single send: the suite's brand has none.
    for end in ("start", "end"):
        subprocess.run(
            [
                *(sys.executable, "-m", "postpurchase.cli", "settings", "set", "--brand", "faults"),
                *(f"messaging.quiet_hours.{end}", '"00:00"'),
            ],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    cluster = Cluster(work, url, postgres, env, free_port(), work / "clock-offset")
    cluster.advance(0)
    CARRIER.clock = cluster.now
    sender = Sender(cluster.web_port, created["api_key"], created["signing_secret"])
    results: list[Check] = []
    try:
        cluster.start_web()
        cluster.start_worker()
        cluster.start_worker()
        wait_settled(cluster, lambda state: state["leader"] is not None, 10)
        n = args.events

        def kill_web_and_leader() -> None:
            cluster.kill_web()
            leader = leader_process(cluster)
            if leader is not None:
                leader.kill()
                leader.wait()
                cluster.workers.remove(leader)
            time.sleep(2)
            cluster.start_web()
            cluster.start_worker()

        sender.burst(n, during=kill_web_and_leader)
        # An event deferred for its order waits for its retry (backoff), hence the longer wait.
        results += check("kill -9 web + leader", cluster, sender, mailbox, timeout=120)

        outage = 5 if args.short else 30

        def postgres_down() -> None:
            cluster.postgres.stop()
            time.sleep(outage)
            cluster.postgres.start()

        sender.burst(n, during=postgres_down)
        results += check(f"postgres down {outage} s", cluster, sender, mailbox, timeout=90)

        mailbox.down()
        sender.burst(n)
        # An hour in 3-minute steps, so retries come due along the way. A step longer than the
        # outbox's 5-minute claim lease would let a message being sent look abandoned and be sent
        # again: a jump, not an outage (the day's jump below comes when nothing is in flight).
        pass_time(cluster, 20)
        mailbox.up()
        results += check("smtp down 1 h (simulated)", cluster, sender, mailbox, timeout=90)

        if not args.short:
            # First polls are planned for the next delivery morning in the brand's zone (or an hour
            # after hand-over, on a morning): go to the first morning after the last of them
            # (nothing is in flight after the check above), where every parcel is due. The first
            # two bursts' parcels are delivered by then (the first poll says so, and a message goes
            # out); the last burst's are in transit with today as the estimate, so the planner asks
            # about each every 45 minutes: that is the poll load the misbehaving carrier meets.
            CARRIER.delivered = {sender.tracking_number(i) for i in range(1, 2 * n + 1)}
            last_plan = one(cluster, "SELECT max(next_poll_at) FROM shipment")[0][0]
            last_plan = max(cluster.now(), last_plan.replace(tzinfo=last_plan.tzinfo or UTC))
            cluster.advance((morning_after(last_plan) - cluster.now()).total_seconds())
            morning = cluster.now()
            before = (Counter(CARRIER.calls), Counter(CARRIER.asked))
            results += check(
                "carrier: the morning's first polls",
                cluster,
                sender,
                mailbox,
                polls=True,
                polled_since=morning,
                carrier_before=before,
                timeout=300,
            )
            # Flaky for three hours (each request may get a 429, a 500, garbage or no answer), then
            # sound for an hour, longer than any parcel waits for its next poll: by then every
            # active parcel must have been polled again. The planner runs once a minute of wall
            # time and a run asks about every parcel due (150 at EasyPost's 5 requests/s: 30 s), so
            # each parcel is asked about roughly once per minute of wall time whatever the
            # simulated pace: four minutes of flakiness, for several polls of each parcel through it.
            before = (Counter(CARRIER.calls), Counter(CARRIER.asked))
            CARRIER.mode = "flaky"
            pass_time(cluster, 60, wall=4)
            CARRIER.mode = "ok"
            recovered = cluster.now()
            flaky = carrier_summary(CARRIER.calls - before[0], CARRIER.asked - before[1])
            pass_time(cluster, 20, wall=3)
            results += check(
                "carrier flaky 3 h (429/500/garbage/timeout)",
                cluster,
                sender,
                mailbox,
                polls=True,
                polled_since=recovered,
                carrier_before=before,
                note=f"while flaky {flaky}",
                timeout=300,
            )

        cluster.advance(24 * 3600)
        results += check(
            "clock +1 day", cluster, sender, mailbox, polls=True, timeout=120 if args.short else 300
        )
    finally:
        cluster.stop_all()
        mailbox.down()
        CARRIER.server.shutdown()
    print(f"\n{sender.retries} re-posts by the sender; carrier answers {dict(CARRIER.calls)}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="fewer scenarios, under 3 minutes")
    parser.add_argument("--events", type=int, default=None, help="orders per burst")
    args = parser.parse_args(argv)
    if args.events is None:
        args.events = 20 if args.short else 150
    started = time.monotonic()
    results = run(args)
    width = max(len(r.scenario) for r in results)
    print(f"\n{'scenario':<{width}} {'check':<24} {'result':<6} detail")
    for r in results:
        print(f"{r.scenario:<{width}} {r.name:<24} {'ok' if r.ok else 'FAIL':<6} {r.detail}")
    failed = [r for r in results if not r.ok]
    print(
        f"\n{len(results) - len(failed)}/{len(results)} checks passed in "
        f"{time.monotonic() - started:.0f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
