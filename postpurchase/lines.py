"""An order's lines, read once per unit of work.

Processing a batch of events reads the lines of the same orders again and again: the delivery-date
prediction of each new parcel (its order features), the message builders (their profiles), the
profile refresh. :func:`remember` keeps what a batch loaded in bulk in ``session.info``;
:func:`order_lines` answers from it, else with one query that it then remembers.

Lines are written by the intake's ``order.created`` / ``order.updated``, which remembers what
it wrote, and replaced in bulk by the history import, which calls :func:`forget`. What a
rolled-back savepoint undid cannot be told from the cache (a deleted line comes back), so any
rollback forgets everything the session remembered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlmodel import Session, col, select

from postpurchase.models import OrderLine
from postpurchase.unitcache import unit_cache

#: ``session.info`` key: lines per order id.
_LINES = "order_lines"


def order_lines(session: Session, order_id: int) -> list[OrderLine]:
    """The order's lines (in id order), without flushing unless order lines are pending.

    Not flushing lets the caller's other pending changes (a new parcel's first poll) go out
    later in one statement with whatever else the unit of work changes on the same row.
    """
    if any(isinstance(row, OrderLine) for row in (*session.new, *session.dirty, *session.deleted)):
        session.flush()
    cached = _cache(session).get(order_id)
    if cached is not None and all(line in session for line in cached):
        return list(cached)
    with session.no_autoflush:
        found = list(
            session.exec(
                select(OrderLine).where(OrderLine.order_id == order_id).order_by(col(OrderLine.id))
            )
        )
    _cache(session)[order_id] = found
    return list(found)


def remember(session: Session, lines: Mapping[int, Iterable[OrderLine]]) -> None:
    """Keep these orders' complete, current lines (by order id) for the unit of work."""
    _cache(session).update(
        {order_id: sorted(rows, key=lambda line: line.id or 0) for order_id, rows in lines.items()}
    )


def read(session: Session, order_ids: Iterable[int]) -> dict[int, list[OrderLine]]:
    """The lines of many orders in a few queries, per order id, not remembered (a history of
    thousands of orders read once)."""
    wanted = sorted(set(order_ids))
    found: dict[int, list[OrderLine]] = {order_id: [] for order_id in wanted}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for line in session.exec(select(OrderLine).where(col(OrderLine.order_id).in_(chunk))):
            found[line.order_id].append(line)
    return found


def load(session: Session, order_ids: Iterable[int]) -> dict[int, list[OrderLine]]:
    """:func:`read`, and remembered for the unit of work."""
    found = read(session, order_ids)
    remember(session, found)
    return found


def forget(session: Session, order_ids: Iterable[int]) -> None:
    """For code that writes lines with Core statements (the history import): read them anew."""
    cache = _cache(session)
    for order_id in order_ids:
        cache.pop(order_id, None)


def _cache(session: Session) -> dict[int, list[OrderLine]]:
    return unit_cache(session, _LINES)
