"""Metrics read from the database at scrape time: the same answer from any process on any
machine, whichever one Prometheus happens to ask."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from flask import Flask
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import Session, col, select

from carriers.status import FINAL
from postpurchase import counters, lease
from postpurchase.db import get_db
from postpurchase.inbox import waiting
from postpurchase.models import OutboxMessage, OutboxState, Shipment
from postpurchase.profiles import stale_count

PREFIX = "postpurchase_"


class DatabaseCollector(Collector):
    """Queue depths, inbox lag, messages per channel and result, and the counters that jobs keep
    in the database (carrier requests, job runs)."""

    def __init__(self, app: Flask, clock: Callable[[], datetime]) -> None:
        self.app = app
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily | SummaryMetricFamily]:
        now = self.clock()
        with get_db(self.app).session() as session:
            yield from _queues(session, now)
            yield _messages(session)
            yield _leader(session, now)
            yield from _stored_counters(session)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, documentation, value=value)


def _queues(session: Session, now: datetime) -> Iterator[GaugeMetricFamily]:
    pending, oldest = waiting(session)
    yield _gauge("inbox_pending", "Accepted events not processed yet.", pending)
    lag = (now - oldest).total_seconds() if oldest is not None else 0.0
    yield _gauge("inbox_lag_seconds", "Age of the oldest pending event.", max(0.0, lag))
    outbox = session.exec(
        select(func.count()).where(
            col(OutboxMessage.state) == OutboxState.pending, col(OutboxMessage.due_at) <= now
        )
    ).one()
    yield _gauge("outbox_pending", "Messages due to be sent and not sent yet.", outbox)
    due = session.exec(
        select(func.count()).where(
            col(Shipment.next_poll_at) <= now,
            col(Shipment.status).not_in(FINAL),
            col(Shipment.tracking_number).is_not(None),
        )
    ).one()
    yield _gauge("shipments_due", "Shipments whose carrier poll is due.", due)
    yield _gauge(
        "profiles_stale",
        "Customer profiles waiting for the profiles.refresh job.",
        stale_count(session),
    )


def _messages(session: Session) -> CounterMetricFamily:
    family = CounterMetricFamily(
        PREFIX + "messages",
        "Messages per channel and state (sent, failed, suppressed, stale, ...).",
        labels=["channel", "result"],
    )
    rows = session.exec(
        select(OutboxMessage.channel, OutboxMessage.state, func.count()).group_by(
            col(OutboxMessage.channel), col(OutboxMessage.state)
        )
    )
    for channel, state, count in rows:
        family.add_metric([str(channel), str(state)], count)
    return family


def _leader(session: Session, now: datetime) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        PREFIX + "scheduler_leader",
        "1 for the process holding the scheduler lease (none while nobody holds it).",
        labels=["holder"],
    )
    holder = lease.current(session=session, name=lease.SCHEDULER, now=now)
    if holder is not None:
        family.add_metric([holder.holder], 1)
    return family


def _stored_counters(
    session: Session,
) -> Iterator[CounterMetricFamily | SummaryMetricFamily]:
    stored = counters.read_all(session=session)
    by_name: dict[str, list[tuple[dict[str, str], float]]] = {}
    for name, labels, value in stored:
        by_name.setdefault(name, []).append((labels, value))
    for name, documentation in (
        ("carrier_requests", "Tracking requests to carriers, per carrier."),
        ("carrier_failures", "Tracking requests that failed (error, rate limit), per carrier."),
        ("job_failures", "Scheduled job runs that raised, per job."),
    ):
        family = CounterMetricFamily(PREFIX + name, documentation, labels=_label_names(name))
        for labels, value in by_name.get(name, []):
            family.add_metric(list(labels.values()), value)
        yield family
    durations = SummaryMetricFamily(
        PREFIX + "job_duration_seconds", "Time scheduled jobs took, per job.", labels=["job"]
    )
    seconds = {labels["job"]: value for labels, value in by_name.get("job_seconds", [])}
    for labels, runs in by_name.get("job_runs", []):
        durations.add_metric([labels["job"]], int(runs), seconds.get(labels["job"], 0.0))
    yield durations


def _label_names(name: str) -> list[str]:
    return ["job"] if name.startswith("job_") else ["carrier"]
