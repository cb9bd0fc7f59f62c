"""Operations behind the tracking API and commands: read shipments, force a poll, purge raw data."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import delete, func
from sqlmodel import Session, select

from carriers.status import Status
from postpurchase.clock import as_utc
from postpurchase.db import claim_scope, session_scope
from postpurchase.models import (
    CarrierCircuit,
    CarrierResponse,
    Shipment,
    TrackingEvent,
)
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
        super().__init__(f"the carrier could not be asked now; the planner will retry. Try again in {retry_after:.0f} s")
        self.retry_after = retry_after


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def event_public(event: TrackingEvent) -> dict[str, Any]:
    return {
        "occurred_at": _iso(event.occurred_at),
        "status": Status(event.status).value,
        "carrier_code": event.carrier_code,
        "description": event.description,
        "location": event.location,
        "source": event.source,
        "recorded_at": _iso(event.recorded_at),
    }


def shipment_public(shipment: Shipment, events: Sequence[TrackingEvent]) -> dict[str, Any]:
    """The API representation of a shipment with its timeline (oldest scan first)."""
    return {
        "id": shipment.id,
        "external_id": shipment.external_id,
        "parcel_index": shipment.parcel_index,
        "order_id": shipment.order_id,
        "carrier_code": shipment.carrier_code,
        "service": shipment.service,
        "tracking_number": shipment.tracking_number,
        "status": Status(shipment.status).value,
        "sub_status": shipment.sub_status,
        "status_changed_at": _iso(shipment.status_changed_at),
        "shipped_at": _iso(shipment.shipped_at),
        "last_event_at": _iso(shipment.last_event_at),
        "last_polled_at": _iso(shipment.last_polled_at),
        "delivered_at": _iso(shipment.delivered_at),
        "signed_by": shipment.signed_by,
        "promised_date": _iso(shipment.promised_date),
        "predicted_date": _iso(shipment.predicted_date),
        "carrier_estimated_date": _iso(shipment.carrier_estimated_date),
        "events": [event_public(e) for e in events],
    }


def _events_by_shipment(session: Session, ids: Sequence[int]) -> dict[int, list[TrackingEvent]]:
    grouped: dict[int, list[TrackingEvent]] = {i: [] for i in ids}
    if ids:
        rows = session.exec(select(TrackingEvent).where(TrackingEvent.shipment_id.in_(ids))  # type: ignore[attr-defined]
                            .order_by(TrackingEvent.occurred_at, TrackingEvent.id))
        for event in rows:
            grouped[event.shipment_id].append(event)
    return grouped


def get_shipment(*, session: Session, brand_id: int, shipment_id: int) -> dict[str, Any]:
    shipment = session.get(Shipment, shipment_id)
    if shipment is None or shipment.brand_id != brand_id:
        raise ShipmentNotFound(shipment_id)
    return shipment_public(shipment, _events_by_shipment(session, [shipment_id])[shipment_id])


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def list_shipments(*, session: Session, brand_id: int, status: Status | None, limit: int,
                   cursor: int | None) -> Page:
    """A brand's shipments by id, ``limit`` at a time; ``cursor`` is the last id of the previous page."""
    query = select(Shipment).where(Shipment.brand_id == brand_id)
    if status is not None:
        query = query.where(Shipment.status == status)
    if cursor is not None:
        query = query.where(Shipment.id > cursor)  # type: ignore[operator]
    rows = list(session.exec(query.order_by(Shipment.id).limit(limit + 1)))  # type: ignore[arg-type]
    more = len(rows) > limit
    rows = rows[:limit]
    events = _events_by_shipment(session, [s.id for s in rows if s.id is not None])
    return Page(
        [shipment_public(s, events[s.id]) for s in rows if s.id is not None],
        str(rows[-1].id) if more and rows else None,
    )


def refresh_shipment(app: Flask, *, brand_id: int, shipment_id: int, now: datetime,
                     policy: PollPolicy | None = None,
                     rng: random.Random | None = None) -> tuple[PollReport, dict[str, Any]]:
    """Poll one shipment now (``POST .../refresh``), at most once per ``refresh_every``.

    The shipment is claimed like a planner claim (its ``last_polled_at`` and a lease on
    ``next_poll_at`` are set in a locking transaction), so concurrent refreshes and planner runs
    never ask twice. Returns the run's report and the shipment as the API shows it.

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
    report = poll_shipments(app, [claimed], clock=lambda: now, sleep=lambda _s: None, policy=policy,
                            rng=rng, source="refresh")
    if report.failed_requests or report.deferred:
        raise CarrierUnavailable(max(report.retry_after, policy.refresh_every.total_seconds()))
    with session_scope(app) as session:
        return report, get_shipment(session=session, brand_id=brand_id, shipment_id=shipment_id)


def purge_raw(*, session: Session, now: datetime, retention_days: int) -> int:
    """Delete raw carrier answers older than the retention period."""
    return session.execute(
        delete(CarrierResponse).where(CarrierResponse.received_at < now - timedelta(days=retention_days))  # type: ignore[arg-type]
    ).rowcount


def tracking_status(*, session: Session, now: datetime) -> dict[str, Any]:
    """Counts per status, shipments due now and each carrier account's circuit (``tracking status``)."""
    counts = dict(session.exec(select(Shipment.status, func.count()).group_by(Shipment.status)).all())
    due = session.exec(select(func.count()).select_from(Shipment).where(Shipment.next_poll_at <= now)).one()  # type: ignore[operator]
    circuits = [
        {"account": c.key, "state": c.state, "failures": c.failures, "open_until": _iso(c.open_until),
         "retry_at": _iso(c.retry_at), "last_error": c.last_error}
        for c in session.exec(select(CarrierCircuit).order_by(CarrierCircuit.key))
    ]
    return {"statuses": {Status(k).value: v for k, v in counts.items()}, "due": due, "circuits": circuits}
