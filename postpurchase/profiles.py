"""A customer's profile as of an order: what they bought, spent, returned and lived through.

One home for the facts that messages (segment rules), recommendations and insights read about a
customer, so "first order", "size they wear" or "had a parcel go wrong" mean the same everywhere.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import Table, delete, event, func, literal, or_, tuple_
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from carriers.status import Status
from postpurchase.clock import utcnow
from postpurchase.db import claim_scope, is_postgres
from postpurchase.lines import load as load_lines
from postpurchase.lines import order_lines
from postpurchase.models import (
    Brand,
    Customer,
    CustomerProfile,
    Feedback,
    InventoryLevel,
    MessageEvent,
    Order,
    OrderLine,
    OutboxMessage,
    OutboxState,
    ReturnLine,
    ReturnRequest,
    Shipment,
    StaleProfile,
)
from postpurchase.models.types import id_column, id_of, new_row, table_of, update_row, upsert
from postpurchase.personas.model import assigner

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
    #: The persona, the newest parcel's situation and the stock of the last order (micro-segment).
    persona: str | None = None
    parcel: str = "none"
    stock: str = "unknown"

    @property
    def first_order(self) -> bool:
        return self.order_count <= 1

    @property
    def micro_segment(self) -> str:
        return micro_segment(self.persona, self.parcel, self.stock)


#: ``session.info`` key of what :func:`preload` computed for a batch of messages.
_HISTORY = "messaging_history"


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
    persona: str | None = None
    parcel: str = "none"
    stock: str = "unknown"


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
    lines = load_lines(session, owner)
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
    stored = {
        row.customer_id: row
        for row in session.exec(
            select(CustomerProfile).where(col(CustomerProfile.customer_id).in_(customer_ids))
        )
    }
    brand_ids = {row.brand_id for row in stored.values()}
    stock = (
        stock_of_customers(session=session, brand_id=brand_ids.pop(), customer_ids=customer_ids)
        if len(brand_ids) == 1
        else {}
    )
    found: dict[int, History] = {}
    for cid in customer_ids:
        kept = stored.get(cid)
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
            kept.persona if kept else None,
            kept.parcel if kept else Situation.none,
            stock.get(cid, Stock.unknown),
        )
    return found, lines


def preload(*, session: Session, customer_ids: set[int]) -> None:
    """Compute the histories (and read the order lines) of a batch's customers at once, so that
    building each message's profile costs no query (the sender renders hundreds per batch)."""
    if customer_ids:
        histories, _ = _histories(session, customer_ids)  # the lines are remembered as read
        session.info.setdefault(_HISTORY, {}).update(histories)


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
        persona=history.persona,
        parcel=history.parcel,
        stock=history.stock,
    )


# --- The stored profile: one row per customer, kept current by the receivers below. ---

#: ``session.info`` key of the customers whose stored profile is refreshed when the session commits.
_PENDING = "profiles_pending"
#: Outbox states in which the customer did receive the message.
_RECEIVED = (OutboxState.sent, OutboxState.unknown)


class Situation(StrEnum):
    """The newest parcel's situation, as micro-segments and the customer page name it."""

    none = "none"
    in_transit = "in_transit"
    delayed = "delayed"
    problem = "problem"
    delivered = "delivered"


SITUATIONS = tuple(Situation)


class Stock(StrEnum):
    """Whether what the customer last bought (in the size they bought) can be had now."""

    in_stock = "in_stock"
    sold_out = "sold_out"
    unknown = "unknown"


STOCKS = tuple(Stock)


def micro_segment(persona: str | None, parcel: str, stock: str) -> str:
    """The name of a micro-segment: ``p2/delayed/in_stock`` (``-`` for no persona)."""
    return f"{persona or '-'}/{parcel}/{stock}"


def stock_of_customers(
    *, session: Session, brand_id: int, customer_ids: set[int]
) -> dict[int, str]:
    """:class:`Stock` of each customer's last order: in stock when any SKU of it (a size is a SKU of
    its own) has units available, sold out when the brand counts them all at zero."""
    if not customer_ids:
        return {}
    last = (
        select(Order.customer_id, func.max(Order.id).label("order_id"))
        .where(col(Order.customer_id).in_(customer_ids), col(Order.cancelled_at).is_(None))
        .group_by(col(Order.customer_id))
        .subquery()
    )
    skus: dict[int, set[str]] = {}
    for customer_id, sku in session.exec(
        select(last.c.customer_id, OrderLine.sku).join(
            OrderLine, col(OrderLine.order_id) == last.c.order_id
        )
    ).all():
        skus.setdefault(int(customer_id), set()).add(sku)
    wanted = set().union(*skus.values()) if skus else set()
    levels = {
        sku: int(total or 0)
        for sku, total in session.exec(
            select(InventoryLevel.sku, func.sum(InventoryLevel.available))
            .where(InventoryLevel.brand_id == brand_id, col(InventoryLevel.sku).in_(wanted))
            .group_by(InventoryLevel.sku)
        ).all()
    }
    found: dict[int, str] = {}
    for customer_id in customer_ids:
        known = [levels[s] for s in skus.get(customer_id, ()) if s in levels]
        found[customer_id] = (
            Stock.unknown if not known else Stock.in_stock if max(known) > 0 else Stock.sold_out
        )
    return found


def as_message_profile(stored: CustomerProfile, stock: str, language: str) -> Profile:
    """The :class:`Profile` a message about the customer's newest order would see, from the stored
    row (for counting how many customers a rule segment holds without building each message)."""
    return Profile(
        order_count=stored.order_count,
        lifetime_spend=stored.lifetime_spend,
        region=None,
        categories=frozenset(stored.categories or {}),
        channel="online",
        vip_tier=None,
        language=language,
        past_return=stored.returns > 0,
        past_exception=stored.exceptions > 0,
        returned_skus=frozenset(stored.returned_skus or ()),
        sizes=dict(stored.sizes or {}),
        persona=stored.persona,
        parcel=stored.parcel,
        stock=stock,
    )


def situation_of(shipment: Shipment | None) -> str:
    if shipment is None:
        return Situation.none
    if shipment.status == Status.delivered:
        return Situation.delivered
    if shipment.status in EXCEPTION_STATUSES:
        return Situation.problem
    if (
        shipment.predicted_date is not None
        and shipment.promised_date is not None
        and shipment.predicted_date > shipment.promised_date
    ):
        return Situation.delayed
    return Situation.in_transit


def _late(shipment: Shipment, zone: ZoneInfo) -> bool:
    return (
        shipment.delivered_at is not None
        and shipment.promised_date is not None
        and shipment.delivered_at.astimezone(zone).date() > shipment.promised_date
    )


def refresh_profiles(
    *, session: Session, brand_id: int, customer_ids: Collection[int], now: datetime
) -> None:
    """Recompute the stored profiles of ``customer_ids`` from their rows (a few queries for any
    number of customers) and clear their stale marks; flushes. Each refresh rewrites the whole
    row, so events arriving out of order or twice leave it right."""
    ids = set(customer_ids)
    if not ids:
        return
    session.flush()
    marks = _table()
    generations = dict(
        session.execute(
            select(marks.c.customer_id, marks.c.generation).where(marks.c.customer_id.in_(ids))
        ).all()
    )
    _recompute(session=session, brand_id=brand_id, ids=ids, now=now, store=True)
    pairs = sorted(generations.items())
    for start in range(0, len(pairs), MARKS_PER_STATEMENT):
        # A mark raised after it was read (a change committed meanwhile) stays for the next refresh.
        chunk = pairs[start : start + MARKS_PER_STATEMENT]
        session.execute(
            delete(marks).where(tuple_(marks.c.customer_id, marks.c.generation).in_(chunk))
        )


def _recompute(
    *, session: Session, brand_id: int, ids: set[int], now: datetime, store: bool
) -> dict[int, CustomerProfile]:
    """The profiles of ``ids`` as their rows say now, by customer: written into the stored rows
    (``store``, flushed) or built for one read and not added to the session."""
    brand = session.get(Brand, brand_id)
    if brand is None:
        raise LookupError(f"no brand {brand_id}")
    zone = ZoneInfo(brand.timezone)
    customers = {
        id_of(c): c
        for c in session.exec(
            select(Customer).where(Customer.brand_id == brand_id, col(Customer.id).in_(ids))
        )
    }
    orders = list(session.exec(select(Order).where(col(Order.customer_id).in_(list(customers)))))
    owner = {id_of(order): cast("int", order.customer_id) for order in orders}
    live = {id_of(order) for order in orders if order.cancelled_at is None}
    lines = session.exec(select(OrderLine).where(col(OrderLine.order_id).in_(list(live)))).all()
    returned = session.exec(
        select(ReturnRequest.id, ReturnRequest.order_id, ReturnLine)
        .join(ReturnLine, col(ReturnRequest.id) == ReturnLine.return_id)
        .where(col(ReturnRequest.order_id).in_(list(owner)))
    ).all()
    shipments = session.exec(
        select(Shipment)
        .where(col(Shipment.order_id).in_(list(owner)))
        .order_by(col(Shipment.created_at), col(Shipment.id))
    ).all()
    answers = session.exec(
        select(Feedback)
        .where(
            Feedback.brand_id == brand_id,
            or_(
                col(Feedback.customer_id).in_(list(customers)),
                col(Feedback.order_id).in_(list(owner)),
            ),
        )
        .order_by(col(Feedback.created_at), col(Feedback.id))
    ).all()
    received = session.exec(
        select(OutboxMessage.customer_id, OutboxMessage.channel, func.count())
        .where(
            col(OutboxMessage.customer_id).in_(list(customers)),
            col(OutboxMessage.state).in_(_RECEIVED),
        )
        .group_by(col(OutboxMessage.customer_id), col(OutboxMessage.channel))
    ).all()
    engaged = session.exec(
        select(OutboxMessage.customer_id, OutboxMessage.channel, MessageEvent.kind, func.count())
        .join(OutboxMessage, col(OutboxMessage.id) == MessageEvent.message_id)
        .where(col(OutboxMessage.customer_id).in_(list(customers)))
        .group_by(
            col(OutboxMessage.customer_id), col(OutboxMessage.channel), col(MessageEvent.kind)
        )
    ).all()
    stored = (
        {
            p.customer_id: p
            for p in session.exec(
                select(CustomerProfile).where(col(CustomerProfile.customer_id).in_(list(customers)))
            )
        }
        if store
        else {}
    )
    assign = assigner(session=session, brand_id=brand_id, now=now)
    # Each customer's rows, grouped in one pass over each result (in its order) rather than a
    # scan of every result per customer: a batch refreshes dozens of customers at once.
    orders_of = _grouped((cast("int", o.customer_id), o) for o in orders if o.cancelled_at is None)
    lines_of = _grouped((owner[line.order_id], line) for line in lines)
    returns_of = _grouped((owner[oid], (rid, line)) for rid, oid, line in returned)
    parcels_of = _grouped((owner[s.order_id], s) for s in shipments if s.order_id is not None)
    answers_of = _grouped(
        (cid, f)
        for f in answers
        for cid in {f.customer_id, owner.get(f.order_id) if f.order_id is not None else None}
        if cid is not None
    )
    received_of = _grouped((owner_id, (channel, count)) for owner_id, channel, count in received)
    engaged_of = _grouped(
        (owner_id, (channel, kind, count)) for owner_id, channel, kind, count in engaged
    )
    computed: dict[int, CustomerProfile] = {}
    for cid, customer in customers.items():
        mine = orders_of.get(cid, [])
        placed = sorted(o.placed_at for o in mine)
        my_lines = lines_of.get(cid, [])
        my_returns = returns_of.get(cid, [])
        my_parcels = parcels_of.get(cid, [])
        my_answers = answers_of.get(cid, [])
        scores = [f.nps_score for f in my_answers if f.nps_score is not None]
        weights: Counter[str] = Counter()
        for channel, count in received_of.get(cid, []):
            weights[str(channel)] += int(count)
        opens = clicks = 0
        for channel, kind, count in engaged_of.get(cid, []):
            opens += int(count) if kind == "open" else 0
            clicks += int(count) if kind == "click" else 0
            # a click says more than an open, an open more than a message merely received
            weights[str(channel)] += int(count) * (1000 if kind == "click" else 100)
        categories: Counter[str] = Counter()
        for line in my_lines:
            if line.category:
                categories[line.category] += line.quantity
        reasons: Counter[str] = Counter()
        for _, returned_line in my_returns:
            reasons[returned_line.reason_code] += returned_line.quantity
        values: dict[str, Any] = {
            "order_count": len(mine),
            "lifetime_spend": sum(o.total_amount for o in mine),
            "currency": mine[-1].currency if mine else brand.currency,
            "first_order_at": placed[0] if placed else None,
            "last_order_at": placed[-1] if placed else None,
            "categories": dict(sorted(categories.items())),
            "sizes": {
                line.category: line.variant
                for line in sorted(my_lines, key=lambda item: item.order_id)
                if line.category and line.variant
            },
            "units": sum(line.quantity for line in my_lines),
            "returns": len({rid for rid, _ in my_returns}),
            "returned_units": sum(line.quantity for _, line in my_returns),
            "return_reasons": dict(sorted(reasons.items())),
            "returned_skus": sorted({line.sku for _, line in my_returns}),
            "nps_answers": len(scores),
            "nps_last": scores[-1] if scores else None,
            "nps_average": round(sum(scores) / len(scores), 2) if scores else None,
            "comments": sum(1 for f in my_answers if f.comment and f.comment.strip()),
            "late_deliveries": sum(1 for s in my_parcels if _late(s, zone)),
            "failed_attempts": sum(s.failed_attempts for s in my_parcels),
            "exceptions": sum(1 for s in my_parcels if s.status in EXCEPTION_STATUSES),
            "parcel": situation_of(my_parcels[-1] if my_parcels else None),
            "messages": sum(int(count) for _, count in received_of.get(cid, [])),
            "opens": opens,
            "clicks": clicks,
            "preferred_channel": weights.most_common(1)[0][0] if weights else None,
            "consent": dict(customer.consent or {}),
        }
        profile = stored.get(cid)
        if profile is None:
            profile = new_row(CustomerProfile, brand_id=brand_id, customer_id=cid, **values)
        else:
            update_row(profile, values)
        profile.persona = assign(profile)
        profile.refreshed_at = now
        if store:
            session.add(profile)
        computed[cid] = profile
    if store:
        session.flush()
    return computed


K = TypeVar("K")
T = TypeVar("T")


def _grouped(pairs: Iterable[tuple[K, T]]) -> dict[K, list[T]]:
    """The values of ``(key, value)`` pairs listed under their key, in the order they came."""
    groups: dict[K, list[T]] = defaultdict(list)
    for key, value in pairs:
        groups[key].append(value)
    return groups


def defer_profile_refresh(
    session: Session, brand_id: int, customer_ids: Collection[int], now: datetime
) -> None:
    """Mark the stored profiles of ``customer_ids`` stale when ``session`` commits, all at once.

    The unit of work that applies an order, a scan or an answer does not recompute profiles: they
    are aggregates for the console and the personas, read far less often than events arrive. The
    ``profiles.refresh`` job recomputes what is marked within seconds, and a page that shows a
    marked profile computes it for that read (:func:`current_profile`)."""
    if _PENDING not in session.info:
        session.info[_PENDING] = {}
        event.listen(session, "before_commit", _before_commit)
    pending: dict[int, tuple[set[int], datetime]] = session.info[_PENDING]
    ids, _ = pending.get(brand_id, (set(), now))
    ids.update(customer_ids)
    pending[brand_id] = (ids, now)


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint's release is not the unit of work's end
        return
    pending: dict[int, tuple[set[int], datetime]] = session.info.get(_PENDING, {})
    while pending:
        brand_id, (ids, now) = pending.popitem()
        mark_stale(session=session, brand_id=brand_id, customer_ids=ids, now=now)


#: Marks written or cleared per statement (one or two bound values each; SQLite allows 32,766).
MARKS_PER_STATEMENT = 500


def mark_stale(
    *, session: Session, brand_id: int, customer_ids: Collection[int], now: datetime
) -> None:
    """Mark the customers' stored profiles stale (one statement); a mark already there is raised
    a generation, so a refresh reading older rows meanwhile leaves it. Ids of customers that do
    not exist (created by an event whose savepoint was rolled back) are left out."""
    marks = _table()
    customer = table_of(Customer).c
    ids = sorted(customer_ids)
    for start in range(0, len(ids), MARKS_PER_STATEMENT):
        # In order of id: one order of row locks for every unit of work.
        existing = (
            select(customer.id, customer.brand_id, literal(1), literal(now, marks.c.marked_at.type))
            .where(
                customer.brand_id == brand_id,
                customer.id.in_(ids[start : start + MARKS_PER_STATEMENT]),
            )
            .order_by(customer.id)
        )
        insert = upsert(session, marks).from_select(
            ["customer_id", "brand_id", "generation", "marked_at"], existing
        )
        session.execute(
            insert.on_conflict_do_update(
                index_elements=["customer_id"], set_={"generation": marks.c.generation + 1}
            )
        )


def refresh_stale_profiles(
    *, session: Session, now: datetime, brand_id: int | None = None, limit: int | None = None
) -> int:
    """Recompute the stored profiles marked stale (the ``limit`` marked first, of one brand or
    all; on PostgreSQL those no other process is refreshing); returns how many."""
    marks = _table()
    query = select(marks.c.brand_id, marks.c.customer_id).order_by(
        marks.c.marked_at, marks.c.customer_id
    )
    if brand_id is not None:
        query = query.where(marks.c.brand_id == brand_id)
    if limit is not None:
        query = query.limit(limit)
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    by_brand = _grouped((int(b), int(c)) for b, c in session.execute(query).all())
    for brand, ids in sorted(by_brand.items()):
        refresh_profiles(session=session, brand_id=brand, customer_ids=ids, now=now)
    return sum(len(ids) for ids in by_brand.values())


#: Profiles the ``profiles.refresh`` job recomputes per transaction (each holds SQLite's write
#: lock only that long), and at most per run: a burst's backlog is caught up over a few runs
#: instead of taking a core away from processing while it lasts. A run recomputes more than one
#: process can mark in the 10 seconds between runs (~0.7 ms per profile against ~3 ms per event).
REFRESH_BATCH = 200
REFRESH_PER_RUN = 5_000


def refresh_job(app: Flask) -> int:
    """Scheduler job: recompute the stored profiles marked stale; returns how many."""
    done = 0
    while done < REFRESH_PER_RUN:
        with claim_scope(app) as session:
            count = refresh_stale_profiles(session=session, now=utcnow(), limit=REFRESH_BATCH)
        done += count
        if count < REFRESH_BATCH:
            break
    return done


def refresh_brand_profiles(*, session: Session, brand_id: int, now: datetime) -> int:
    """Recompute every stored profile of the brand (after an import, or to catch up on opens and
    clicks, which no signal reports); returns how many customers."""
    ids = [
        cid
        for cid in session.exec(select(Customer.id).where(Customer.brand_id == brand_id))
        if cid is not None
    ]
    for start in range(0, len(ids), 500):
        refresh_profiles(
            session=session, brand_id=brand_id, customer_ids=ids[start : start + 500], now=now
        )
    return len(ids)


def stored_profile(*, session: Session, brand_id: int, customer_id: int) -> CustomerProfile | None:
    return session.exec(
        select(CustomerProfile).where(
            CustomerProfile.brand_id == brand_id, CustomerProfile.customer_id == customer_id
        )
    ).first()


def current_profile(
    *, session: Session, brand_id: int, customer_id: int, now: datetime
) -> CustomerProfile | None:
    """The customer's profile as their rows say now: the stored one, or, when it is marked stale
    or was never stored, one computed for this read (not stored: reads do not write). None when
    the customer is not the brand's."""
    marks = _table()
    marked = session.execute(
        select(marks.c.customer_id).where(marks.c.customer_id == customer_id)
    ).first()
    if marked is None:
        stored = stored_profile(session=session, brand_id=brand_id, customer_id=customer_id)
        if stored is not None:
            return stored
    ids = {customer_id}
    return _recompute(session=session, brand_id=brand_id, ids=ids, now=now, store=False).get(
        customer_id
    )


def current_profiles(*, session: Session, brand_id: int, now: datetime) -> list[CustomerProfile]:
    """Every profile the brand keeps, as the rows say now: the stored ones, with those marked
    stale computed for this read (not stored)."""
    marks = _table()
    stale = {
        int(cid)
        for cid in session.execute(
            select(marks.c.customer_id).where(marks.c.brand_id == brand_id)
        ).scalars()
    }
    kept = [
        profile
        for profile in session.exec(
            select(CustomerProfile).where(CustomerProfile.brand_id == brand_id)
        )
        if profile.customer_id not in stale
    ]
    if not stale:
        return kept
    fresh = _recompute(session=session, brand_id=brand_id, ids=stale, now=now, store=False)
    return kept + list(fresh.values())


def stale_count(session: Session | Connection) -> int:
    """How many stored profiles wait to be recomputed (all brands)."""
    return int(session.execute(select(func.count()).select_from(_table())).scalar_one())


def _table() -> Table:
    return table_of(StaleProfile)


def customers_of(session: Session, *, order_id: int | None) -> list[int]:
    """The customer of an order, as a list (empty for a guest order or no order)."""
    if order_id is None:
        return []
    order = session.get(Order, order_id)
    return [order.customer_id] if order is not None and order.customer_id is not None else []


def customer_of_shipment(session: Session, shipment_id: int) -> list[int]:
    shipment = session.get(Shipment, shipment_id)
    return customers_of(session, order_id=shipment.order_id if shipment else None)


def receivers() -> dict[str, Any]:
    """The signal receivers that keep stored profiles current, by signal name (see ``connect``)."""
    return {
        "order_upserted": _on_order,
        "order_cancelled": _on_order,
        "shipment_created": _on_shipment_created,
        "shipment_status_changed": _on_shipment,
        "shipment_prediction_changed": _on_shipment,
        "return_updated": _on_return,
        "feedback_saved": _on_feedback,
        "message_engaged": _on_engaged,
    }


def connect() -> None:
    """Subscribe the profile receivers to the domain signals (called by the personas feature)."""
    from postpurchase import signals

    for name, receiver in receivers().items():
        getattr(signals, name).connect(receiver)


def _when(now: datetime | None) -> datetime:
    return now or utcnow()


def _on_order(
    brand_id: int, *, session: Session, order_id: int, now: datetime | None = None, **_: Any
) -> None:
    defer_profile_refresh(session, brand_id, customers_of(session, order_id=order_id), _when(now))


def _on_shipment_created(
    brand_id: int, *, session: Session, shipment_id: int, now: datetime | None = None, **_: Any
) -> None:
    defer_profile_refresh(session, brand_id, customer_of_shipment(session, shipment_id), _when(now))


def _on_shipment(
    shipment_id: int, *, session: Session, brand_id: int, now: datetime | None = None, **_: Any
) -> None:
    defer_profile_refresh(session, brand_id, customer_of_shipment(session, shipment_id), _when(now))


def _on_return(
    return_id: int, *, session: Session, brand_id: int, now: datetime | None = None, **_: Any
) -> None:
    request = session.get(ReturnRequest, return_id)
    found = customers_of(session, order_id=request.order_id) if request else []
    defer_profile_refresh(session, brand_id, found, _when(now))


def _on_engaged(
    brand_id: int,
    *,
    session: Session,
    customer_id: int | None,
    now: datetime | None = None,
    **_: Any,
) -> None:
    """An open or a click changes the customer's engagement and preferred channel."""
    if customer_id is not None:
        defer_profile_refresh(session, brand_id, [customer_id], _when(now))


def _on_feedback(
    brand_id: int,
    *,
    session: Session,
    order_id: int | None,
    shipment_id: int | None = None,
    now: datetime | None = None,
    **_: Any,
) -> None:
    found = customers_of(session, order_id=order_id)
    if not found and shipment_id is not None:
        found = customer_of_shipment(session, shipment_id)
    defer_profile_refresh(session, brand_id, found, _when(now))
