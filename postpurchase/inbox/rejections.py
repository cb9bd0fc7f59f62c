"""A small, bounded record of refused webhooks (bad key or signature), written before answering 401.

Nothing of the request is kept but its size: no body, no headers. Per source, remote address and
minute at most :data:`ROWS_PER_MINUTE` rows are written; the last one counts the rest, so a flood
of unsigned megabyte bodies adds a few hundred bytes a minute per address, not the bodies.
The retention job deletes rows older than ``REJECTED_RETENTION_DAYS``
(:mod:`postpurchase.privacy.retention`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select
from sqlmodel import Session

from postpurchase.models import RejectionReason, WebhookRejection
from postpurchase.models.types import table_of, upsert
from postpurchase.throttle import window_start

ROWS_PER_MINUTE = 5


def record_rejection(
    *,
    session: Session | Connection,
    source: str,
    reason: RejectionReason,
    remote_addr: str,
    body_bytes: int,
    now: datetime,
    brand_id: int | None = None,
) -> None:
    """Count one refused request; the caller commits."""
    table = table_of(WebhookRejection)
    minute = window_start(now, timedelta(minutes=1))
    key = (
        table.c.source == source[:64],
        table.c.remote_addr == remote_addr[:64],
        table.c.minute == minute,
    )
    existing = int(session.execute(select(func.count()).where(*key)).scalar_one())
    values = {
        "source": source[:64],
        "brand_id": brand_id,
        "reason": reason,
        "remote_addr": remote_addr[:64],
        "minute": minute,
        "slot": min(existing, ROWS_PER_MINUTE - 1),
        "count": 1,
        "body_bytes": body_bytes,
        "first_at": now,
        "last_at": now,
    }
    # Concurrent requests may pick the same slot: the loser counts on the winner's row.
    statement = upsert(session, table).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=["source", "remote_addr", "minute", "slot"],
        set_={
            "count": table.c.count + 1,
            "last_at": now,
            "body_bytes": body_bytes,
            "reason": reason,
        },
    )
    session.execute(statement)
