"""The audit log: every change to a brand's settings, people or data is recorded here, by whoever
makes it (console, API, CLI, a job), so a merchant can see who did what and undo a settings change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from postpurchase.clock import utcnow
from postpurchase.models.audit import AuditEntry


def record(
    *,
    session: Session,
    brand_id: int | None,
    actor: str,
    action: str,
    subject: str = "",
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """Add one entry (flushed, not committed: it belongs to the caller's transaction, so an
    action and its record are stored together or not at all)."""
    entry = AuditEntry(
        brand_id=brand_id,
        actor=actor,
        action=action,
        subject=subject,
        before=before,
        after=after,
        at=utcnow(),
    )
    session.add(entry)
    session.flush()
    return entry


def entries(
    *, session: Session, brand_id: int, before_id: int | None = None, limit: int = 50
) -> Sequence[AuditEntry]:
    """The brand's entries, newest first; ``before_id`` continues a page (cursor pagination)."""
    query = select(AuditEntry).where(AuditEntry.brand_id == brand_id)
    if before_id is not None:
        query = query.where(col(AuditEntry.id) < before_id)
    return session.exec(query.order_by(col(AuditEntry.id).desc()).limit(limit)).all()
