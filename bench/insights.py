"""Insights at scale: import a large history for one brand among five, then time the figures.

    python bench/insights.py [--rows 1000000] [--others 20000] [--runs 5] [--database URL]
                             [--workdir DIR] [--reuse]

Writes a synthetic history (``postpurchase.insights.sample``: one year of orders, ~8 % returned,
~20 % with feedback) for the measured brand and a smaller one for each of four other brands,
imports them through ``import_history`` (the code of ``postpurchase history import``), adds
tracking events to every parcel (bulk inserts; the figures never read them, but they make the
database the size a live one is), then times the overview, each API grouping, the PDF and the
merchant's page (through the WSGI app, signed in; its report computed for every request and then
reused, ``INSIGHTS_REUSE_SECONDS``) over a 90-day period. Prints a Markdown table.

``--reuse`` keeps the data of an earlier run (the SQLite file in ``--workdir``, or the database of
``--database``) when it already holds the measured brand, so the figures can be timed again after a
change without importing a million rows again.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_babel import force_locale  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402
from sqlalchemy.exc import DBAPIError  # noqa: E402

from carriers.status import Status  # noqa: E402
from postpurchase import create_app  # noqa: E402
from postpurchase.brands import create_brand  # noqa: E402
from postpurchase.db import get_db  # noqa: E402
from postpurchase.insights.figures import figures  # noqa: E402
from postpurchase.insights.history_import import import_history, read_import  # noqa: E402
from postpurchase.insights.queries import report  # noqa: E402
from postpurchase.insights.recent import EXTENSION_KEY as RECENT_REPORTS  # noqa: E402
from postpurchase.insights.sample import write_sample  # noqa: E402
from postpurchase.insights.web import render_report  # noqa: E402
from postpurchase.models import Brand, Shipment, TrackingEvent  # noqa: E402
from postpurchase.models.types import table_of  # noqa: E402
from postpurchase.pdf import pdf_bytes  # noqa: E402
from postpurchase.web.merchant import add_merchant_user  # noqa: E402

YEAR_START = datetime(2025, 10, 1, tzinfo=UTC)
PERIOD = (date(2026, 6, 1), date(2026, 8, 29))  # 90 days
GROUPINGS = (
    (),
    ("carrier",),
    ("service",),
    ("carrier", "service"),
    ("fc",),
    ("destination_region",),
    ("category",),
    ("segment",),
    ("time_slot",),
    ("month",),
    ("week",),
)


def _load(app, workdir: Path, slug: str, rows: int, seed: int) -> tuple[int, float]:
    """Create brand ``slug`` and import ``rows`` parcels; (brand id, seconds of read + import)."""
    path = workdir / f"{slug}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        write_sample(handle, rows=rows, start=YEAR_START, days=365, seed=seed, prefix=slug)
    with app.app_context():
        session = get_db(app).session()
        brand_id = create_brand(session=session, slug=slug, name=slug).brand_id
        session.commit()
        started = time.perf_counter()
        parsed = read_import(path, timezone="Asia/Tokyo", currency="JPY")
        import_history(session=session, brand_id=brand_id, rows=parsed, now=datetime.now(UTC))
        session.commit()
        elapsed = time.perf_counter() - started
        session.close()
    path.unlink()
    return brand_id, elapsed


def _add_events(database, brand_id: int, per_parcel: int) -> tuple[int, float]:
    """``per_parcel`` tracking events on each parcel of the brand, in bulk; (events, seconds)."""
    started = time.perf_counter()
    table = table_of(TrackingEvent)
    statuses = (Status.info_received, Status.in_transit, Status.out_for_delivery, Status.delivered)
    count = 0
    with database.engine.begin() as conn:
        parcels = conn.execute(
            select(Shipment.id, Shipment.shipped_at).where(Shipment.brand_id == brand_id)
        ).all()
        batch: list[dict] = []
        for shipment_id, shipped_at in parcels:
            moment = shipped_at or YEAR_START
            batch.extend(
                {
                    "brand_id": brand_id,
                    "shipment_id": shipment_id,
                    "occurred_at": moment + timedelta(hours=12 * step),
                    "status": statuses[min(step, len(statuses) - 1)],
                    "carrier_code": f"E{step}",
                    "description": "",
                    "source": "poll",
                    "recorded_at": moment + timedelta(hours=12 * step, minutes=5),
                }
                for step in range(per_parcel)
            )
            if len(batch) >= 20_000:
                conn.execute(insert(table), batch)
                count += len(batch)
                batch = []
        if batch:
            conn.execute(insert(table), batch)
            count += len(batch)
    return count, time.perf_counter() - started


def _measured_brand(database) -> int | None:
    """The id of an earlier run's measured brand, when the database has one."""
    try:
        with database.engine.connect() as conn:
            return conn.execute(select(Brand.id).where(Brand.slug == "measured")).scalar()
    except DBAPIError:  # no schema yet
        return None


def _time(runs: int, work) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _page_seconds(app, brand_id: int, runs: int) -> tuple[float, float]:
    """Median CPU seconds of the merchant's insights page for the period, (computed for every
    request, reused from the first), through the WSGI app with a signed-in merchant."""
    import re

    email = f"bench-{time.time_ns()}@example.jp"
    password = "bench-merchant-password"  # noqa: S105 (a throwaway database's user)
    with app.app_context():
        session = get_db(app).session()
        add_merchant_user(session=session, brand_id=brand_id, email=email, password=password)
        session.commit()
        session.close()
    client = app.test_client()
    login = client.get("/merchant/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    client.post("/merchant/login", data={"csrf_token": token, "email": email, "password": password})
    query = {"start": PERIOD[0].isoformat(), "end": PERIOD[1].isoformat()}

    def page() -> float:
        started = time.process_time()
        response = client.get("/merchant/insights", query_string=query)
        assert response.status_code == 200, response.status_code
        return time.process_time() - started

    medians = []
    for reuse in (0, 60):
        app.config["INSIGHTS_REUSE_SECONDS"] = reuse
        app.extensions.pop(RECENT_REPORTS, None)
        page()  # the first request of each mode compiles templates and statements
        medians.append(statistics.median(page() for _ in range(runs)))
    return medians[0], medians[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--others", type=int, default=20_000, help="parcels of each other brand")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--events", type=int, default=4, help="tracking events per parcel")
    parser.add_argument("--pdf-runs", type=int, default=3)
    parser.add_argument("--database", help="database URL (default: a SQLite file in --workdir)")
    parser.add_argument("--workdir", type=Path, help="where the SQLite file goes (default: new)")
    parser.add_argument(
        "--reuse", action="store_true", help="keep an earlier run's data when it has the brand"
    )
    args = parser.parse_args()
    logging.getLogger("weasyprint").setLevel(logging.WARNING)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-insights-"))
    workdir.mkdir(parents=True, exist_ok=True)
    url = args.database or f"sqlite:///{workdir / 'bench.db'}"
    app = create_app(
        {
            "DATABASE_URL": url,
            "SCHEDULER": False,
            "SECRET_KEY": "bench",
            "INSTANCE_PATH": str(workdir / "instance"),
        }
    )
    database = get_db(app)
    brand_id = _measured_brand(database) if args.reuse else None
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    if brand_id is None:
        if not database.is_sqlite:  # a throwaway database: start from an empty schema
            with database.engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        elif (workdir / "bench.db").exists():
            sys.exit(f"{workdir / 'bench.db'} exists without the measured brand: remove it")
        database.create_all()
        for index in range(4):
            _load(app, workdir, f"other{index}", args.others, seed=100 + index)
        brand_id, import_seconds = _load(app, workdir, "measured", args.rows, seed=7)
        events, event_seconds = _add_events(database, brand_id, args.events)
        with database.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        print(f"import of {args.rows} rows (read + write): {import_seconds:.1f} s")
        print(f"{events} tracking events added in bulk: {event_seconds:.1f} s")
    else:
        print(f"reusing the measured brand of an earlier run in {url}")
    print(f"database: {database.engine.dialect.name}; load average {os.getloadavg()[0]:.1f}")
    print()
    print("| grouping | rows | parcels in period | median s | runs |")
    print("|---|---|---|---|---|")
    with app.app_context():
        session = database.session()
        for grouping in GROUPINGS:
            seconds, result = _time(
                args.runs,
                lambda grouping=grouping: figures(
                    session=session,
                    brand_id=brand_id,
                    start=PERIOD[0],
                    end=PERIOD[1],
                    group_by=grouping,
                ),
            )
            parcels = sum(row.shipments for row in result.rows)
            name = ",".join(grouping) or "(overview)"
            print(f"| {name} | {len(result.rows)} | {parcels} | {seconds:.3f} | {args.runs} |")
        brand = session.get(Brand, brand_id)

        def overview_page():
            return report(session=session, brand_id=brand_id, start=PERIOD[0], end=PERIOD[1])

        seconds, page = _time(args.runs, overview_page)
        print(
            f"| insights page figures (all tables) | – | {page.overview.shipments} | {seconds:.3f} | {args.runs} |"
        )

        def pdf():
            with app.test_request_context(), force_locale("ja"):
                return pdf_bytes(render_report("pdf/insights.html", brand, overview_page()))

        seconds, document = _time(args.pdf_runs, pdf)
        print(
            f"| PDF (figures + render), {len(document) // 1024} KiB | – | {page.overview.shipments} | {seconds:.3f} | {args.pdf_runs} |"
        )
        session.close()
    computed, reused = _page_seconds(app, brand_id, args.runs)
    print(
        f"| merchant page (WSGI, signed in), report computed, CPU | – | {page.overview.shipments} | {computed:.3f} | {args.runs} |"
    )
    print(
        f"| merchant page, report reused (`INSIGHTS_REUSE_SECONDS`), CPU | – | {page.overview.shipments} | {reused:.3f} | {args.runs} |"
    )


if __name__ == "__main__":
    main()
