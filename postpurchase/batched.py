"""Work a batch of inbox events leaves to one flush at its end, instead of a flush per event.

Applied one at a time, each new parcel cost its own flush (the INSERT that gives it an id), then
its signal receivers' writes (the prediction, the shipment's dates and first poll, the outbox row),
each a statement of its own. Within :func:`together`, an operation may hand the work that needs
ids to :func:`later` and an insert that nothing in the batch reads back to :func:`insert_later`;
:func:`settle` then flushes once (the ORM writes the new parcels in one multi-row INSERT), runs
the handed-over work in the order it was handed over, and writes each buffered statement with
one ``executemany``.

Only work whose order relative to the rest of the batch cannot matter may wait: an operation that
reads or changes what an earlier one left for later calls :func:`settle` first. Work handed over
may name what it ``reads`` (keys such as ``("customer", 7)``); an operation that changes only
such things calls :func:`settle` with ``keys``, which settles only when waiting work reads one of
them (a late order of a new customer need not cut the batch in two). Outside
:func:`together` (a single event, a script, a test), :func:`later` and :func:`insert_later`
return False and the caller does the work at once.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

#: ``session.info`` key of the open batch.
_KEY = "batched_work"


@dataclass
class _Batch:
    callbacks: list[Callable[[], None]] = field(default_factory=list)
    #: What the waiting callbacks read, as they named it; None once one did not say.
    reads: set[Hashable] | None = field(default_factory=set)
    #: Buffered rows per statement, statements in the order they were first used.
    rows: dict[Any, list[dict[str, Any]]] = field(default_factory=dict)


@contextmanager
def together(session: Session) -> Iterator[None]:
    """Let the operations within defer work to :func:`settle`, which the caller runs before the
    batch's savepoint ends (what is still waiting when the block is left is dropped: the caller
    is rolling back)."""
    session.info[_KEY] = _Batch()
    try:
        yield
    finally:
        session.info.pop(_KEY, None)


def later(
    session: Session, callback: Callable[[], None], *, reads: Iterable[Hashable] | None = None
) -> bool:
    """Run ``callback`` at :func:`settle`, after the batch's flush; False when no batch is open.

    ``reads``: the keys of everything the callback reads that a later operation may change (see
    :func:`settle`'s ``keys``); without it, the callback may read anything."""
    batch: _Batch | None = session.info.get(_KEY)
    if batch is None:
        return False
    batch.callbacks.append(callback)
    if reads is None or batch.reads is None:
        batch.reads = None
    else:
        batch.reads.update(reads)
    return True


def insert_later(session: Session, statement: Any, values: dict[str, Any]) -> bool:
    """Execute ``statement`` with ``values`` at :func:`settle`, with the other rows buffered for
    it in one ``executemany``; False when no batch is open."""
    batch: _Batch | None = session.info.get(_KEY)
    if batch is None:
        return False
    batch.rows.setdefault(statement, []).append(values)
    return True


def settle(session: Session, keys: Iterable[Hashable] | None = None) -> None:
    """Do what the batch left for later: flush, run the callbacks (those they add too), write the
    buffered rows. Nothing to do outside a batch or when nothing waits.

    With ``keys`` (what the caller is about to change), only when a waiting callback said it reads
    one of them."""
    batch: _Batch | None = session.info.get(_KEY)
    if batch is None or not (batch.callbacks or batch.rows):
        return
    if keys is not None and batch.reads is not None and batch.reads.isdisjoint(keys):
        return
    session.flush()
    while batch.callbacks:
        callbacks, batch.callbacks = batch.callbacks, []
        for callback in callbacks:
            callback()
    batch.reads = set()
    rows, batch.rows = batch.rows, {}
    for statement, values in rows.items():
        session.execute(statement, values)
