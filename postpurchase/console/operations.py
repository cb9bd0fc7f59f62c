"""What the console changes: internal notes and the exception queue's cases (each recorded in the
audit log). Keyword-only ``session``; they flush, the request commits."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, select

from postpurchase import audit
from postpurchase.console.problems import Problem
from postpurchase.models import ExceptionCase, InternalNote, MerchantUser, Resolution, Shipment

NOTE_MAX_LENGTH = 4000


class NotFound(LookupError):
    """No such parcel (or person) for this brand."""


class Invalid(ValueError):
    """A value a person typed that cannot be used; ``field`` names the form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _shipment(session: Session, brand_id: int, shipment_id: int) -> Shipment:
    shipment = session.get(Shipment, shipment_id)
    if shipment is None or shipment.brand_id != brand_id:
        raise NotFound(f"no shipment {shipment_id}")
    return shipment


def add_note(
    *, session: Session, brand_id: int, shipment_id: int, author: str, body: str, now: datetime
) -> InternalNote:
    """Keep a staff note on the parcel's order (on the parcel when it has no order)."""
    shipment = _shipment(session, brand_id, shipment_id)
    text = body.strip()
    if not text:
        raise Invalid("body", "write the note")
    if len(text) > NOTE_MAX_LENGTH:
        raise Invalid("body", f"at most {NOTE_MAX_LENGTH} characters")
    note = InternalNote(
        brand_id=brand_id,
        order_id=shipment.order_id,
        shipment_id=shipment.id,
        author=author,
        body=text,
        created_at=now,
    )
    session.add(note)
    session.flush()
    audit.record(
        session=session,
        brand_id=brand_id,
        actor=author,
        action="note.add",
        subject=f"shipment:{shipment_id}",
        after=text,
    )
    return note


def _case(session: Session, brand_id: int, shipment_id: int, now: datetime) -> ExceptionCase:
    _shipment(session, brand_id, shipment_id)
    case = session.exec(
        select(ExceptionCase).where(
            ExceptionCase.brand_id == brand_id, ExceptionCase.shipment_id == shipment_id
        )
    ).first()
    if case is None:
        case = ExceptionCase(brand_id=brand_id, shipment_id=shipment_id, updated_at=now)
        session.add(case)
    return case


def _changed(
    session: Session,
    case: ExceptionCase,
    actor: str,
    action: str,
    before: object,
    after: object,
    now: datetime,
) -> ExceptionCase:
    case.updated_at = now
    session.flush()
    audit.record(
        session=session,
        brand_id=case.brand_id,
        actor=actor,
        action=action,
        subject=f"shipment:{case.shipment_id}",
        before=before,
        after=after,
    )
    return case


def assign(
    *,
    session: Session,
    brand_id: int,
    shipment_id: int,
    assignee_id: int | None,
    actor: str,
    now: datetime,
) -> ExceptionCase:
    """Give the parcel's case to one of the brand's people (None: to nobody)."""
    if assignee_id is not None:
        user = session.get(MerchantUser, assignee_id)
        if user is None or user.brand_id != brand_id:
            raise Invalid("assignee", "choose one of the brand's people")
    case = _case(session, brand_id, shipment_id, now)
    before, case.assignee_id = case.assignee_id, assignee_id
    return _changed(session, case, actor, "exception.assign", before, assignee_id, now)


def snooze(
    *,
    session: Session,
    brand_id: int,
    shipment_id: int,
    until: date,
    today: date,
    actor: str,
    now: datetime,
) -> ExceptionCase:
    """Hide the parcel from the queue until the local date ``until``."""
    if until <= today:
        raise Invalid("until", "choose a date after today")
    case = _case(session, brand_id, shipment_id, now)
    before = case.snoozed_until.isoformat() if case.snoozed_until else None
    case.snoozed_until = until
    return _changed(session, case, actor, "exception.snooze", before, until.isoformat(), now)


def resolve(
    *,
    session: Session,
    brand_id: int,
    shipment_id: int,
    problem: Problem,
    resolution: Resolution,
    actor: str,
    now: datetime,
) -> ExceptionCase:
    """Close the parcel's case for ``problem``; a different problem later opens it again."""
    case = _case(session, brand_id, shipment_id, now)
    case.resolved_at, case.resolved_kind, case.resolution = now, problem.value, resolution
    case.snoozed_until = None
    return _changed(session, case, actor, "exception.resolve", problem.value, resolution.value, now)
