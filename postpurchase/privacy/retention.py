"""Retention: inbox bodies and refused requests are not kept longer than the settings say.

Refused requests are the bounded rejection records (:mod:`postpurchase.inbox.rejections`) and,
from before webhooks verified first, inbox rows in state ``rejected``.

Processed events keep their row (source, external id, body digest, state, timestamps), so a late
duplicate is still recognised; only the body, which holds the personal data, is emptied. Events
that may still be processed (pending, deferred, failed) keep their body whatever their age.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from postpurchase.clock import utcnow
from postpurchase.db import affected_rows, session_scope
from postpurchase.models import InboxEvent, InboxState, WebhookRejection

#: Rows changed per transaction, so a first purge of a large inbox never holds a long lock.
BATCH_SIZE = 1000
#: States in which an event's body is never read again.
DONE_STATES = (InboxState.processed, InboxState.ignored)

#: ``progress(what, done_so_far)`` after each batch.
Progress = Callable[[str, int], None]


@dataclass
class PurgeCounts:
    inbox_bodies: int = 0
    rejected_requests: int = 0
    rejection_records: int = 0


def _old_bodies(cutoff: datetime) -> tuple[Any, ...]:
    return (
        col(InboxEvent.state).in_(DONE_STATES),
        col(InboxEvent.received_at) < cutoff,
        func.length(InboxEvent.raw_body) > 0,
    )


def _old_rejected(cutoff: datetime) -> tuple[Any, ...]:
    return (col(InboxEvent.state) == InboxState.rejected, col(InboxEvent.received_at) < cutoff)


def count_purgeable(
    *, session: Session, body_cutoff: datetime, rejected_cutoff: datetime
) -> PurgeCounts:
    """What a purge with these cutoffs would change (``data purge --dry-run``)."""

    def count(where: tuple[Any, ...]) -> int:
        return session.exec(select(func.count()).select_from(InboxEvent).where(*where)).one()

    records = session.exec(
        select(func.count())
        .select_from(WebhookRejection)
        .where(col(WebhookRejection.last_at) < rejected_cutoff)
    ).one()
    return PurgeCounts(
        count(_old_bodies(body_cutoff)), count(_old_rejected(rejected_cutoff)), records
    )


def purge_inbox_bodies(*, session: Session, cutoff: datetime, limit: int = BATCH_SIZE) -> int:
    """Empty the bodies of up to ``limit`` done events received before ``cutoff``; returns how many."""
    batch = select(InboxEvent.id).where(*_old_bodies(cutoff)).limit(limit)
    return affected_rows(
        session.execute(
            update(InboxEvent).where(col(InboxEvent.id).in_(batch)).values(raw_body=b""),
            execution_options={"synchronize_session": False},
        )
    )


def delete_rejected(*, session: Session, cutoff: datetime, limit: int = BATCH_SIZE) -> int:
    """Delete up to ``limit`` refused requests (bad signature) received before ``cutoff``."""
    batch = select(InboxEvent.id).where(*_old_rejected(cutoff)).limit(limit)
    return affected_rows(
        session.execute(
            delete(InboxEvent).where(col(InboxEvent.id).in_(batch)),
            execution_options={"synchronize_session": False},
        )
    )


def delete_rejection_records(*, session: Session, cutoff: datetime, limit: int = BATCH_SIZE) -> int:
    """Delete up to ``limit`` rejection records last counted before ``cutoff``."""
    batch = select(WebhookRejection.id).where(col(WebhookRejection.last_at) < cutoff).limit(limit)
    return affected_rows(
        session.execute(
            delete(WebhookRejection).where(col(WebhookRejection.id).in_(batch)),
            execution_options={"synchronize_session": False},
        )
    )


def cutoffs(config: Any, now: datetime) -> tuple[datetime, datetime]:
    """``(body cutoff, rejected cutoff)`` from ``RAW_RETENTION_DAYS`` and ``REJECTED_RETENTION_DAYS``."""
    return (
        now - timedelta(days=int(config["RAW_RETENTION_DAYS"])),
        now - timedelta(days=int(config["REJECTED_RETENTION_DAYS"])),
    )


def purge(
    app: Flask,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> PurgeCounts:
    """Run the whole purge, one transaction per batch; with ``dry_run`` only count."""
    body_cutoff, rejected_cutoff = cutoffs(app.config, now or utcnow())
    if dry_run:
        with session_scope(app) as session:
            return count_purgeable(
                session=session, body_cutoff=body_cutoff, rejected_cutoff=rejected_cutoff
            )
    counts = PurgeCounts()
    steps: tuple[tuple[str, Callable[..., int], datetime], ...] = (
        ("inbox_bodies", purge_inbox_bodies, body_cutoff),
        ("rejected_requests", delete_rejected, rejected_cutoff),
        ("rejection_records", delete_rejection_records, rejected_cutoff),
    )
    for what, step, cutoff in steps:
        while True:
            with session_scope(app) as session:
                done = step(session=session, cutoff=cutoff, limit=batch_size)
            setattr(counts, what, getattr(counts, what) + done)
            if done and progress is not None:
                progress(what, getattr(counts, what))
            if done < batch_size:
                break
    return counts


def purge_job(app: Flask) -> PurgeCounts:
    return purge(app)
