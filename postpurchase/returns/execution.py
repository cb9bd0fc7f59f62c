"""Paying out a received return, exactly once: a refund or store credit through the platform.

When the warehouse reports the goods received (:data:`postpurchase.signals.return_updated` with
``current=received``), one :class:`~postpurchase.models.ResolutionExecution` row per kind of money
the RMA owes is written in that same unit of work. The job :func:`execute_job` then claims due rows
and carries them out:

* orders that came from Shopify (``Order.attributes["source"] == "shopify"``), when the brand has
  Admin API credentials: a refund or a gift card through :mod:`postpurchase.returns.shopify_admin`;
* any other order: a signed ``return.resolution`` webhook to the brand's return webhook URL (the
  OMS pays out), through the outbox, which signs, retries and delivers each key once.
* the price difference an exchange costs more (``charge``): for a Shopify order, a draft order for
  the difference whose invoice Shopify emails to the customer (the customer pays through Shopify's
  checkout; this service never charges a card); for any other order, the ``return.resolution``
  webhook and the brand's OMS collects it. The Shopify charge takes two committed steps: the draft
  is created and its id kept on the row (still ``sending``), then the invoice is sent, so a retry
  never creates a second draft.

A row is claimed (``sending``, one more attempt) and committed before the platform is called. A row
left ``sending`` (the process died, the answer was lost) is claimed again after
:data:`STALE_AFTER`; the platform call then first looks for what the first attempt may have created
(see ``shopify_admin``), so a retried job never pays twice. Once paid, the RMA moves through the state
machine (``refund`` / ``credit``) when that is how it is settled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from flask import Flask
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from postpurchase import audit, signals
from postpurchase.clock import utcnow
from postpurchase.db import claim_scope, session_scope
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.triggers import enqueue_document
from postpurchase.models import (
    Brand,
    Customer,
    ExecutionKind,
    ExecutionState,
    Order,
    OrderLine,
    ResolutionExecution,
    ReturnLine,
    ReturnRequest,
)
from postpurchase.models.enums import ReturnState
from postpurchase.models.types import id_of
from postpurchase.returns.exchange import record_charge_paid
from postpurchase.returns.operations import can_take, transition
from postpurchase.returns.shopify_admin import (
    PlatformError,
    RefundLine,
    ShopifyAdmin,
    shopify_admin_for,
)
from postpurchase.returns.wms import wms_webhook_url

log = logging.getLogger(__name__)

#: A row claimed this long ago without an answer is tried again (after looking for a first success).
STALE_AFTER = timedelta(minutes=10)
#: Attempts before a row that keeps failing temporarily is left for the merchant.
MAX_ATTEMPTS = 8
CLAIM_BATCH = 20
#: A payout that failed for now (Shopify busy, network) waits this long before the next attempt.
RETRY_AFTER = timedelta(minutes=1)

#: The merchant action that settles an RMA once its money of this kind is paid.
SETTLING_ACTION = {ExecutionKind.refund: "refund", ExecutionKind.store_credit: "credit"}


def execution_key(rma: ReturnRequest, kind: ExecutionKind) -> str:
    """Unique per RMA and kind; what the platform keeps to recognise a repeated call."""
    return f"pp{rma.brand_id}-{rma.id}-{kind.value}"


def schedule_executions(
    *, session: Session, rma: ReturnRequest, now: datetime
) -> list[ResolutionExecution]:
    """The payouts ``rma`` owes, one row per kind; rows that exist already are left alone."""
    charge = int(((rma.attributes or {}).get("money") or {}).get("charge") or 0)
    owed = [
        (kind, amount)
        for kind, amount in (
            (ExecutionKind.refund, rma.refund_amount),
            (ExecutionKind.store_credit, rma.credit_amount),
            (ExecutionKind.charge, charge),
        )
        if amount > 0
    ]
    existing = set(
        session.exec(
            select(ResolutionExecution.kind).where(ResolutionExecution.return_id == rma.id)
        ).all()
    )
    added = []
    for kind, amount in owed:
        if kind in existing:
            continue
        row = ResolutionExecution(
            brand_id=rma.brand_id,
            return_id=id_of(rma),
            kind=kind,
            amount=amount,
            currency=rma.currency,
            idempotency_key=execution_key(rma, kind),
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        added.append(row)
    session.flush()
    return added


def on_return_updated(
    return_id: int,
    *,
    session: Session,
    current: ReturnState,
    now: datetime | None = None,
    **_: Any,
) -> None:
    """Schedule the payouts when the goods are received."""
    if current != ReturnState.received:
        return
    rma = session.get(ReturnRequest, return_id)
    if rma is not None:
        schedule_executions(session=session, rma=rma, now=now or utcnow())


def connect() -> None:
    signals.return_updated.connect(on_return_updated)


def claim_due(*, session: Session, now: datetime, limit: int = CLAIM_BATCH) -> list[int]:
    """Claim due rows: new ones, failed-for-now ones after :data:`RETRY_AFTER`, and ones whose claim
    went stale (:data:`STALE_AFTER`); each becomes ``sending`` with one more attempt."""
    rows = session.exec(
        select(ResolutionExecution)
        .where(
            (
                (col(ResolutionExecution.state) == ExecutionState.pending)
                & (
                    (col(ResolutionExecution.attempts) == 0)
                    | (col(ResolutionExecution.updated_at) <= now - RETRY_AFTER)
                )
            )
            | (
                (col(ResolutionExecution.state) == ExecutionState.sending)
                & (col(ResolutionExecution.updated_at) <= now - STALE_AFTER)
            )
        )
        .order_by(col(ResolutionExecution.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.state = ExecutionState.sending
        row.attempts += 1
        row.updated_at = now
        session.add(row)
    session.flush()
    return [id_of(row) for row in rows]


ShopifyFactory = Callable[[Brand], ShopifyAdmin | None]


def execute(
    *, session: Session, execution_id: int, shopify: ShopifyFactory, now: datetime
) -> ExecutionState:
    """Carry out one claimed row and record the outcome (and settle the RMA when paid)."""
    row = session.get_one(ResolutionExecution, execution_id)
    if row.state != ExecutionState.sending:
        return row.state
    rma = session.get_one(ReturnRequest, row.return_id)
    order = session.get_one(Order, rma.order_id)
    brand = session.get_one(Brand, row.brand_id)
    from_shopify = (order.attributes or {}).get("source") == "shopify"
    admin = shopify(brand) if from_shopify else None
    try:
        if admin is not None and row.kind == ExecutionKind.charge and row.external_id is None:
            # First step: keep the draft's id, committed, before its invoice goes out.
            row.external_id = _charge_draft(session, admin, row, rma, order)
            row.via = "shopify"
            row.updated_at = now
            session.add(row)
            session.flush()
            return row.state
        if admin is not None and row.kind == ExecutionKind.charge:
            admin.send_invoice(str(row.external_id))
        elif admin is not None:
            row.external_id = _pay_on_shopify(session, admin, row, rma, order)
            row.via = "shopify"
        else:
            row.external_id = _announce(session, brand, row, rma, order, now)
            row.via = "webhook"
    except PlatformError as refused:
        row.last_error = str(refused)[:1000]
        gives_up = refused.permanent or row.attempts >= MAX_ATTEMPTS
        row.state = ExecutionState.failed if gives_up else ExecutionState.pending
        row.updated_at = now
        session.add(row)
        session.flush()
        log.warning("return %s %s: %s", rma.rma_number, row.kind, refused)
        return row.state
    row.state = ExecutionState.done
    row.executed_at = row.updated_at = now
    row.last_error = None
    session.add(row)
    session.flush()
    audit.record(
        session=session,
        brand_id=row.brand_id,
        actor=f"system:{row.via}",
        action=f"return.{row.kind.value}",
        subject=rma.rma_number,
        after={"amount": row.amount, "currency": row.currency, "external_id": row.external_id},
    )
    action = SETTLING_ACTION.get(row.kind)
    if action is not None and can_take(rma, action):
        transition(
            session=session,
            brand_id=rma.brand_id,
            return_id=id_of(rma),
            action=action,
            now=now,
        )
    return row.state


def charge_paid(*, session: Session, brand_id: int, key: str, now: datetime) -> bool:
    """The customer paid the exchange charge executed with ``key`` (Shopify's ``orders/paid`` for
    the order its draft became): release the held outbound order. False when the key is not ours."""
    row = session.exec(
        select(ResolutionExecution).where(
            ResolutionExecution.brand_id == brand_id,
            ResolutionExecution.idempotency_key == key,
            ResolutionExecution.kind == ExecutionKind.charge,
        )
    ).first()
    if row is None:
        return False
    record_charge_paid(
        session=session,
        brand=session.get_one(Brand, brand_id),
        rma=session.get_one(ReturnRequest, row.return_id),
        actor="system:shopify",
        now=now,
    )
    return True


def _charge_draft(
    session: Session,
    admin: ShopifyAdmin,
    row: ResolutionExecution,
    rma: ReturnRequest,
    order: Order,
) -> str:
    customer = session.get(Customer, order.customer_id) if order.customer_id else None
    return admin.create_charge_draft(
        key=row.idempotency_key,
        amount_minor=row.amount,
        currency=row.currency,
        title=f"Exchange {rma.rma_number}: price difference",
        note=f"Return {rma.rma_number}, order {order.number}",
        email=order.email,
        customer_id=customer.external_id if customer else None,
    )


def _pay_on_shopify(
    session: Session,
    admin: ShopifyAdmin,
    row: ResolutionExecution,
    rma: ReturnRequest,
    order: Order,
) -> str:
    note = f"Return {rma.rma_number}"
    if row.kind == ExecutionKind.store_credit:
        customer = session.get(Customer, order.customer_id) if order.customer_id else None
        return admin.issue_gift_card(
            key=row.idempotency_key,
            amount_minor=row.amount,
            currency=row.currency,
            note=note,
            customer_id=customer.external_id if customer else None,
        )
    lines = session.exec(
        select(OrderLine.line_key, ReturnLine.quantity)
        .join(OrderLine, col(OrderLine.id) == col(ReturnLine.order_line_id))
        .where(ReturnLine.return_id == rma.id)
        .order_by(col(ReturnLine.id))
    ).all()
    return admin.refund(
        str(order.attributes.get("shopify_id") or order.external_id),
        key=row.idempotency_key,
        amount_minor=row.amount,
        currency=row.currency,
        lines=[RefundLine(line_item_id=key, quantity=quantity) for key, quantity in lines],
        note=note,
    )


class ResolutionData(BaseModel):
    rma_number: str
    order_id: str = Field(description="The sender's order id (as in the intake's `order.created`).")
    order_number: str
    kind: ExecutionKind = Field(
        description="`refund` to the original payment, `store_credit`, or `charge`: what the "
        "customer pays for an exchange whose new items cost more (collect it from them)."
    )
    amount: int = Field(description="Minor units of `currency`.")
    currency: str


class ResolutionWebhook(BaseModel):
    """What the brand's OMS receives when a received return is to be paid out."""

    id: str = Field(description="Unique per RMA and kind; equals the `Idempotency-Key` header.")
    type: Literal["return.resolution"] = "return.resolution"
    occurred_at: datetime
    data: ResolutionData


def _announce(
    session: Session,
    brand: Brand,
    row: ResolutionExecution,
    rma: ReturnRequest,
    order: Order,
    now: datetime,
) -> str:
    url = wms_webhook_url(brand)
    if url is None:
        raise PlatformError(
            "no platform to pay through: the order is not from Shopify (or the shop has no Admin "
            "API credentials) and the brand has no return webhook URL",
            permanent=True,
        )
    document = ResolutionWebhook(
        id=row.idempotency_key,
        occurred_at=now,
        data=ResolutionData(
            rma_number=rma.rma_number,
            order_id=order.external_id,
            order_number=order.number,
            kind=row.kind,
            amount=row.amount,
            currency=row.currency,
        ),
    ).model_dump(mode="json")
    enqueue_document(
        session=session,
        brand=brand,
        trigger=Trigger.wms_return,
        ref=f"r{rma.id}.resolution.{row.kind.value}",
        url=url,
        document=document,
        now=now,
        order_id=order.id,
    )
    return row.idempotency_key


def execute_due(
    app: Flask, *, shopify: ShopifyFactory | None = None, now: datetime | None = None
) -> int:
    """Claim and carry out every due payout (the scheduler's job); how many rows were tried.

    ``shopify`` gives a brand's Admin API (tests pass one bound to a local fake)."""
    factory = shopify or (lambda brand: shopify_admin_for(app.config, brand))
    tried = 0
    with app.app_context():  # the scheduler's job has one, a script or test may not
        while True:
            with claim_scope(app) as session:
                ids = claim_due(session=session, now=now or utcnow())
            if not ids:
                return tried
            for execution_id in ids:
                # A Shopify charge comes back ``sending`` once its draft is kept: go on, committed.
                state = ExecutionState.sending
                while state == ExecutionState.sending:
                    with session_scope(app) as session:
                        state = execute(
                            session=session,
                            execution_id=execution_id,
                            shopify=factory,
                            now=now or utcnow(),
                        )
                tried += 1


def execute_job(app: Flask) -> None:
    execute_due(app)
