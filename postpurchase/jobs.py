"""APScheduler wiring: what runs when, and the leader lock that keeps one scheduler active.

Jobs are module-level functions registered in :data:`JOBS`; each opens its own app context and
session and calls operations. The work items themselves are claimed from tables (``SKIP LOCKED`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so a second scheduler or a manual run never doubles work;
the leader lock only avoids needless contention.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask
from sqlalchemy import text

from postpurchase.db import get_db

log = logging.getLogger(__name__)

#: Arbitrary constant for ``pg_try_advisory_lock``: "pp" + "sched".
SCHEDULER_LOCK_KEY = 0x70705F7363686564


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Callable[[Flask], Any]
    seconds: float


#: Every periodic job. Features append their ``JobSpec`` here through :func:`register_job`.
JOBS: list[JobSpec] = []


def register_job(spec: JobSpec) -> None:
    if all(existing.id != spec.id for existing in JOBS):
        JOBS.append(spec)


def _run(app: Flask, func: Callable[[Flask], Any]) -> None:
    with app.app_context():
        try:
            func(app)
        except Exception:  # a job failure must not kill the scheduler thread
            log.exception("job %s failed", getattr(func, "__name__", func))


class LeaderLock:
    """Held by the one process whose scheduler runs: advisory lock on PostgreSQL, flock on SQLite."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._conn: Any = None
        self._file: Any = None

    def acquire(self) -> bool:
        database = get_db(self.app)
        if database.is_sqlite:
            path = Path(self.app.instance_path) / "scheduler.lock"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("w")
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self._file.close()
                self._file = None
                return False
            return True
        self._conn = database.engine.connect()
        got = self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": SCHEDULER_LOCK_KEY}).scalar()
        self._conn.commit()
        if not got:
            self._conn.close()
            self._conn = None
        return bool(got)

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def start_scheduler(app: Flask) -> BackgroundScheduler | None:
    """Start the in-process scheduler if this process wins the leader lock."""
    lock = LeaderLock(app)
    if not lock.acquire():
        log.info("another process runs the scheduler; this one serves requests only")
        return None
    scheduler = BackgroundScheduler(timezone="UTC")
    for spec in JOBS:
        scheduler.add_job(
            _run,
            "interval",
            seconds=spec.seconds,
            args=(app, spec.func),
            id=spec.id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )
    scheduler.start()
    app.extensions["postpurchase.scheduler"] = (scheduler, lock)
    log.info("scheduler started with jobs: %s", ", ".join(s.id for s in JOBS))
    return scheduler


def stop_scheduler(app: Flask) -> None:
    pair = app.extensions.pop("postpurchase.scheduler", None)
    if pair:
        scheduler, lock = pair
        scheduler.shutdown(wait=True)
        lock.release()
