"""Scheduled tracking jobs: the poll planner run and the purge of raw carrier answers."""

from __future__ import annotations

from flask import Flask

from postpurchase import counters
from postpurchase.db import session_scope
from postpurchase.tracking.operations import purge_raw
from postpurchase.tracking.planner import PollReport, maintain, poll_due
from postpurchase.tracking.routing import extension


def poll_job(app: Flask) -> PollReport:
    report = poll_due(app, clock=extension(app).clock)
    if report.carrier_requests:
        with session_scope(app) as session:
            for name, per_carrier in (
                ("carrier_requests", report.carrier_requests),
                ("carrier_failures", report.carrier_failures),
            ):
                for code, count in per_carrier.items():
                    counters.add(session=session, name=name, labels={"carrier": code}, amount=count)
    return report


def maintain_job(app: Flask) -> PollReport:
    return maintain(app, now=extension(app).clock())


def purge_job(app: Flask) -> int:
    with session_scope(app) as session:
        return purge_raw(
            session=session,
            now=extension(app).clock(),
            retention_days=int(app.config["RAW_RETENTION_DAYS"]),
        )
