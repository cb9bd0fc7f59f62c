"""APScheduler wiring: what runs when, and the leader lease that keeps one scheduler active.

Every job is listed in :data:`JOBS` (features register none of their own); each runs in its app's
context, opens its own session and calls operations. The work items themselves are claimed from tables (``SKIP LOCKED`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so a second scheduler or a manual run never doubles work;
the leader lease (:class:`SchedulerLeader`) avoids needless contention and keeps exactly one
process's clock in charge of the schedule.
"""

from __future__ import annotations

import importlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from postpurchase import counters, lease
from postpurchase.clock import utcnow
from postpurchase.db import session_scope

log = logging.getLogger(__name__)


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
#: lease, with :data:`JOB_OPTIONS`; the work items are claimed from tables, so a manual run alongside
#: (``postpurchase tracking poll``, ``inbox process``, ...) never doubles work.
JOBS: tuple[JobSpec, ...] = (
    JobSpec("inbox.sweep", "postpurchase.inbox.worker:sweep", 15),
    JobSpec("tracking.poll", "postpurchase.tracking.jobs:poll_job", 60),
    JobSpec("tracking.maintain", "postpurchase.tracking.jobs:maintain_job", 3600),
    JobSpec("tracking.purge", "postpurchase.tracking.jobs:purge_job", 3600),
    JobSpec("edd.refit", "postpurchase.edd.service:refit_all", 24 * 3600),
    JobSpec("messaging.send", "postpurchase.messaging:send_job", 15),
    JobSpec("messaging.timers", "postpurchase.messaging:timers_job", 600),
    JobSpec("insights.reports", "postpurchase.insights.mailed:reports_job", 3600),
    JobSpec("privacy.purge", "postpurchase.privacy.retention:purge_job", 3600),
    JobSpec("returns.execute", "postpurchase.returns.execution:execute_job", 60),
    JobSpec("returns.reservations", "postpurchase.returns.exchange:expire_job", 600),
    JobSpec("profiles.refresh", "postpurchase.profiles:refresh_job", 10),
    JobSpec("ops.statistics", "postpurchase.ops.statistics:statistics_job", 60),
)

#: APScheduler options of every job: a restart replaces the job, missed runs collapse into one
#: that still runs however late it is, and a run never overlaps the previous one of the same job.
#: APScheduler's default ``misfire_grace_time`` (1 s) drops a run that starts more than a second
#: late: a process that takes the leader lease resumes its paused scheduler with every job's run
#: overdue, and a busy process starts runs late, so the poll planner skipped a whole interval at
#: each change of leader (seen in the fault suite: a poll run once every few minutes).
JOB_OPTIONS: dict[str, Any] = {
    "replace_existing": True,
    "coalesce": True,
    "max_instances": 1,
    "misfire_grace_time": None,
}


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
            args=(app, spec.resolve(), spec.id),
            id=spec.id,
            **JOB_OPTIONS,
        )


def _run(app: Flask, func: Callable[[Flask], Any], job_id: str = "") -> None:
    job_id = job_id or getattr(func, "__name__", str(func))
    started = time.perf_counter()  # a duration, not a moment: the clock is not asked
    failed = False
    with app.app_context():
        try:
            func(app)
        except Exception:  # a job failure must not kill the scheduler thread
            failed = True
            log.exception("job %s failed", job_id)
        _count_run(app, job_id, time.perf_counter() - started, failed=failed)


def _count_run(app: Flask, job_id: str, seconds: float, *, failed: bool) -> None:
    """Add the run to the job's counters in the database (``/metrics`` reads them)."""
    labels = {"job": job_id}
    try:
        with session_scope(app) as session:
            counters.add(session=session, name="job_runs", labels=labels)
            counters.add(session=session, name="job_seconds", labels=labels, amount=seconds)
            if failed:
                counters.add(session=session, name="job_failures", labels=labels)
    except SQLAlchemyError:
        log.warning("could not count the run of job %s", job_id, exc_info=True)


def process_holder_id() -> str:
    """``<host>:<pid>:<random>``: names this process as a lease holder, unique per start."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class SchedulerLeader:
    """Runs the scheduled jobs in this process while it holds the ``scheduler`` lease.

    Every web (``postpurchase run``) and ``postpurchase worker`` process that wants to schedule
    starts one; each tries every ``LEADER_RENEW_SECONDS`` to take or renew the lease, which lasts
    ``LEADER_LEASE_SECONDS``. The holder's jobs run; everybody else's scheduler stays paused. When
    the holder dies, its lease runs out and the next try of another process takes over, so jobs
    pause for at most the lease time plus one renew interval.
    """

    def __init__(
        self,
        app: Flask,
        *,
        holder: str | None = None,
        scheduler: BaseScheduler | None = None,
    ) -> None:
        self.app = app
        self.holder = holder or process_holder_id()
        self.ttl = timedelta(seconds=int(app.config["LEADER_LEASE_SECONDS"]))
        self.renew_seconds = float(app.config["LEADER_RENEW_SECONDS"])
        self.scheduler = scheduler or BackgroundScheduler(timezone="UTC")
        self.leading = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self, now: datetime) -> bool:
        """Take or renew the lease at ``now``, then run or pause the jobs to match. True while
        this process leads. A database error counts as not leading: the lease would run out
        before it could be renewed anyway."""
        try:
            with session_scope(self.app) as session:
                leading = lease.acquire(
                    session=session,
                    name=lease.SCHEDULER,
                    holder=self.holder,
                    now=now,
                    ttl=self.ttl,
                )
        except SQLAlchemyError:
            log.warning("could not renew the scheduler lease", exc_info=True)
            leading = False
        if leading != self.leading:
            if self.scheduler.running:
                (self.scheduler.resume if leading else self.scheduler.pause)()
            log.info(
                "%s the scheduler (%s)", "leading" if leading else "no longer leading", self.holder
            )
        self.leading = leading
        return leading

    def start(self) -> None:
        """Start the (paused) scheduler and the thread that keeps trying for the lease."""
        add_jobs(self.app, self.scheduler)
        self.scheduler.start(paused=True)
        self._thread = threading.Thread(target=self._loop, name="scheduler-leader", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            self.step(utcnow())
            if self._stop.wait(self.renew_seconds):
                return

    def stop(self) -> None:
        """Stop scheduling and hand the lease back at once (no wait for it to expire)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        if self.leading:
            with session_scope(self.app) as session:
                lease.release(
                    session=session, name=lease.SCHEDULER, holder=self.holder, now=utcnow()
                )
            self.leading = False


def start_scheduler(app: Flask) -> SchedulerLeader:
    """Start this process's scheduler; its jobs run while the process holds the leader lease."""
    leader = SchedulerLeader(app)
    leader.start()
    app.extensions["postpurchase.scheduler"] = leader
    log.info(
        "scheduler started (%s); jobs run while it leads: %s",
        leader.holder,
        ", ".join(s.id for s in JOBS),
    )
    return leader


def stop_scheduler(app: Flask) -> None:
    leader = app.extensions.pop("postpurchase.scheduler", None)
    if leader is not None:
        leader.stop()
