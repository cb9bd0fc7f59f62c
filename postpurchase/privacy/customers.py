"""Customers' rights: erase one customer's personal data, export everything stored about them.

Erasure anonymises instead of deleting: orders, parcels, messages, returns and feedback keep their
amounts, dates, SKUs, statuses, costs and scores, so insights and delivery-date models do not
change; names, addresses, phone numbers, emails, free text and raw bodies go.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_
from sqlmodel import Session, SQLModel, col, select

from postpurchase.db import affected_rows
from postpurchase.edd.model import postal_prefix
from postpurchase.inbox import take_in_spooled
from postpurchase.models import (
    CarrierResponse,
    Customer,
    CustomerProfile,
    Erasure,
    Feedback,
    InboxEvent,
    InboxState,
    Order,
    OrderLine,
    OutboxMessage,
    OutboxState,
    ReturnLine,
    ReturnRequest,
    Shipment,
    StaleProfile,
    Suppression,
    TrackingEvent,
)
from postpurchase.models.types import id_column

#: What replaces a name or a text that must stay non-empty.
ERASED = "[erased]"
#: ``Customer.external_id`` of an erased customer starts with this; the rest is the erasure reference.
ERASED_ID_PREFIX = "erased:"
#: Order attributes that are codes, not personal data, and survive an erasure.
KEPT_ORDER_ATTRIBUTES = ("cancel_reason",)
#: Shorter strings are not searched for in raw bodies: they would match unrelated events.
MIN_NEEDLE_LENGTH = 3
SCAN_BATCH = 500


class NoSuchCustomer(LookupError):
    pass


@dataclass
class Subject:
    """One person as a brand knows them: their customer rows and every order placed with their email."""

    customers: list[Customer]
    orders: list[Order]
    emails: set[str] = field(default_factory=set)

    @property
    def customer_ids(self) -> list[int]:
        return [c.id for c in self.customers if c.id is not None]

    @property
    def order_ids(self) -> list[int]:
        return [o.id for o in self.orders if o.id is not None]

    def addresses(self) -> set[str]:
        """Every email, phone number and LINE id they were reached at."""
        values: set[str] = set(self.emails)
        for customer in self.customers:
            values.update(v for v in (customer.email, customer.phone) if v)
        for order in self.orders:
            values.update(v for v in (order.email, order.phone) if v)
        values.update(c.line_user_id for c in self.customers if c.line_user_id)
        return values

    def needles(self) -> set[str]:
        """Strings whose presence in a raw body means the body is about this person."""
        values = self.addresses()
        for customer in self.customers:
            values.update(v for v in (customer.name, customer.external_id) if v)
        for order in self.orders:
            values.update(v for v in (order.shipping_name, order.external_id) if v)
        return {v for v in values if len(v) >= MIN_NEEDLE_LENGTH and v != ERASED}


def find_subject(
    *, session: Session, brand_id: int, email: str | None = None, customer_id: int | None = None
) -> Subject:
    """The brand's customer rows with this email (or this id) and their orders, guest orders included."""
    if (email is None) == (customer_id is None):
        raise ValueError("give either an email or a customer id")
    emails = {email.strip().lower()} if email else set()
    if customer_id is not None:
        customer = session.get(Customer, customer_id)
        customers = [customer] if customer is not None and customer.brand_id == brand_id else []
    else:
        customers = list(
            session.exec(
                select(Customer).where(
                    Customer.brand_id == brand_id,
                    func.lower(Customer.email).in_(sorted(emails)),
                )
            )
        )
    emails.update(c.email.lower() for c in customers if c.email)
    ids = [c.id for c in customers]
    conditions = [col(Order.customer_id).in_(ids)] if ids else []
    if emails:
        conditions.append(func.lower(Order.email).in_(sorted(emails)))
    orders = (
        list(
            session.exec(
                select(Order)
                .where(Order.brand_id == brand_id, or_(*conditions))
                .order_by(col(Order.id))
            )
        )
        if conditions
        else []
    )
    return Subject(customers, orders, emails)


@dataclass(frozen=True)
class ErasureResult:
    #: The receipt of the erasure; None when nothing was stored about the customer.
    reference: str | None
    counts: dict[str, int]
    #: True when every customer row had been erased before (the call only swept what came since).
    repeated: bool = False


def erase_customer(
    *,
    session: Session,
    brand_id: int,
    now: datetime,
    email: str | None = None,
    customer_id: int | None = None,
) -> ErasureResult:
    """Anonymise one customer of one brand everywhere; idempotent.

    Running it again finds nothing by email (the email is gone) and, by customer id, sweeps rows
    that arrived since and returns the first erasure's reference.
    """
    subject = find_subject(session=session, brand_id=brand_id, email=email, customer_id=customer_id)
    if not subject.customers and not subject.orders:
        return ErasureResult(None, {})
    addresses, needles = subject.addresses(), subject.needles()
    previous = _previous_erasure(session, subject)
    reference = previous.reference if previous else secrets.token_hex(16)
    shipments = list(
        session.exec(
            select(Shipment).where(
                Shipment.brand_id == brand_id, col(Shipment.order_id).in_(subject.order_ids)
            )
        )
    )
    shipment_ids = [s.id for s in shipments]
    counts = {
        "customer": _changed(_erase_customer_row(c, reference) for c in subject.customers),
        "order": _changed(_erase_order(o) for o in subject.orders),
        "shipment": _changed(_erase_shipment(s) for s in shipments),
        "carrierresponse": affected_rows(
            session.execute(
                delete(CarrierResponse).where(
                    col(CarrierResponse.brand_id) == brand_id,
                    col(CarrierResponse.shipment_id).in_(shipment_ids),
                )
            )
        ),
        "outboxmessage": _changed(
            _erase_message(m, now)
            for m in session.exec(
                select(OutboxMessage).where(
                    OutboxMessage.brand_id == brand_id,
                    or_(
                        col(OutboxMessage.customer_id).in_(subject.customer_ids),
                        col(OutboxMessage.order_id).in_(subject.order_ids),
                        col(OutboxMessage.shipment_id).in_(shipment_ids),
                        col(OutboxMessage.recipient).in_(sorted(addresses)),
                    ),
                )
            )
        ),
        # The address itself is what a suppression stores; with the person gone there is no one to suppress.
        "suppression": affected_rows(
            session.execute(
                delete(Suppression).where(
                    col(Suppression.brand_id) == brand_id,
                    func.lower(col(Suppression.address)).in_(sorted(a.lower() for a in addresses)),
                )
            )
        ),
        # Aggregates of the erased history: nothing to keep them for.
        "customerprofile": affected_rows(
            session.execute(
                delete(CustomerProfile).where(
                    col(CustomerProfile.brand_id) == brand_id,
                    col(CustomerProfile.customer_id).in_(subject.customer_ids),
                )
            )
        ),
        "staleprofile": affected_rows(
            session.execute(
                delete(StaleProfile).where(
                    col(StaleProfile.brand_id) == brand_id,
                    col(StaleProfile.customer_id).in_(subject.customer_ids),
                )
            )
        ),
        "returnrequest": 0,
        "returnline": 0,
        "feedback": _changed(
            _erase_feedback(f)
            for f in session.exec(
                select(Feedback).where(
                    Feedback.brand_id == brand_id,
                    or_(
                        col(Feedback.customer_id).in_(subject.customer_ids),
                        col(Feedback.order_id).in_(subject.order_ids),
                        col(Feedback.shipment_id).in_(shipment_ids),
                    ),
                )
            )
        ),
        "inboxevent": _erase_inbox_bodies(session, brand_id, needles),
    }
    returns = list(
        session.exec(
            select(ReturnRequest).where(
                ReturnRequest.brand_id == brand_id,
                col(ReturnRequest.order_id).in_(subject.order_ids),
            )
        )
    )
    counts["returnrequest"] = _changed(_erase_return(r) for r in returns)
    counts["returnline"] = _changed(
        _erase_return_line(line)
        for line in session.exec(
            select(ReturnLine).where(
                ReturnLine.brand_id == brand_id,
                col(ReturnLine.return_id).in_([r.id for r in returns]),
            )
        )
    )
    for row in [*subject.customers, *subject.orders, *shipments, *returns]:
        session.add(row)
    if previous is None:
        customer = subject.customers[0] if subject.customers else None
        session.add(
            Erasure(
                brand_id=brand_id,
                reference=reference,
                customer_id=customer.id if customer else None,
                counts=counts,
                erased_at=now,
            )
        )
    session.flush()
    return ErasureResult(reference, counts, repeated=previous is not None)


def _previous_erasure(session: Session, subject: Subject) -> Erasure | None:
    """The erasure of these customers, when every one of them was erased before."""
    if not subject.customers or not all(
        c.external_id.startswith(ERASED_ID_PREFIX) for c in subject.customers
    ):
        return None
    return session.exec(
        select(Erasure)
        .where(col(Erasure.customer_id).in_(subject.customer_ids))
        .order_by(col(Erasure.id))
    ).first()


def _changed(results: Iterable[bool]) -> int:
    return sum(1 for changed in results if changed)


def _set(row: SQLModel, **values: Any) -> bool:
    """Set ``values`` on ``row``; True if any differed."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _erased_text(value: str | None) -> str | None:
    return ERASED if value else value


def _erase_customer_row(customer: Customer, reference: str) -> bool:
    external_id = (
        customer.external_id
        if customer.external_id.startswith(ERASED_ID_PREFIX)
        else f"{ERASED_ID_PREFIX}{reference}:{customer.id}"
    )
    return _set(
        customer,
        external_id=external_id,
        email=None,
        phone=None,
        line_user_id=None,
        name=_erased_text(customer.name),
        postal_code=postal_prefix(customer.postal_code) or None,
        consent={},
        attributes={},
    )


def _erase_order(order: Order) -> bool:
    kept = {k: v for k, v in order.attributes.items() if k in KEPT_ORDER_ATTRIBUTES}
    return _set(
        order,
        email=None,
        phone=None,
        shipping_name=_erased_text(order.shipping_name),
        shipping_postal_code=postal_prefix(order.shipping_postal_code) or None,
        shipping_city=None,
        attributes=kept,
    )


def _erase_shipment(shipment: Shipment) -> bool:
    # The postal prefix stays: delivery-date models and regional figures are built on it.
    return _set(
        shipment,
        destination_postal_code=postal_prefix(shipment.destination_postal_code) or None,
        signed_by=None,
    )


def _erase_message(message: OutboxMessage, now: datetime) -> bool:
    values: dict[str, Any] = {
        "recipient": ERASED,
        "subject": _erased_text(message.subject) or "",
        "body_text": _erased_text(message.body_text) or "",
        "body_html": None,
        "payload": {},
        "error": _erased_text(message.error),
    }
    if message.state in (OutboxState.pending, OutboxState.held):
        values.update(state=OutboxState.suppressed, error="customer erased")
    return _set(message, **values)


def _erase_return(request: ReturnRequest) -> bool:
    return _set(request, attributes={})


def _erase_return_line(line: ReturnLine) -> bool:
    return _set(line, comment=_erased_text(line.comment))


def _erase_feedback(feedback: Feedback) -> bool:
    return _set(feedback, comment=_erased_text(feedback.comment))


def _variants(needle: str) -> set[bytes]:
    """How ``needle`` can appear in a JSON body: raw UTF-8 or ``\\u`` escaped, compared lower-cased."""
    return {needle.lower().encode(), json.dumps(needle.lower())[1:-1].encode().lower()}


def _erase_inbox_bodies(session: Session, brand_id: int, needles: set[str]) -> int:
    """Empty the raw bodies of the brand's events that mention the person.

    Events not yet applied are set aside (``ignored``) as well: applying them would bring the
    erased data back.
    """
    patterns = set().union(*(_variants(n) for n in needles)) if needles else set()
    take_in_spooled(session)  # accepted but not yet in the inbox: they would bring it back too
    erased = 0
    for ids in _matching_bodies(session, brand_id, patterns):
        for event in session.exec(select(InboxEvent).where(col(InboxEvent.id).in_(ids))):
            event.raw_body = b""
            event.error = None
            if event.state not in (InboxState.processed, InboxState.ignored, InboxState.rejected):
                event.state, event.next_attempt_at, event.error = (
                    InboxState.ignored,
                    None,
                    "customer erased",
                )
            session.add(event)
            erased += 1
        session.flush()
    return erased


def _matching_bodies(session: Session, brand_id: int, patterns: set[bytes]) -> Iterator[list[int]]:
    """Ids of the brand's non-empty bodies containing any pattern, a batch at a time (bodies are large)."""
    if not patterns:
        return
    after = 0
    while True:
        rows = session.exec(
            select(id_column(InboxEvent), InboxEvent.raw_body)
            .where(
                InboxEvent.brand_id == brand_id,
                col(InboxEvent.id) > after,
                func.length(InboxEvent.raw_body) > 0,
            )
            .order_by(col(InboxEvent.id))
            .limit(SCAN_BATCH)
        ).all()
        if not rows:
            return
        after = rows[-1][0]
        hits = [
            event_id for event_id, body in rows if any(p in bytes(body).lower() for p in patterns)
        ]
        if hits:
            yield hits


def export_customer(
    *, session: Session, brand_id: int, email: str | None = None, customer_id: int | None = None
) -> dict[str, Any]:
    """Everything the brand stores about one customer, as JSON-ready data; :class:`NoSuchCustomer` if nothing."""
    subject = find_subject(session=session, brand_id=brand_id, email=email, customer_id=customer_id)
    if not subject.customers and not subject.orders:
        raise NoSuchCustomer(email or str(customer_id))

    def rows(model: Any, *where: Any) -> list[Any]:
        return list(
            session.exec(
                select(model).where(model.brand_id == brand_id, *where).order_by(col(model.id))
            )
        )

    order_ids = subject.order_ids
    lines = rows(OrderLine, col(OrderLine.order_id).in_(order_ids))
    shipments = rows(Shipment, col(Shipment.order_id).in_(order_ids))
    shipment_ids = [s.id for s in shipments]
    events = rows(TrackingEvent, col(TrackingEvent.shipment_id).in_(shipment_ids))
    returns = rows(ReturnRequest, col(ReturnRequest.order_id).in_(order_ids))
    return_lines = rows(ReturnLine, col(ReturnLine.return_id).in_([r.id for r in returns]))
    return {
        "customers": [_dump(c) for c in subject.customers],
        "orders": [
            {
                **_dump(o),
                "lines": [_dump(line) for line in lines if line.order_id == o.id],
                "shipments": [
                    {
                        **_dump(s),
                        "tracking_events": [_dump(e) for e in events if e.shipment_id == s.id],
                    }
                    for s in shipments
                    if s.order_id == o.id
                ],
            }
            for o in subject.orders
        ],
        "messages": [
            _dump(m)
            for m in rows(
                OutboxMessage,
                or_(
                    col(OutboxMessage.customer_id).in_(subject.customer_ids),
                    col(OutboxMessage.order_id).in_(order_ids),
                ),
            )
        ],
        "returns": [
            {**_dump(r), "lines": [_dump(line) for line in return_lines if line.return_id == r.id]}
            for r in returns
        ],
        "feedback": [
            _dump(f)
            for f in rows(
                Feedback,
                or_(
                    col(Feedback.customer_id).in_(subject.customer_ids),
                    col(Feedback.order_id).in_(order_ids),
                ),
            )
        ],
        "suppressions": [
            _dump(s)
            for s in rows(
                Suppression,
                func.lower(Suppression.address).in_(sorted(a.lower() for a in subject.addresses())),
            )
        ],
    }


def _dump(row: SQLModel) -> dict[str, Any]:
    return row.model_dump(mode="json", exclude={"brand_id"})
