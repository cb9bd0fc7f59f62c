"""APScheduler wiring: what runs when, and the leader lock that keeps one scheduler active.

Every job is listed in :data:`JOBS` (features register none of their own); each runs in its app's
context, opens its own session and calls operations. The work items themselves are claimed from tables (``SKIP LOCKED`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so a second scheduler or a manual run never doubles work;
the leader lock only avoids needless contention.
"""

from __future__ import annotations

import fcntl
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from flask import Flask
from sqlalchemy import text

from postpurchase.db import get_db

log = logging.getLogger(__name__)

#: Arbitrary constant for ``pg_try_advisory_lock``: "pp" + "sched".
SCHEDULER_LOCK_KEY = 0x70705F7363686564


@dataclass(frozen=True)
class JobSpec:
    """One periodic job: ``function(app)`` every ``seconds``.

    ``id`` is ``<feature>.<what>`` (the feature package the function lives in); ``function`` is
    ``"module:name"``, imported when a scheduler starts, so that reading the schedule imports no
    feature.
    """

    id: str
    function: str
    seconds: float

    def resolve(self) -> Callable[[Flask], Any]:
        module, _, name = self.function.partition(":")
        func: Callable[[Flask], Any] = getattr(importlib.import_module(module), name)
        return func


#: Every periodic job of the app, in one place. Each runs only in the process holding the leader
#: lock, with :data:`JOB_OPTIONS`; the work items are claimed from tables, so a manual run alongside
#: (``postpurchase tracking poll``, ``inbox process``, ...) never doubles work.
JOBS: tuple[JobSpec, ...] = (
    JobSpec("inbox.sweep", "postpurchase.inbox.worker:sweep", 15),
    JobSpec("tracking.poll", "postpurchase.tracking.jobs:poll_job", 60),
    JobSpec("tracking.maintain", "postpurchase.tracking.jobs:maintain_job", 3600),
    JobSpec("tracking.purge", "postpurchase.tracking.jobs:purge_job", 3600),
    JobSpec("edd.refit", "postpurchase.edd.service:refit_all", 24 * 3600),
    JobSpec("messaging.send", "postpurchase.messaging:send_job", 15),
    JobSpec("messaging.timers", "postpurchase.messaging:timers_job", 600),
    JobSpec("insights.weekly", "postpurchase.insights.weekly:weekly_job", 3600),
    JobSpec("privacy.purge", "postpurchase.privacy.retention:purge_job", 3600),
    JobSpec("returns.execute", "postpurchase.returns.execution:execute_job", 60),
)

#: APScheduler options of every job: a restart replaces the job, missed runs collapse into one,
#: and a run never overlaps the previous one of the same job.
JOB_OPTIONS: dict[str, Any] = {"replace_existing": True, "coalesce": True, "max_instances": 1}


def job_spec(job_id: str) -> JobSpec:
    """The job ``job_id`` of :data:`JOBS`."""
    return next(spec for spec in JOBS if spec.id == job_id)


def add_jobs(app: Flask, scheduler: BaseScheduler) -> None:
    """Add every job of :data:`JOBS` to ``scheduler``, each run with (and in the context of) ``app``."""
    for spec in JOBS:
        scheduler.add_job(
            _run,
            "interval",
            seconds=spec.seconds,
            args=(app, spec.resolve()),
            id=spec.id,
            **JOB_OPTIONS,
        )


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
        got = self._conn.execute(
            text("SELECT pg_try_advisory_lock(:k)"), {"k": SCHEDULER_LOCK_KEY}
        ).scalar()
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
    add_jobs(app, scheduler)
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
