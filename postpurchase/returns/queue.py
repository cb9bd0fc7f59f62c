"""The merchant's returns queue: filtered, sorted, paged RMAs with counts per state, and bulk actions.

Bulk actions go row by row through the RMA state machine (:func:`~postpurchase.returns.operations.transition`)
and the payout rows (:mod:`postpurchase.returns.execution`), each row in a savepoint of its own, so
one refused row leaves the others done and the merchant reads which failed and why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import LazyString
from sqlalchemy import func
from sqlmodel import Session, col, select

from postpurchase import audit
from postpurchase.i18n import lazy_gettext as _l
from postpurchase.models import (
    ExecutionState,
    Order,
    ResolutionExecution,
    ReturnLine,
    ReturnPhoto,
    ReturnRequest,
)
from postpurchase.models.enums import ReturnResolution, ReturnState
from postpurchase.models.types import id_of
from postpurchase.pagination import Page, SortKey, paginate
from postpurchase.returns.execution import schedule_executions
from postpurchase.returns.operations import ReturnError, return_lines, transition
from postpurchase.returns.photos import photos_by_return

#: Most rows one bulk action takes (a page of the queue).
MAX_BULK = 100
PAGE_SIZE = 50


class QueueSort(StrEnum):
    newest = "newest"
    oldest = "oldest"
    value = "value"


class BulkAction(StrEnum):
    approve = "approve"
    reject = "reject"
    receive = "receive"
    #: Pay out the refund or store credit the RMA owes (whichever the customer chose).
    pay = "pay"


@dataclass(frozen=True)
class QueueFilters:
    state: ReturnState | None = None
    reason: str | None = None
    resolution: ReturnResolution | None = None
    #: Requested on these local dates of the brand (inclusive).
    start: date | None = None
    end: date | None = None
    has_photos: bool = False
    #: Only RMAs worth more than this (refund plus credit), minor units.
    over_value: int | None = None


@dataclass(frozen=True)
class QueueRow:
    rma: ReturnRequest
    order: Order
    lines: list[ReturnLine]
    photos: list[ReturnPhoto] = field(default_factory=list)


@dataclass(frozen=True)
class Queue:
    page: Page[QueueRow]
    #: Per state, the RMAs that match every filter but the state.
    counts: dict[ReturnState, int]


def _value() -> Any:
    return col(ReturnRequest.refund_amount) + col(ReturnRequest.credit_amount)


def _filtered(brand_id: int, timezone: str, filters: QueueFilters, *, with_state: bool) -> Any:
    """The ``where`` clauses of ``filters`` (and the state's, when ``with_state``)."""
    clauses: list[Any] = [ReturnRequest.brand_id == brand_id]
    if with_state and filters.state is not None:
        clauses.append(ReturnRequest.state == filters.state)
    if filters.resolution is not None:
        clauses.append(ReturnRequest.resolution == filters.resolution)
    if filters.reason:
        clauses.append(
            col(ReturnRequest.id).in_(
                select(ReturnLine.return_id).where(
                    ReturnLine.brand_id == brand_id, ReturnLine.reason_code == filters.reason
                )
            )
        )
    if filters.has_photos:
        clauses.append(
            col(ReturnRequest.id).in_(
                select(ReturnPhoto.return_id).where(ReturnPhoto.brand_id == brand_id)
            )
        )
    if filters.over_value is not None:
        clauses.append(_value() > filters.over_value)
    zone = ZoneInfo(timezone)
    if filters.start:
        clauses.append(
            col(ReturnRequest.created_at) >= datetime.combine(filters.start, time(), zone)
        )
    if filters.end:
        clauses.append(
            col(ReturnRequest.created_at)
            < datetime.combine(filters.end + timedelta(days=1), time(), zone)
        )
    return clauses


def _by_value(rma: ReturnRequest) -> tuple[int, int]:
    return rma.refund_amount + rma.credit_amount, id_of(rma)


def _by_created(rma: ReturnRequest) -> tuple[datetime, int]:
    return rma.created_at, id_of(rma)


def returns_queue(
    *,
    session: Session,
    brand_id: int,
    timezone: str,
    filters: QueueFilters,
    sort: QueueSort = QueueSort.newest,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> Queue:
    """One page of the brand's RMAs matching ``filters``, with their order, lines and photos."""
    query = select(ReturnRequest).where(*_filtered(brand_id, timezone, filters, with_state=True))
    row_key: Callable[[ReturnRequest], tuple[Any, int]]
    if sort == QueueSort.value:
        key, row_key = SortKey(_value(), col(ReturnRequest.id)), _by_value
    else:
        descending = sort == QueueSort.newest
        key = SortKey(col(ReturnRequest.created_at), col(ReturnRequest.id), descending=descending)
        row_key = _by_created
    page = paginate(session, query, sort=key, cursor=cursor, limit=limit, key=row_key)
    ids = [id_of(rma) for rma in page.rows]
    order_ids = {rma.order_id for rma in page.rows}
    orders = {
        order.id: order
        for order in session.exec(select(Order).where(col(Order.id).in_(order_ids))).all()
    }
    lines = return_lines(session=session, return_ids=ids)
    photos = photos_by_return(session=session, brand_id=brand_id, return_ids=ids)
    rows = [
        QueueRow(
            rma=rma,
            order=orders[rma.order_id],
            lines=lines.get(id_of(rma), []),
            photos=photos.get(id_of(rma), []),
        )
        for rma in page.rows
    ]
    counted = session.exec(
        select(ReturnRequest.state, func.count())
        .where(*_filtered(brand_id, timezone, filters, with_state=False))
        .group_by(col(ReturnRequest.state))
    ).all()
    found = {ReturnState(state): int(n) for state, n in counted}
    return Queue(
        page=Page(rows, page.next_cursor),
        counts={state: found.get(state, 0) for state in ReturnState},
    )


@dataclass(frozen=True)
class RowResult:
    """What a bulk action did to one RMA: done, or refused and why."""

    return_id: int
    rma_number: str | None
    ok: bool
    message: LazyString | str
    #: Why it was refused (:attr:`ReturnError.code`); None when done.
    code: str | None = None


def bulk_act(
    *,
    session: Session,
    brand_id: int,
    return_ids: Sequence[int],
    action: BulkAction,
    reason: str | None = None,
    actor: str,
    now: datetime,
) -> list[RowResult]:
    """Take ``action`` on each RMA, each in its own savepoint; one result per id, in order.

    Rejecting needs a ``reason`` (kept on the RMA and in the audit log). Each done row is audited."""
    if action == BulkAction.reject and not (reason or "").strip():
        raise ReturnError("reason", _l("Say why these returns are rejected."))
    results = []
    for return_id in dict.fromkeys(return_ids):
        rma = session.get(ReturnRequest, return_id)
        if rma is None or rma.brand_id != brand_id:
            results.append(
                RowResult(
                    return_id, None, ok=False, message=_l("No such return."), code="unknown_return"
                )
            )
            continue
        number, before = rma.rma_number, ReturnState(rma.state)
        try:
            with session.begin_nested():
                message = _act_on(
                    session, brand_id, rma, action, (reason or "").strip(), actor, before, now
                )
        except ReturnError as refused:
            results.append(
                RowResult(return_id, number, ok=False, message=refused.message, code=refused.code)
            )
        else:
            results.append(RowResult(return_id, number, ok=True, message=message))
    return results


def _act_on(
    session: Session,
    brand_id: int,
    rma: ReturnRequest,
    action: BulkAction,
    reason: str,
    actor: str,
    before: ReturnState,
    now: datetime,
) -> LazyString:
    if action == BulkAction.pay:
        message = _pay(session, rma, now)
    else:
        rma = transition(
            session=session,
            brand_id=brand_id,
            return_id=id_of(rma),
            action=action.value,
            now=now,
        )
        if action == BulkAction.reject:
            rma.attributes = {**(rma.attributes or {}), "rejection_reason": reason}
            session.add(rma)
            session.flush()
        message = _l("Done.")
    audit.record(
        session=session,
        brand_id=brand_id,
        actor=actor,
        action=f"return.{action.value}",
        subject=rma.rma_number,
        before={"state": before.value},
        after={
            "state": ReturnState(rma.state).value,
            **({"reason": reason} if action == BulkAction.reject else {}),
        },
    )
    return message


def _pay(session: Session, rma: ReturnRequest, now: datetime) -> LazyString:
    """Make sure the payout of a received RMA is on its way, exactly once: its execution rows exist
    (they are keyed per RMA and kind) and a row the platform refused for good is tried again."""
    if rma.resolution == ReturnResolution.exchange:
        raise ReturnError("resolution", _l("An exchange is settled by sending the new item."))
    if rma.state != ReturnState.received:
        raise ReturnError("state", _l("Only received returns can be paid out."))
    schedule_executions(session=session, rma=rma, now=now)
    rows = session.exec(
        select(ResolutionExecution).where(ResolutionExecution.return_id == rma.id)
    ).all()
    if not rows:
        raise ReturnError("nothing_owed", _l("Nothing to pay for this return."))
    if all(row.state == ExecutionState.done for row in rows):
        raise ReturnError("paid", _l("Already paid."))
    for row in rows:
        if row.state == ExecutionState.failed:
            row.state = ExecutionState.pending
            row.attempts = 0
            row.updated_at = now
            session.add(row)
    session.flush()
    return _l("Payout queued: the platform is asked within a minute.")
