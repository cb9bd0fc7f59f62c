"""What the customer's return status page says: where the return is, and when the money comes.

Reached through a signed link only (:func:`postpurchase.lookup.return_link_path`): from every return
message, the confirmation after submitting, and the portal after an order lookup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from postpurchase.models import (
    ExecutionKind,
    ExecutionState,
    ResolutionExecution,
    ReturnRequest,
)
from postpurchase.models.enums import ReturnResolution, ReturnState
from postpurchase.returns.money import KeepReason

#: The road of a return as the customer sees it; the last step is how it is settled.
ROAD = (ReturnState.requested, ReturnState.label_issued, ReturnState.received)
SETTLED = {
    ReturnResolution.refund: ReturnState.refunded,
    ReturnResolution.store_credit: ReturnState.credited,
    ReturnResolution.exchange: ReturnState.exchanged,
}
#: Where each state stands on the road (approved is on the way to a label; in transit past it).
POSITION = {
    ReturnState.requested: 0,
    ReturnState.approved: 0,
    ReturnState.label_issued: 1,
    ReturnState.in_transit: 1,
    ReturnState.received: 2,
    ReturnState.refunded: 3,
    ReturnState.credited: 3,
    ReturnState.exchanged: 3,
}


@dataclass(frozen=True)
class Step:
    state: ReturnState
    done: bool
    current: bool


@dataclass(frozen=True)
class Payout:
    """Money the return owes, and how far it is: None before the goods arrive."""

    kind: ExecutionKind
    amount: int
    currency: str
    state: ExecutionState | None
    executed_at: datetime | None


@dataclass(frozen=True)
class ReturnStatus:
    steps: list[Step]
    #: The return will not go further (rejected or cancelled).
    stopped: bool
    payouts: list[Payout]
    #: By when the money is paid, once the goods have arrived.
    paid_by: datetime | None
    keep_item: KeepReason | None


def road(rma: ReturnRequest) -> list[Step]:
    """The steps of ``rma``'s road, each done or not, the current one marked."""
    states = [*ROAD, SETTLED[rma.resolution]]
    here = POSITION.get(rma.state)
    return [
        Step(
            state=state,
            done=here is not None and index <= here,
            current=here == index,
        )
        for index, state in enumerate(states)
    ]


def return_status(*, session: Session, rma: ReturnRequest, payout_days: int) -> ReturnStatus:
    """The status page's facts about ``rma``; the money is promised ``payout_days`` after the goods
    arrive (the brand's ``returns.payout_days``: the payout job runs every minute, the promise leaves
    room for a platform outage and manual checks)."""
    executions = {
        row.kind: row
        for row in session.exec(
            select(ResolutionExecution).where(ResolutionExecution.return_id == rma.id)
        ).all()
    }
    owed = [
        (kind, amount)
        for kind, amount in (
            (ExecutionKind.refund, rma.refund_amount),
            (ExecutionKind.store_credit, rma.credit_amount),
        )
        if amount > 0
    ]
    payouts = [
        Payout(
            kind=kind,
            amount=executions[kind].amount if kind in executions else amount,
            currency=rma.currency,
            state=executions[kind].state if kind in executions else None,
            executed_at=executions[kind].executed_at if kind in executions else None,
        )
        for kind, amount in owed
    ]
    keep = (rma.attributes or {}).get("money", {}).get("keep_item")
    return ReturnStatus(
        steps=road(rma),
        stopped=rma.state in (ReturnState.rejected, ReturnState.cancelled),
        payouts=payouts,
        paid_by=rma.received_at + timedelta(days=payout_days) if rma.received_at else None,
        keep_item=KeepReason(keep) if keep else None,
    )


def order_returns(*, session: Session, brand_id: int, order_id: int) -> Sequence[ReturnRequest]:
    """The order's returns, newest first (listed before the form after a lookup)."""
    return session.exec(
        select(ReturnRequest)
        .where(ReturnRequest.brand_id == brand_id, ReturnRequest.order_id == order_id)
        .order_by(col(ReturnRequest.created_at).desc(), col(ReturnRequest.id).desc())
    ).all()
