"""Applying a carrier's answer to a shipment: events, the status state machine, the domain event.

Rules (the state machine):

* Events are inserted once per (shipment, scan time, carrier code), also under concurrent
  inserts (``INSERT ... ON CONFLICT DO NOTHING`` on both databases); re-applying a result is a
  no-op.
* The shipment takes the status the carrier reports for the parcel as a whole, unless the answer
  is *stale*: its newest scan is older than the newest scan we already have (a late webhook, a
  cached aggregator answer). A stale answer still adds its missing events to the timeline.
* An answer without any scans only moves a shipment forward (``PROGRESS``), never back.
* ``delivered`` and ``returned`` are terminal and stick. A **correction** is the only way out: the
  carrier reports a different status *and* a scan with that status that happened after the scan
  that made the shipment terminal (e.g. 配達完了 followed by 調査中 or 持戻 the next hour). An
  answer that merely lacks the delivery scan, or repeats older scans, is not a correction.
* ``expired`` (no scans for a long time) reopens on any newer scan.
* Each change of the shipment's status emits :data:`postpurchase.signals.shipment_status_changed`
  once, from the status before the answer to the status after it. Statuses a single answer passed
  through (e.g. out_for_delivery then delivered between two polls) are in ``passed_through``; their
  scans are in the timeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from carriers.base import TrackingResult
from carriers.status import FINAL, PROGRESS, TERMINAL, Status
from postpurchase.clock import as_utc
from postpurchase.db import affected_rows
from postpurchase.models import CarrierResponse, Shipment, TrackingEvent
from postpurchase.models.types import table_of, upsert
from postpurchase.signals import shipment_status_changed


@dataclass(frozen=True)
class Change:
    """What applying one answer did to a shipment."""

    shipment_id: int
    previous: Status
    current: Status
    new_events: int = 0
    corrected: bool = False
    stale: bool = False
    passed_through: tuple[Status, ...] = field(default=())

    @property
    def changed(self) -> bool:
        return self.previous != self.current


def result_payload(result: TrackingResult) -> dict[str, Any]:
    """A JSON-safe dict of a result (normalized names; times in ISO 8601)."""

    def plain(value: Any) -> Any:
        if isinstance(value, datetime) or hasattr(value, "isoformat"):
            return value.isoformat()
        if isinstance(value, Mapping):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    stored: dict[str, Any] = plain(asdict(result))
    return stored


def _insert_events(
    session: Session, shipment: Shipment, result: TrackingResult, source: str, now: datetime
) -> list[tuple[datetime, Status]]:
    """Insert the scans we do not have yet; return (time, status) of those actually inserted."""
    known = {
        (as_utc(at), code)
        for at, code in session.exec(
            select(TrackingEvent.occurred_at, TrackingEvent.carrier_code).where(
                TrackingEvent.shipment_id == shipment.id
            )
        )
    }
    rows: dict[tuple[datetime, str], dict[str, Any]] = {}
    for event in result.events:
        key = (as_utc(event.occurred_at), event.code[:128])
        if key in known or key in rows:
            continue
        rows[key] = {
            "brand_id": shipment.brand_id,
            "shipment_id": shipment.id,
            "occurred_at": key[0],
            "status": event.status,
            "carrier_code": key[1],
            "description": event.description[:500],
            "location": event.location[:200] if event.location else None,
            "delivered_to": event.delivered_to,
            "source": source[:16],
            "recorded_at": now,
        }
    inserted = []
    for key, row in sorted(rows.items()):
        statement = (
            upsert(session, table_of(TrackingEvent))
            .values(**row)
            .on_conflict_do_nothing(index_elements=["shipment_id", "occurred_at", "carrier_code"])
        )
        if affected_rows(session.execute(statement)):
            inserted.append((key[0], row["status"]))
    return inserted


def _decide(shipment: Shipment, result: TrackingResult) -> tuple[Status, bool, bool]:
    """(status to take, is a correction, answer is stale) following the module's rules."""
    current = Status(shipment.status)
    candidate = result.status
    if not result.events:
        if current in FINAL or PROGRESS[candidate] <= PROGRESS[current]:
            return current, False, False
        return candidate, False, False
    newest = max(as_utc(e.occurred_at) for e in result.events)
    last_known = as_utc(shipment.last_event_at) if shipment.last_event_at else None
    if last_known is not None and newest < last_known:
        return current, False, True
    if current in TERMINAL and candidate != current:
        since = as_utc(shipment.status_changed_at or shipment.last_event_at or newest)
        corrected = any(
            e.status == candidate and as_utc(e.occurred_at) > since for e in result.events
        )
        return (candidate, True, False) if corrected else (current, False, False)
    return candidate, False, False


def _place(shipment: Shipment, result: TrackingResult) -> None:
    """Keep where the parcel was left or waits, as the answer whose status we take says it."""
    shipment.delivered_to = result.delivered_to
    pickup = result.pickup
    shipment.pickup_name = pickup.name[:200] if pickup and pickup.name else None
    shipment.pickup_address = pickup.address[:300] if pickup and pickup.address else None
    shipment.pickup_deadline = pickup.deadline if pickup else None


def apply_result(
    *,
    session: Session,
    shipment_id: int,
    result: TrackingResult,
    source: str,
    now: datetime,
    keep_raw: bool = True,
) -> Change:
    """Apply one carrier answer to a shipment (see the module docstring); flushes, never commits.

    ``source`` is ``poll``, ``webhook`` or ``refresh``. The shipment row is locked (``FOR
    UPDATE`` on PostgreSQL; on SQLite callers use :func:`postpurchase.db.claim_scope`) so two
    answers for the same parcel apply one after the other.
    """
    shipment = session.exec(
        select(Shipment)
        .where(Shipment.id == shipment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    previous = Status(shipment.status)
    inserted = _insert_events(session, shipment, result, source, now)
    current, corrected, stale = _decide(shipment, result)
    newest = max((as_utc(e.occurred_at) for e in result.events), default=None)
    if newest is not None and (
        shipment.last_event_at is None or newest > as_utc(shipment.last_event_at)
    ):
        shipment.last_event_at = newest
    if not stale:
        if result.estimated_delivery is not None:
            shipment.carrier_estimated_date = result.estimated_delivery
        if result.signed_by:
            shipment.signed_by = result.signed_by[:128]
        if current == result.status:
            shipment.sub_status = result.sub_status[:64] if result.sub_status else None
            _place(shipment, result)
    shipment.failed_attempts += sum(1 for _, status in inserted if status == Status.attempt_fail)
    occurred_at = now
    passed: tuple[Status, ...] = ()
    if current != previous:
        matching = [as_utc(e.occurred_at) for e in result.events if e.status == current]
        occurred_at = max(matching, default=newest or now)
        shipment.status = current
        shipment.status_changed_at = occurred_at
        if current == Status.delivered:
            shipment.delivered_at = occurred_at
        elif previous == Status.delivered:
            shipment.delivered_at = None
        passed = tuple(
            status
            for at, status in sorted(inserted)
            if status not in (previous, current) and at <= occurred_at
        )
    shipment.updated_at = now
    if keep_raw:
        session.add(
            CarrierResponse(
                brand_id=shipment.brand_id,
                shipment_id=shipment_id,
                carrier_code=result.carrier[:32],
                tracking_number=result.tracking_number[:64],
                source=source[:16],
                payload=result_payload(result),
                received_at=now,
            )
        )
    session.flush()
    change = Change(
        shipment_id,
        previous,
        current,
        len(inserted),
        corrected,
        stale,
        tuple(dict.fromkeys(passed)),
    )
    if change.changed:
        shipment_status_changed.send(
            shipment_id,
            session=session,
            brand_id=shipment.brand_id,
            previous=previous,
            current=current,
            occurred_at=occurred_at,
            now=now,
            source=source,
            corrected=corrected,
            passed_through=change.passed_through,
        )
    return change


def set_status(*, session: Session, shipment_id: int, status: Status, now: datetime) -> Change:
    """Set a status we decide ourselves (``expired``), emitting the signal like a carrier change."""
    shipment = session.get(Shipment, shipment_id)
    assert shipment is not None
    previous = Status(shipment.status)
    if previous != status:
        shipment.status = status
        shipment.status_changed_at = now
        shipment.next_poll_at = None
        shipment.updated_at = now
        session.flush()
        shipment_status_changed.send(
            shipment_id,
            session=session,
            brand_id=shipment.brand_id,
            previous=previous,
            current=status,
            occurred_at=now,
            now=now,
            source="planner",
            corrected=False,
            passed_through=(),
        )
    return Change(shipment_id, previous, status)
