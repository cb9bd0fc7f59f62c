"""A customer's profile as of an order: what they bought, spent, returned and lived through.

One home for the facts that messages (segment rules), recommendations and insights read about a
customer, so "first order", "size they wear" or "had a parcel go wrong" mean the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import func
from sqlmodel import Session, col, select

from carriers.status import Status
from postpurchase.models import (
    Customer,
    Order,
    OrderLine,
    ReturnLine,
    ReturnRequest,
    Shipment,
)
from postpurchase.models.types import id_column, id_of

#: Statuses that count as "something went wrong with a parcel" for the ``past_exception`` rule.
EXCEPTION_STATUSES = (
    Status.exception,
    Status.attempt_fail,
    Status.returning_to_sender,
    Status.returned,
)


@dataclass(frozen=True)
class Profile:
    order_count: int
    lifetime_spend: int
    region: str | None
    categories: frozenset[str]
    channel: str
    vip_tier: str | None
    language: str
    past_return: bool
    past_exception: bool
    bought_skus: frozenset[str] = field(default_factory=frozenset)
    returned_skus: frozenset[str] = field(default_factory=frozenset)
    #: Sizes/variants the customer bought, per category (``{"tshirt": "M"}``).
    sizes: dict[str, str] = field(default_factory=dict)

    @property
    def first_order(self) -> bool:
        return self.order_count <= 1


#: ``session.info`` keys of what :func:`preload` computed for a batch of messages.
_HISTORY = "messaging_history"
_LINES = "messaging_lines"


@dataclass(frozen=True)
class History:
    """What a customer's past says (the order-independent part of a :class:`Profile`)."""

    order_count: int
    lifetime_spend: int
    past_return: bool
    past_exception: bool
    bought_skus: frozenset[str]
    returned_skus: frozenset[str]
    sizes: dict[str, str]


def order_lines(session: Session, order_id: int) -> list[OrderLine]:
    """The order's lines, from :func:`preload` when the batch loaded them."""
    cached = session.info.get(_LINES, {}).get(order_id)
    if cached is not None:
        return list(cached)
    return list(session.exec(select(OrderLine).where(OrderLine.order_id == order_id)).all())


def _histories(
    session: Session, customer_ids: set[int]
) -> tuple[dict[int, History], dict[int, list[OrderLine]]]:
    """Histories of many customers in five queries, and the lines of their orders."""
    totals = {
        cid: (int(count), int(spend))
        for cid, count, spend in session.exec(
            select(
                Order.customer_id,
                func.count(col(Order.id)),
                func.coalesce(func.sum(Order.total_amount), 0),
            )
            .where(col(Order.customer_id).in_(customer_ids), col(Order.cancelled_at).is_(None))
            .group_by(col(Order.customer_id))
        ).all()
    }
    # Every order selected has one of the customers, so no owner is None.
    owner = cast(
        "dict[int, int]",
        dict(
            session.exec(
                select(id_column(Order), Order.customer_id).where(
                    col(Order.customer_id).in_(customer_ids)
                )
            ).all()
        ),
    )
    lines: dict[int, list[OrderLine]] = {order_id: [] for order_id in owner}
    for line in session.exec(
        select(OrderLine).where(col(OrderLine.order_id).in_(list(owner)))
    ).all():
        lines[line.order_id].append(line)
    returned: dict[int, set[str]] = {}
    for order_id, sku in session.exec(
        select(ReturnRequest.order_id, ReturnLine.sku)
        .join(ReturnLine, col(ReturnRequest.id) == ReturnLine.return_id)
        .where(col(ReturnRequest.order_id).in_(list(owner)))
    ).all():
        returned.setdefault(owner[order_id], set()).add(sku)
    went_wrong = {
        owner[order_id]
        for order_id in session.exec(
            select(Shipment.order_id).where(
                col(Shipment.order_id).in_(list(owner)),
                col(Shipment.status).in_(EXCEPTION_STATUSES),
            )
        ).all()
        if order_id is not None  # never: the query asks for these orders
    }
    found: dict[int, History] = {}
    for cid in customer_ids:
        history = [
            line
            for order_id, owner_id in owner.items()
            if owner_id == cid
            for line in lines[order_id]
        ]
        count, spend = totals.get(cid, (0, 0))
        found[cid] = History(
            count,
            spend,
            bool(returned.get(cid)),
            cid in went_wrong,
            frozenset(line.sku for line in history),
            frozenset(returned.get(cid, ())),
            {line.category: line.variant for line in history if line.category and line.variant},
        )
    return found, lines


def preload(*, session: Session, customer_ids: set[int]) -> None:
    """Compute the histories (and read the order lines) of a batch's customers at once, so that
    building each message's profile costs no query (the sender renders hundreds per batch)."""
    if customer_ids:
        histories, lines = _histories(session, customer_ids)
        session.info.setdefault(_HISTORY, {}).update(histories)
        session.info.setdefault(_LINES, {}).update(lines)


def build_profile(
    *, session: Session, order: Order, customer: Customer | None, language: str
) -> Profile:
    """The customer's profile as of ``order`` (one order when the customer is unknown)."""
    lines = order_lines(session, id_of(order))
    if customer is None:
        exceptions = session.exec(
            select(func.count(col(Shipment.id))).where(
                Shipment.order_id == order.id, col(Shipment.status).in_(EXCEPTION_STATUSES)
            )
        ).one()
        returned = set(
            session.exec(
                select(ReturnLine.sku)
                .join(ReturnRequest, col(ReturnRequest.id) == ReturnLine.return_id)
                .where(ReturnRequest.order_id == order.id)
            ).all()
        )
        history = History(
            1,
            order.total_amount,
            bool(returned),
            exceptions > 0,
            frozenset(line.sku for line in lines),
            frozenset(returned),
            {line.category: line.variant for line in lines if line.category and line.variant},
        )
    else:
        cached = session.info.get(_HISTORY, {}).get(customer.id)
        history = cached or _histories(session, {id_of(customer)})[0][id_of(customer)]
    attributes = (customer.attributes if customer else {}) or {}
    return Profile(
        order_count=history.order_count,
        lifetime_spend=history.lifetime_spend,
        region=(customer.region if customer else None) or order.shipping_region,
        categories=frozenset(line.category for line in lines if line.category),
        channel=order.channel,
        vip_tier=attributes.get("vip_tier"),
        language=language,
        past_return=history.past_return,
        past_exception=history.past_exception,
        bought_skus=history.bought_skus,
        returned_skus=history.returned_skus,
        sizes=history.sizes,
    )
