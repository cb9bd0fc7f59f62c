"""Fit a brand's personas, assign customers to them, and count every segment's size."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import force_locale
from sqlalchemy import delete, func, or_
from sqlmodel import Session, col, select

from postpurchase import audit, counters
from postpurchase.messaging.outbox import LEFT_OUT_COUNTER
from postpurchase.messaging.segments import condition_holds
from postpurchase.models import (
    Brand,
    Customer,
    CustomerProfile,
    Feedback,
    Order,
    OutboxMessage,
    OutboxState,
    Persona,
    ReturnLine,
    ReturnRequest,
    Shipment,
)
from postpurchase.models.types import id_of
from postpurchase.personas import model, wording
from postpurchase.profiles import (
    SITUATIONS,
    STOCKS,
    as_message_profile,
    current_profile,
    current_profiles,
    micro_segment,
    refresh_stale_profiles,
    stock_of_customers,
)
from postpurchase.settings.model import settings_for


def fit_personas(*, session: Session, brand_id: int, actor: str, now: datetime) -> list[Persona]:
    """Learn the brand's personas from its stored profiles, replacing the previous ones, and assign
    every profile to its persona; flushes. :class:`model.NotEnoughCustomers` when too few bought."""
    refresh_stale_profiles(session=session, brand_id=brand_id, now=now)
    profiles = list(
        session.exec(
            select(CustomerProfile)
            .where(CustomerProfile.brand_id == brand_id)
            .order_by(col(CustomerProfile.id))
        )
    )
    fitted = model.fit(profiles, now)
    before = [p.key for p in personas_of(session=session, brand_id=brand_id)]
    session.execute(delete(Persona).where(col(Persona.brand_id) == brand_id))
    space = {
        "features": fitted.space.features,
        "mean": fitted.space.mean,
        "scale": fitted.space.scale,
        "categories": fitted.space.categories,
        "tried": {str(k): v for k, v in fitted.tried.items()},
    }
    names = brand_category_names(session=session, brand_id=brand_id)
    made: list[Persona] = []
    for key, centroid in fitted.centroids.items():
        portrait = model.portrait(centroid, fitted.channels[key])
        with force_locale("ja"):
            ja = wording.describe(portrait, names)
        with force_locale("en"):
            en = wording.describe(portrait, names)
        persona = Persona(
            brand_id=brand_id,
            key=key,
            size=len(fitted.members[key]),
            centroid=centroid,
            space={**space, "centre": fitted.centres[key]},
            channel=fitted.channels[key],
            description_ja=ja,
            description_en=en,
            silhouette=fitted.silhouette,
            fitted_at=now,
        )
        session.add(persona)
        made.append(persona)
    assigned = {pid: key for key, ids in fitted.members.items() for pid in ids}
    for profile in profiles:
        profile.persona = assigned.get(int(profile.id or 0))
        session.add(profile)
    audit.record(
        session=session,
        brand_id=brand_id,
        actor=actor,
        action="personas.fit",
        subject=f"brand:{brand_id}",
        before={"personas": before},
        after={
            "k": len(made),
            "silhouette": fitted.silhouette,
            "tried": space["tried"],
            "personas": {p.key: p.description_en for p in made},
        },
    )
    session.flush()
    return made


def brand_category_names(*, session: Session, brand_id: int) -> dict[str, dict[str, str]]:
    """What the brand calls its product categories, per language."""
    brand = session.get(Brand, brand_id)
    return settings_for(brand).category_names if brand is not None else {}


def describe(persona: Persona, category_names: dict[str, dict[str, str]]) -> str:
    """The persona in the current locale's words and the brand's current category names."""
    return wording.describe(model.portrait(persona.centroid, persona.channel), category_names)


def audience_persona(*, session: Session, brand_id: int, audience: dict[str, Any]) -> str | None:
    """The words for the persona an experiment's audience names (``{"persona": "p2"}``, or the
    first part of ``{"micro_segment": "p2/delayed/*"}``), in the current locale; None for any
    other audience."""
    key = str(audience.get("persona") or str(audience.get("micro_segment") or "").split("/")[0])
    persona = session.exec(
        select(Persona).where(Persona.brand_id == brand_id, Persona.key == key)
    ).first()
    if persona is None:
        return None
    return describe(persona, brand_category_names(session=session, brand_id=brand_id))


def personas_of(*, session: Session, brand_id: int) -> list[Persona]:
    return list(
        session.exec(select(Persona).where(Persona.brand_id == brand_id).order_by(Persona.key))
    )


@dataclass(frozen=True)
class SegmentSize:
    name: str
    size: int
    description: str | None = None


@dataclass(frozen=True)
class Sizes:
    customers: int
    #: The brand's message rules (rule segments) by name, with how many customers match now.
    rules: list[SegmentSize]
    personas: list[tuple[Persona, int]]
    micro: list[SegmentSize]
    situations: dict[str, int]
    stocks: dict[str, int]


def segment_sizes(
    *, session: Session, brand_id: int, rules: list[dict[str, Any]], now: datetime
) -> Sizes:
    """How many of the brand's customers are in each rule segment, persona and micro-segment now.

    A rule is matched against the customer's profile as if a message were sent about their
    newest order (its channel and categories are the customer's overall ones)."""
    profiles = current_profiles(session=session, brand_id=brand_id, now=now)
    rows = [(p.customer_id, p.persona, p.parcel) for p in profiles]
    stock = stock_of_customers(
        session=session, brand_id=brand_id, customer_ids={int(r[0]) for r in rows}
    )
    languages = dict(
        session.exec(
            select(Customer.id, Customer.locale).where(Customer.brand_id == brand_id)
        ).all()
    )
    as_profiles = [
        as_message_profile(p, stock[p.customer_id], (languages.get(p.customer_id) or "ja")[:2])
        for p in profiles
    ]
    rule_sizes = [
        SegmentSize(
            str(rule.get("name", index)),
            sum(
                1
                for profile in as_profiles
                if all(condition_holds(k, v, profile) for k, v in (rule.get("when") or {}).items())
            ),
        )
        for index, rule in enumerate(rules)
    ]
    micro: Counter[str] = Counter()
    personas: Counter[str | None] = Counter()
    situations: Counter[str] = Counter()
    stocks: Counter[str] = Counter()
    for customer_id, persona, parcel in rows:
        micro[micro_segment(persona, parcel, stock[int(customer_id)])] += 1
        personas[persona] += 1
        situations[parcel] += 1
        stocks[stock[int(customer_id)]] += 1
    return Sizes(
        customers=len(rows),
        rules=rule_sizes,
        personas=[(p, personas[p.key]) for p in personas_of(session=session, brand_id=brand_id)],
        micro=[SegmentSize(name, size) for name, size in sorted(micro.items())],
        situations={s: situations[s] for s in SITUATIONS},
        stocks={s: stocks[s] for s in STOCKS},
    )


@dataclass(frozen=True)
class Suppressed:
    """Messages of one trigger not sent for one reason (as stored: the code, its English)."""

    trigger: str
    reason: dict[str, Any] | None
    error: str
    messages: int


def suppression_counts(
    *, session: Session, brand_id: int, since: datetime | None = None
) -> list[Suppressed]:
    """The messages the brand did not send because the data made them useless or someone said
    no, per trigger and reason, most frequent first.

    Grouped by the reason's English sentence (``error``: one per code and arguments); the code of
    each group is read from its latest row, since JSON does not group alike on every database.
    """
    query = select(
        OutboxMessage.trigger, OutboxMessage.error, func.count(), func.max(OutboxMessage.id)
    ).where(OutboxMessage.brand_id == brand_id, OutboxMessage.state == OutboxState.suppressed)
    if since is not None:
        query = query.where(col(OutboxMessage.created_at) >= since)
    rows = session.exec(query.group_by(col(OutboxMessage.trigger), col(OutboxMessage.error))).all()
    reasons = (
        dict(
            session.exec(
                select(OutboxMessage.id, OutboxMessage.reason).where(
                    col(OutboxMessage.id).in_([latest for *_, latest in rows])
                )
            ).all()
        )
        if rows
        else {}
    )
    return sorted(
        (Suppressed(str(t), reasons.get(latest), str(e or ""), int(n)) for t, e, n, latest in rows),
        key=lambda r: (-r.messages, r.trigger, r.error),
    )


def left_out_counts(*, session: Session, brand_id: int) -> list[tuple[str, str, int]]:
    """``(trigger, reason, items)`` of content the data held back from the brand's sent messages
    (a recommendation out of stock in the customer's size), since counting began."""
    rows = [
        (labels.get("trigger", ""), labels.get("reason", ""), int(value))
        for name, labels, value in counters.read_all(session=session)
        if name == LEFT_OUT_COUNTER and labels.get("brand") == str(brand_id)
    ]
    return sorted(rows, key=lambda r: (-r[2], r[0], r[1]))


@dataclass(frozen=True)
class Comment:
    """Something the customer wrote, with the order it was about."""

    kind: str  # "nps" or "return"
    at: datetime
    order_number: str | None
    text: str
    score: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class CustomerCard:
    customer: Customer
    profile: CustomerProfile
    persona: Persona | None
    micro_segment: str
    orders: list[tuple[Order, int | None]]
    comments: list[Comment]


def customer_card(
    *, session: Session, brand_id: int, customer_id: int, now: datetime
) -> CustomerCard | None:
    """Everything the console's customer page shows; None when the customer is not the brand's."""
    customer = session.get(Customer, customer_id)
    if customer is None or customer.brand_id != brand_id:
        return None
    profile = current_profile(session=session, brand_id=brand_id, customer_id=customer_id, now=now)
    if profile is None:  # never: the customer is the brand's
        return None
    persona = (
        session.exec(
            select(Persona).where(Persona.brand_id == brand_id, Persona.key == profile.persona)
        ).first()
        if profile.persona
        else None
    )
    stock = stock_of_customers(session=session, brand_id=brand_id, customer_ids={customer_id})
    orders = list(
        session.exec(
            select(Order)
            .where(Order.brand_id == brand_id, Order.customer_id == customer_id)
            .order_by(col(Order.placed_at).desc())
        )
    )
    numbers = {id_of(o): o.number for o in orders}
    first_parcel: dict[int, int] = {}
    for order_id, shipment_id in session.exec(
        select(Shipment.order_id, Shipment.id)
        .where(col(Shipment.order_id).in_(list(numbers)))
        .order_by(col(Shipment.id))
    ).all():
        if order_id is not None and shipment_id is not None:
            first_parcel.setdefault(order_id, shipment_id)
    comments = [
        Comment("nps", f.created_at, numbers.get(f.order_id or 0), f.comment or "", f.nps_score)
        for f in session.exec(
            select(Feedback).where(
                Feedback.brand_id == brand_id,
                or_(
                    col(Feedback.customer_id) == customer_id,
                    col(Feedback.order_id).in_(list(numbers)),
                ),
            )
        )
        if f.comment and f.comment.strip()
    ]
    comments += [
        Comment(
            "return",
            rma.created_at,
            numbers.get(rma.order_id),
            line.comment or "",
            None,
            line.reason_code,
        )
        for rma, line in session.exec(
            select(ReturnRequest, ReturnLine)
            .join(ReturnLine, col(ReturnLine.return_id) == ReturnRequest.id)
            .where(col(ReturnRequest.order_id).in_(list(numbers)))
        ).all()
        if line.comment and line.comment.strip()
    ]
    comments.sort(key=lambda c: c.at, reverse=True)
    return CustomerCard(
        customer=customer,
        profile=profile,
        persona=persona,
        micro_segment=micro_segment(
            profile.persona, profile.parcel, stock.get(customer_id, "unknown")
        ),
        orders=[(o, first_parcel.get(id_of(o))) for o in orders],
        comments=comments,
    )


def customer_of_order(*, session: Session, brand_id: int, order_id: int) -> int | None:
    order = session.get(Order, order_id)
    if order is None or order.brand_id != brand_id:
        return None
    return order.customer_id
