"""Operations behind the tracking API and commands: read shipments, force a poll, purge raw data."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from carriers.http import no_waiting
from carriers.status import Status
from postpurchase.clock import as_utc
from postpurchase.db import affected_rows, claim_scope, session_scope
from postpurchase.models import (
    CarrierCircuit,
    CarrierResponse,
    Shipment,
)
from postpurchase.readmodels import ShipmentView, load_shipment, shipment_views
from postpurchase.tracking.intervals import PollPolicy, policy_from_config
from postpurchase.tracking.planner import Claimed, PollReport, poll_shipments


class ShipmentNotFound(LookupError):
    """No shipment with that id for that brand."""


class RefreshTooSoon(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"refreshed recently; retry in {retry_after:.0f} s")
        self.retry_after = retry_after


class CarrierUnavailable(Exception):
    """The carrier could not be asked now (error, rate limit, open circuit); the planner will ask
    again by itself, and a caller may try after ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            f"the carrier could not be asked now; the planner will retry. Try again in {retry_after:.0f} s"
        )
        self.retry_after = retry_after


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def get_shipment(*, session: Session, brand_id: int, shipment_id: int) -> ShipmentView:
    view = load_shipment(session=session, brand_id=brand_id, shipment_id=shipment_id)
    if view is None:
        raise ShipmentNotFound(shipment_id)
    return view


@dataclass(frozen=True)
class Page:
    data: list[ShipmentView]
    next_cursor: str | None


def list_shipments(
    *, session: Session, brand_id: int, status: Status | None, limit: int, cursor: int | None
) -> Page:
    """A brand's shipments by id, ``limit`` at a time; ``cursor`` is the last id of the previous page."""
    query = select(Shipment).where(Shipment.brand_id == brand_id)
    if status is not None:
        query = query.where(Shipment.status == status)
    if cursor is not None:
        query = query.where(col(Shipment.id) > cursor)
    rows = list(session.exec(query.order_by(col(Shipment.id)).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        shipment_views(session=session, shipments=rows), str(rows[-1].id) if more and rows else None
    )


def refresh_shipment(
    app: Flask,
    *,
    brand_id: int,
    shipment_id: int,
    now: datetime,
    policy: PollPolicy | None = None,
    rng: random.Random | None = None,
) -> tuple[PollReport, ShipmentView]:
    """Poll one shipment now (``POST .../refresh``), at most once per ``refresh_every``.

    The shipment is claimed like a planner claim (its ``last_polled_at`` and a lease on
    ``next_poll_at`` are set in a locking transaction), so concurrent refreshes and planner runs
    never ask twice. Returns the run's report and the shipment after the poll.

    Never waits: a rate-limited or failing carrier raises :class:`CarrierUnavailable` with how long
    to wait (at least ``refresh_every``) instead of sleeping inside the caller's request.
    """
    policy = policy or policy_from_config(app.config)
    with claim_scope(app) as session:
        query = select(Shipment).where(Shipment.id == shipment_id)
        shipment = session.exec(query.with_for_update()).first()
        if shipment is None or shipment.brand_id != brand_id or not shipment.tracking_number:
            raise ShipmentNotFound(shipment_id)
        if shipment.last_polled_at is not None:
            wait = as_utc(shipment.last_polled_at) + policy.refresh_every - now
            if wait > timedelta(0):
                raise RefreshTooSoon(wait.total_seconds())
        shipment.last_polled_at = now
        shipment.next_poll_at = now + policy.lease
        claimed = Claimed(shipment_id, brand_id, shipment.carrier_code, shipment.tracking_number)
    with no_waiting():
        report = poll_shipments(
            app,
            [claimed],
            clock=lambda: now,
            sleep=lambda _s: None,
            policy=policy,
            rng=rng,
            source="refresh",
        )
    if report.failed_requests or report.deferred:
        raise CarrierUnavailable(max(report.retry_after, policy.refresh_every.total_seconds()))
    with session_scope(app) as session:
        return report, get_shipment(session=session, brand_id=brand_id, shipment_id=shipment_id)


def purge_raw(*, session: Session, now: datetime, retention_days: int) -> int:
    """Delete raw carrier answers older than the retention period."""
    return affected_rows(
        session.execute(
            delete(CarrierResponse).where(
                col(CarrierResponse.received_at) < now - timedelta(days=retention_days)
            )
        )
    )


def tracking_status(*, session: Session, now: datetime) -> dict[str, Any]:
    """Counts per status, shipments due now and each carrier account's circuit (``tracking status``)."""
    counts = dict(
        session.exec(select(Shipment.status, func.count()).group_by(Shipment.status)).all()
    )
    due = session.exec(
        select(func.count()).select_from(Shipment).where(col(Shipment.next_poll_at) <= now)
    ).one()
    circuits = [
        {
            "account": c.key,
            "state": c.state,
            "failures": c.failures,
            "open_until": _iso(c.open_until),
            "retry_at": _iso(c.retry_at),
            "last_error": c.last_error,
        }
        for c in session.exec(select(CarrierCircuit).order_by(CarrierCircuit.key))
    ]
    return {
        "statuses": {Status(k).value: v for k, v in counts.items()},
        "due": due,
        "circuits": circuits,
    }
