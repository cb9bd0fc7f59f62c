"""Fixed-window request limits counted in the database, so every worker process sees one count.

:func:`hit` is one upsert; :func:`upsert` is the dialect's ``INSERT ... ON CONFLICT`` that other
bounded counters (webhook rejections) use too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from postpurchase.models import RateLimitWindow


def upsert(session: Session | Connection, table: Any) -> Any:
    """``INSERT`` for ``table`` with ``on_conflict_do_*`` on this session's dialect."""
    bind = session.get_bind() if isinstance(session, Session) else session
    return (pg_insert if bind.dialect.name == "postgresql" else sqlite_insert)(table)


def window_start(now: datetime, window: timedelta) -> datetime:
    """The start of the fixed window of length ``window`` that contains ``now``."""
    seconds = int(window.total_seconds())
    return datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, UTC)


def hit(*, session: Session | Connection, key: str, now: datetime, window: timedelta) -> int:
    """Count one request for ``key``; returns the requests counted in the current window.

    The first request of a window also deletes every expired window, of any key, so the table
    holds about one row per key active in the last window.
    """
    table = RateLimitWindow.__table__  # type: ignore[attr-defined]
    start = window_start(now, window)
    statement = upsert(session, table).values(key=key[:128], window_start=start, count=1)
    statement = statement.on_conflict_do_update(
        index_elements=["key", "window_start"], set_={"count": table.c.count + 1}
    ).returning(table.c.count)
    count = int(session.execute(statement).scalar_one())
    if count == 1:
        session.execute(delete(table).where(table.c.window_start < start))
    return count


def retry_after(now: datetime, window: timedelta) -> int:
    """Seconds until the current window ends (for a ``Retry-After`` header)."""
    end = window_start(now, window) + window
    return max(1, int((end - now).total_seconds() + 0.999))
