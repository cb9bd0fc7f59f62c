"""Outbox benchmark: enqueue messages for many parcels, send them to a local SMTP server.

    python bench/outbox.py                      # 50,000 messages, 20,000 parcels, SQLite
    python bench/outbox.py --database-url postgresql+psycopg://postgres@127.0.0.1:55433/pp_bench
    python bench/outbox.py --messages 5000 --shipments 2000 --no-kill

The SMTP server (aiosmtpd) runs in a separate process and appends the Message-ID of every message
it accepts to a file before answering 250. Mid-run the benchmark kills it (SIGKILL) and starts it
again; afterwards every outbox row must be ``sent`` and every Message-ID must appear exactly once
at the server (no loss, no duplicates). Messages are enqueued through the real trigger path
(signals → rules → templates → outbox rows).
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def serve(port: int, log_path: str) -> None:
    """The SMTP server process: log each accepted Message-ID (flushed) before answering 250."""
    from email.parser import BytesHeaderParser

    from aiosmtpd.controller import Controller

    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            headers = BytesHeaderParser().parsebytes(envelope.content)
            log.write(f"{headers.get('Message-ID', '').strip()}\n")
            log.flush()
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


def start_server(port: int, log_path: str) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port), log_path])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("SMTP server did not start")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def enqueue_all(app, shipments: int, messages: int) -> float:
    """Create parcels and send the domain signals that enqueue ``messages`` messages; seconds taken."""
    from carriers.status import Status
    from postpurchase import signals
    from postpurchase.brands import create_brand
    from postpurchase.db import session_scope
    from postpurchase.models import Customer, Order, OrderLine, Shipment

    settings = {
        "messaging": {
            "quiet_hours": {"start": "00:00", "end": "00:00"},
            "daily_cap": 10,
            "sender": {"name": "Bench", "email": "bench@shop.example"},
        }
    }
    now = datetime.now(UTC)
    with session_scope(app) as session:
        brand_id = create_brand(
            session=session, slug="bench", name="Bench", settings=settings
        ).brand_id
    per_parcel = ["shipped", "out_for_delivery", "delivered"]
    plan = [(i, trigger) for trigger in per_parcel for i in range(shipments)][:messages]
    started = time.perf_counter()
    chunk = 500
    ids: list[int] = []
    for first in range(0, shipments, chunk):
        with session_scope(app) as session:
            for i in range(first, min(shipments, first + chunk)):
                customer = Customer(
                    brand_id=brand_id,
                    external_id=f"C{i}",
                    email=f"c{i}@example.jp",
                    name=f"顧客 {i}",
                    locale="ja" if i % 4 else "en",
                )
                session.add(customer)
                session.flush()
                order = Order(
                    brand_id=brand_id,
                    external_id=f"O{i}",
                    number=f"#{100000 + i}",
                    customer_id=customer.id,
                    placed_at=now,
                    total_amount=3980,
                )
                session.add(order)
                session.flush()
                session.add(
                    OrderLine(
                        brand_id=brand_id, order_id=order.id, line_key="1", sku="SKU-1", name="商品"
                    )
                )
                parcel = Shipment(
                    brand_id=brand_id,
                    order_id=order.id,
                    external_id=f"S{i}",
                    carrier_code="bench",
                    tracking_number=f"T{i:08d}",
                    status=Status.in_transit,
                    predicted_date=datetime.now(UTC).date(),
                    promised_date=datetime.now(UTC).date(),
                )
                session.add(parcel)
                session.flush()
                ids.append(parcel.id)
    for first in range(0, len(plan), chunk):
        with session_scope(app) as session:
            for i, trigger in plan[first : first + chunk]:
                if trigger == "shipped":
                    signals.shipment_created.send(
                        brand_id, session=session, shipment_id=ids[i], now=now
                    )
                else:
                    signals.shipment_status_changed.send(
                        ids[i],
                        session=session,
                        brand_id=brand_id,
                        previous=Status.in_transit,
                        current=Status(trigger),
                        occurred_at=now,
                        now=now,
                    )
    return time.perf_counter() - started


def send_all(app, args, thread, started: float) -> float:
    """Run the sender until every row is settled and the outage (if any) is over; seconds taken."""
    from sqlalchemy import func
    from sqlmodel import select

    from postpurchase.db import session_scope
    from postpurchase.messaging.outbox import send_due
    from postpurchase.models import OutboxMessage, OutboxState

    while True:
        report = send_due(app, batch=args.batch, workers=args.workers)
        with session_scope(app) as session:
            open_rows = session.exec(
                select(func.count(OutboxMessage.id)).where(
                    OutboxMessage.state.in_(
                        [OutboxState.pending, OutboxState.sending, OutboxState.held]
                    )
                )
            ).one()
        if open_rows == 0 and (thread is None or not thread.is_alive()):
            return time.perf_counter() - started
        if report.claimed == 0:
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "LOG"), help=argparse.SUPPRESS)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--shipments", type=int, default=20_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--no-kill", action="store_true", help="Do not kill the SMTP server mid-run."
    )
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return

    from sqlalchemy import func, text
    from sqlmodel import SQLModel, select

    from postpurchase import create_app
    from postpurchase.db import get_db, session_scope
    from postpurchase.models import OutboxMessage, OutboxState

    tmp = Path(tempfile.mkdtemp(prefix="pp-outbox-bench-"))
    port, log_path = free_port(), str(tmp / "accepted.log")
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    app = create_app(
        {
            "DATABASE_URL": url,
            "INSTANCE_PATH": str(tmp),
            "SECRET_KEY": "bench",
            "SCHEDULER": False,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": port,
            "SMTP_IDEMPOTENT": "1",
            "MESSAGES_RETRY_BASE_SECONDS": 1,
            "LOG_LEVEL": "WARNING",
        }
    )
    database = get_db(app)
    if not database.is_sqlite:
        with database.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    database.create_all()
    del SQLModel

    with app.app_context():
        enqueue_seconds = enqueue_all(app, args.shipments, args.messages)
    with session_scope(app) as session:
        queued = session.exec(select(func.count(OutboxMessage.id))).one()
    print(
        f"enqueued {queued} messages for {args.shipments} parcels in {enqueue_seconds:.1f} s "
        f"({queued / enqueue_seconds:.0f}/s through the trigger path)"
    )

    server = start_server(port, log_path)
    outage = {"killed_at": None, "restarted_at": None}

    def killer() -> None:
        while True:
            time.sleep(0.2)
            with session_scope(app) as session:
                sent = session.exec(
                    select(func.count(OutboxMessage.id)).where(
                        OutboxMessage.state == OutboxState.sent
                    )
                ).one()
            if sent >= queued // 3:
                break
        nonlocal_server = servers[0]
        nonlocal_server.send_signal(signal.SIGKILL)
        nonlocal_server.wait()
        outage["killed_at"] = time.perf_counter()
        time.sleep(3)
        servers[0] = start_server(port, log_path)
        outage["restarted_at"] = time.perf_counter()

    servers = [server]
    thread = None if args.no_kill else threading.Thread(target=killer, daemon=True)
    started = time.perf_counter()
    if thread:
        thread.start()
    try:
        elapsed = send_all(app, args, thread, started)
    finally:
        servers[0].send_signal(signal.SIGTERM)
        servers[0].wait()

    with session_scope(app) as session:
        states = dict(
            session.exec(
                select(OutboxMessage.state, func.count(OutboxMessage.id)).group_by(
                    OutboxMessage.state
                )
            ).all()
        )
    arrivals = Counter(
        line.strip() for line in Path(log_path).read_text().splitlines() if line.strip()
    )
    duplicates = sum(count - 1 for count in arrivals.values() if count > 1)
    outage_seconds = (outage["restarted_at"] - outage["killed_at"]) if outage["killed_at"] else 0.0
    print()
    print(f"| {'measure':<42} | {'value':>12} |")
    print(f"|{'-' * 44}|{'-' * 14}|")
    rows = [
        ("database", "PostgreSQL" if not database.is_sqlite else "SQLite"),
        ("messages queued", queued),
        ("outbox rows sent", states.get(OutboxState.sent, 0)),
        (
            "rows unknown / failed / pending",
            (
                f"{states.get(OutboxState.unknown, 0)} / {states.get(OutboxState.failed, 0)} / "
                f"{states.get(OutboxState.pending, 0)}"
            ),
        ),
        ("distinct Message-IDs at the server", len(arrivals)),
        ("duplicate arrivals at the server", duplicates),
        ("wall time incl. outage (s)", f"{elapsed:.1f}"),
        ("SMTP server down (s)", f"{outage_seconds:.1f}"),
        ("emails/s incl. outage", f"{queued / elapsed:.0f}"),
        ("emails/s excl. outage", f"{queued / max(0.001, elapsed - outage_seconds):.0f}"),
    ]
    for name, value in rows:
        print(f"| {name:<42} | {value!s:>12} |")
    lost = queued - len(arrivals)
    if lost or duplicates:
        print(f"\nFAIL: {lost} lost, {duplicates} duplicates", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
