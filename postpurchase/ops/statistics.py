"""Planner statistics for SQLite, gathered as the database grows.

PostgreSQL's autovacuum analyzes tables as they change; SQLite never does by itself. Without
statistics its planner assumes that an equality on the first column of any index selects about ten
rows, so ``brand_id = ? AND order_id = ?`` may walk the brand's index and filter every parcel the
brand has, rather than look up the order's few. On one brand's database that grew to 32,000
orders in a 10-minute load run, the tracking page's read of an order's parcels went that way and
cost 8 ms instead of 0.03, and the insights rollup of a batch 200 ms instead of 0.4: the cost of a
page grew with the brand's history (BENCHMARKS.md, "Planner statistics").

:func:`statistics_job` runs ``ANALYZE`` the first time it finds the file past
:data:`FIRST_PAGES`, then each time the file has doubled since, and at least once a day, so the
work adds up to a few passes over the final size. It reads every index, not the tables: 0.3 s
on a 690 MB file. A sampled one (``PRAGMA analysis_limit``, SQLite's advice for running it
often) counted at most the sample's rows per key, so every brand seemed to own 401 parcels
whatever it had, and the API's list of a brand's parcels sorted them all instead of walking the
primary key. ``ANALYZE`` changes the schema version, so every other connection, in every process,
reloads the schema and the new statistics at its next read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask

from postpurchase.clock import utcnow
from postpurchase.db import get_db, write_transaction

log = logging.getLogger(__name__)

#: Database pages (4 KB each by default) before the first ANALYZE: below this every plan is cheap.
FIRST_PAGES = 256

#: Growth of the file since the last ANALYZE that calls for another.
GROWTH = 2.0

#: Statistics older than this are gathered again even when the file has not grown (the mix of
#: brands and states changes).
MAX_AGE = timedelta(days=1)


@dataclass
class _Analyzed:
    pages: int
    at: datetime


#: The last ANALYZE this process ran, per database URL (the job runs in the scheduler's leader).
_last: dict[str, _Analyzed] = {}


def statistics_job(app: Flask) -> None:
    if get_db(app).is_sqlite:
        refresh_sqlite_statistics(app, now=utcnow())


def refresh_sqlite_statistics(app: Flask, *, now: datetime) -> bool:
    """Run ``ANALYZE`` on the app's SQLite file if it grew enough or the last one is old; True
    when it ran."""
    engine = get_db(app).engine
    key = str(engine.url)
    with engine.connect() as connection:
        pages = int(connection.exec_driver_sql("PRAGMA page_count").scalar_one())
    last = _last.get(key)
    if last is None:
        due = pages >= FIRST_PAGES
    else:
        due = pages >= GROWTH * last.pages or now - last.at >= MAX_AGE
    if not due:
        return False
    with write_transaction(app) as connection:
        connection.exec_driver_sql("PRAGMA analysis_limit=0")  # whole indexes (see above)
        connection.exec_driver_sql("ANALYZE")
    _last[key] = _Analyzed(pages=pages, at=now)
    log.info("sqlite statistics gathered at %d pages", pages)
    return True
