"""What one unit of work has looked up, kept in ``session.info`` and forgotten when it may be wrong."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlmodel import Session


def unit_cache(session: Session, key: str) -> dict[Any, Any]:
    """``session.info[key]``: a dict created on first use, emptied on any rollback and when the
    unit of work commits.

    A rollback (a savepoint's too) may have undone what the cache holds, and that cannot be told
    from the cache: a deleted row comes back, and a row inserted with Core and read back stays in
    the session as if it still existed. After the commit other processes may change the rows
    (releasing a savepoint also fires ``after_commit``; the unit of work goes on then).
    """
    cache: dict[Any, Any] | None = session.info.get(key)
    if cache is None:
        cache = session.info[key] = {}
        known = cache

        def forget_after_rollback(_session: Session, _previous: object) -> None:
            known.clear()

        def forget_after_commit(committed: Session) -> None:
            if not committed.in_nested_transaction():
                known.clear()

        event.listen(session, "after_soft_rollback", forget_after_rollback)
        event.listen(session, "after_commit", forget_after_commit)
    return cache
