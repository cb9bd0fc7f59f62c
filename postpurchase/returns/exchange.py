"""Exchanges: what a returned line may be exchanged for, the units held for it, and the outbound order.

* **Choices** (:func:`exchange_options`): another size of the same item, and, when the brand's
  :class:`~postpurchase.settings.model.ExchangeRule` allows it, other products it has sold (their
  name, category and price are those of their latest order line in the order's currency) of the same
  category and within a price band. Only what is in stock now is offered.
* **Stock** (:func:`available_stock`): Σ ``InventoryLevel.available`` across the centres minus the
  units held for open exchanges. :func:`lock_stock` takes the rows' write lock so that two customers
  racing for the last unit are served one after the other.
* **Reservations** (:class:`~postpurchase.models.StockReservation`): written with the RMA, held for
  ``hold_days``; shipped with the outbound order, released when the RMA is rejected or cancelled,
  expired by the ``returns.reservations`` job.
* **Outbound order**: a signed ``exchange.outbound`` webhook to the brand's WMS URL through the
  outbox (one key per RMA, so it is posted once whatever repeats), when the returned goods are
  received, or as soon as the RMA is approved for customers of the rule's ``ship_early_tiers``.
  It is sent even when the hold has expired meanwhile: the WMS ships from what it has (or
  backorders), since the customer's goods are already back. When the new items cost more and the
  rule says ``ship_after_payment``, it is held until the difference is paid
  (:func:`record_charge_paid`, called on Shopify's ``orders/paid`` for the order the charge's draft
  became: the one signal that says money arrived), then sent if it was due meanwhile.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from flask import Flask
from pydantic import BaseModel, Field
from sqlmodel import Session, col, func, select

from postpurchase import audit, signals
from postpurchase.clock import utcnow
from postpurchase.db import claim_scope
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.triggers import enqueue_document, idempotency_key
from postpurchase.models import (
    Brand,
    Channel,
    Customer,
    InventoryLevel,
    Order,
    OrderLine,
    ReservationState,
    ReturnLine,
    ReturnRequest,
    StockReservation,
)
from postpurchase.models.enums import ReturnResolution, ReturnState
from postpurchase.models.types import id_of
from postpurchase.returns.policy import is_exchange_for, policy_for
from postpurchase.returns.wms import wms_webhook_url
from postpurchase.settings.model import ExchangeRule

#: RMA states after which nothing will be sent in exchange: their units go back to stock.
RELEASING_STATES = frozenset({ReturnState.rejected, ReturnState.cancelled})


@dataclass(frozen=True)
class ExchangeOption:
    """An item a returned line may be exchanged for."""

    sku: str
    variant: str | None
    name: str
    #: Minor units of the order's currency.
    unit_price: int
    #: In stock across the centres, less the units held for other exchanges.
    available: int
    #: Another size (or the same size) of the returned item, rather than another product.
    same_item: bool


def available_stock(
    *, session: Session, brand_id: int, skus: Collection[str], now: datetime
) -> dict[str, int]:
    """Units of each of ``skus`` that can still be promised: stock minus the units held."""
    if not skus:
        return {}
    stock = session.exec(
        select(InventoryLevel.sku, func.sum(InventoryLevel.available))
        .where(
            InventoryLevel.brand_id == brand_id,
            col(InventoryLevel.sku).in_(list(skus)),
            InventoryLevel.available > 0,
        )
        .group_by(col(InventoryLevel.sku))
    ).all()
    held = session.exec(
        select(StockReservation.sku, func.sum(StockReservation.quantity))
        .where(
            StockReservation.brand_id == brand_id,
            col(StockReservation.sku).in_(list(skus)),
            StockReservation.state == ReservationState.held,
            col(StockReservation.expires_at) > now,
        )
        .group_by(col(StockReservation.sku))
    ).all()
    left = dict.fromkeys(skus, 0)
    for sku, total in stock:
        left[sku] += int(total or 0)
    for sku, total in held:
        left[sku] -= int(total or 0)
    return {sku: max(units, 0) for sku, units in left.items()}


def lock_stock(*, session: Session, brand_id: int, skus: Collection[str]) -> None:
    """Take the write lock of the stock rows of ``skus`` (PostgreSQL; SQLite's writer already holds
    the database), in one order so that two exchanges never wait for each other."""
    if skus:
        session.exec(
            select(InventoryLevel.id)
            .where(InventoryLevel.brand_id == brand_id, col(InventoryLevel.sku).in_(sorted(skus)))
            .order_by(col(InventoryLevel.id))
            .with_for_update()
        ).all()


def _norm(category: str | None) -> str:
    return (category or "").strip().lower()


def _in_band(rule: ExchangeRule, price: int, candidate: int) -> bool:
    if rule.price_band_percent is None:
        return True
    band = Decimal(price) * Decimal(str(rule.price_band_percent)) / 100
    return abs(Decimal(candidate - price)) <= band


def exchange_candidates(
    *,
    session: Session,
    brand_id: int,
    line: OrderLine,
    currency: str,
    rule: ExchangeRule,
    now: datetime,
) -> list[ExchangeOption]:
    """Everything ``line`` may be exchanged for under ``rule``, in stock or not: the same item first
    (by SKU), then other products by name."""
    stocked = session.exec(
        select(InventoryLevel.sku, InventoryLevel.variant)
        .where(InventoryLevel.brand_id == brand_id)
        .order_by(col(InventoryLevel.sku), col(InventoryLevel.id))
    ).all()
    variants: dict[str, str | None] = {}
    for sku, variant in stocked:
        variants.setdefault(sku, variant)
    same = [sku for sku in variants if is_exchange_for(line.sku, sku)]
    others: dict[str, OrderLine] = {}
    if rule.other_products:
        query = (
            select(OrderLine)
            .join(Order, col(Order.id) == col(OrderLine.order_id))
            .where(
                OrderLine.brand_id == brand_id,
                Order.currency == currency,
                col(OrderLine.sku).in_([sku for sku in variants if sku not in same]),
            )
            .order_by(col(OrderLine.id).desc())
        )
        for row in session.exec(query).all():
            others.setdefault(row.sku, row)
        # A line without a category has no "same category" to offer from.
        others = {
            sku: row
            for sku, row in others.items()
            if (
                not rule.same_category
                or (_norm(line.category) and _norm(row.category) == _norm(line.category))
            )
            and _in_band(rule, line.unit_price, row.unit_price)
        }
    left = available_stock(session=session, brand_id=brand_id, skus=[*same, *others], now=now)
    options = [
        ExchangeOption(
            sku=sku,
            variant=variants[sku],
            name=line.name,
            unit_price=line.unit_price,
            available=left[sku],
            same_item=True,
        )
        for sku in same
    ]
    options += sorted(
        (
            ExchangeOption(
                sku=sku,
                variant=row.variant,
                name=row.name or sku,
                unit_price=row.unit_price,
                available=left[sku],
                same_item=False,
            )
            for sku, row in others.items()
        ),
        key=lambda option: (option.name, option.sku),
    )
    return options


def exchange_options(
    *,
    session: Session,
    brand_id: int,
    line: OrderLine,
    currency: str,
    rule: ExchangeRule,
    now: datetime,
) -> list[ExchangeOption]:
    """What the portal offers for ``line``: the candidates in stock now."""
    return [
        option
        for option in exchange_candidates(
            session=session, brand_id=brand_id, line=line, currency=currency, rule=rule, now=now
        )
        if option.available > 0
    ]


def reserve(
    *, session: Session, rma: ReturnRequest, units: Mapping[str, int], hold_days: int, now: datetime
) -> list[StockReservation]:
    """Hold ``units`` (SKU → quantity) for ``rma`` for ``hold_days``."""
    rows = [
        StockReservation(
            brand_id=rma.brand_id,
            return_id=id_of(rma),
            sku=sku,
            quantity=quantity,
            expires_at=now + timedelta(days=hold_days),
            created_at=now,
        )
        for sku, quantity in units.items()
        if quantity > 0
    ]
    session.add_all(rows)
    session.flush()
    return rows


def end_reservations(
    *, session: Session, return_id: int, state: ReservationState, now: datetime
) -> int:
    """Stop holding the units of an RMA (``shipped`` or ``released``); how many rows ended."""
    rows = session.exec(
        select(StockReservation).where(
            StockReservation.return_id == return_id,
            StockReservation.state == ReservationState.held,
        )
    ).all()
    for row in rows:
        row.state = state
        row.ended_at = now
        session.add(row)
    session.flush()
    return len(rows)


def expire_reservations(*, session: Session, now: datetime) -> int:
    """Mark every hold past its ``expires_at`` expired (their units count as stock again)."""
    rows = session.exec(
        select(StockReservation)
        .where(
            StockReservation.state == ReservationState.held,
            col(StockReservation.expires_at) <= now,
        )
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.state = ReservationState.expired
        row.ended_at = now
        session.add(row)
    session.flush()
    return len(rows)


def expire_job(app: Flask) -> None:
    """The ``returns.reservations`` job."""
    with app.app_context(), claim_scope(app) as session:
        expire_reservations(session=session, now=utcnow())


class ShipTo(BaseModel):
    name: str | None = None
    postal_code: str | None = None
    region: str | None = None
    city: str | None = None
    country: str | None = None
    phone: str | None = None
    email: str | None = None


class OutboundLine(BaseModel):
    sku: str
    variant: str | None = None
    quantity: int
    returned_sku: str = Field(description="The SKU the customer sends back for it.")


class OutboundData(BaseModel):
    rma_number: str
    order_id: str = Field(description="The sender's order id (as in the intake's `order.created`).")
    order_number: str
    ship_to: ShipTo
    lines: list[OutboundLine]
    amount_due: int = Field(
        description="What the customer pays for the exchange (collected separately), minor units."
    )
    currency: str


class OutboundWebhook(BaseModel):
    """What the brand's WMS receives to ship the items of an exchange."""

    id: str = Field(description="Unique per RMA; equals the `Idempotency-Key` header.")
    type: Literal["exchange.outbound"] = "exchange.outbound"
    occurred_at: datetime
    data: OutboundData


def ships_now(
    *, session: Session, brand: Brand, rma: ReturnRequest, order: Order, current: ReturnState
) -> bool:
    """Whether the exchange of ``rma`` ships on reaching ``current``: on receipt of the goods, or on
    approval for a customer of one of the brand's ``ship_early_tiers``."""
    if rma.resolution != ReturnResolution.exchange or awaits_payment(brand, rma):
        return False
    if current == ReturnState.received:
        return True
    if current != ReturnState.approved:
        return False
    return _ships_early(session=session, brand=brand, order=order)


def charge_due(rma: ReturnRequest) -> int:
    """What the customer pays for the exchange of ``rma``, minor units."""
    return int(((rma.attributes or {}).get("money") or {}).get("charge") or 0)


def awaits_payment(brand: Brand, rma: ReturnRequest) -> bool:
    """Whether the outbound order of ``rma`` waits for the customer to pay the difference."""
    return (
        policy_for(brand).part.exchange.ship_after_payment
        and charge_due(rma) > 0
        and not (rma.attributes or {}).get("charge_paid_at")
    )


def record_charge_paid(
    *, session: Session, brand: Brand, rma: ReturnRequest, actor: str, now: datetime
) -> str | None:
    """Note that the difference of ``rma`` is paid, and send its held outbound order when it was due
    meanwhile (goods received, or approved for an early tier); the outbox key, if one was queued.
    A second report changes nothing."""
    if (rma.attributes or {}).get("charge_paid_at"):
        return None
    rma.attributes = {**(rma.attributes or {}), "charge_paid_at": now.isoformat()}
    session.add(rma)
    session.flush()
    audit.record(
        session=session,
        brand_id=id_of(brand),
        actor=actor,
        action="return.charge_paid",
        subject=rma.rma_number,
        after={"amount": charge_due(rma), "currency": rma.currency},
    )
    order = session.get_one(Order, rma.order_id)
    due = rma.state == ReturnState.received or (
        rma.state in (ReturnState.approved, ReturnState.label_issued, ReturnState.in_transit)
        and _ships_early(session=session, brand=brand, order=order)
    )
    if rma.resolution != ReturnResolution.exchange or not due:
        return None
    return send_outbound(session=session, brand=brand, rma=rma, order=order, now=now)


def _ships_early(*, session: Session, brand: Brand, order: Order) -> bool:
    policy = policy_for(brand)
    customer = session.get(Customer, order.customer_id) if order.customer_id is not None else None
    tier = policy.tier_of(customer)
    return tier is not None and tier in policy.part.exchange.ship_early_tiers


def send_outbound(
    *, session: Session, brand: Brand, rma: ReturnRequest, order: Order, now: datetime
) -> str | None:
    """Queue the outbound order of ``rma`` (once: the outbox keeps one row per key, so a second call
    queues nothing) and mark its held units shipped. Without a WMS URL nothing is sent and the units
    stay held."""
    url = wms_webhook_url(brand)
    if url is None:
        return None
    ref = f"r{rma.id}.outbound"
    lines = session.exec(
        select(ReturnLine).where(ReturnLine.return_id == rma.id).order_by(col(ReturnLine.id))
    ).all()
    document = OutboundWebhook(
        id=idempotency_key(id_of(brand), Trigger.wms_return, ref, Channel.webhook),
        occurred_at=now,
        data=OutboundData(
            rma_number=rma.rma_number,
            order_id=order.external_id,
            order_number=order.number,
            ship_to=ShipTo(
                name=order.shipping_name,
                postal_code=order.shipping_postal_code,
                region=order.shipping_region,
                city=order.shipping_city,
                country=order.shipping_country,
                phone=order.phone,
                email=order.email,
            ),
            lines=[
                OutboundLine(
                    sku=line.exchange_sku or line.sku,
                    variant=line.variant if not line.exchange_sku else None,
                    quantity=line.quantity,
                    returned_sku=line.sku,
                )
                for line in lines
            ],
            amount_due=charge_due(rma),
            currency=rma.currency,
        ),
    ).model_dump(mode="json")
    key = enqueue_document(
        session=session,
        brand=brand,
        trigger=Trigger.wms_return,
        ref=ref,
        url=url,
        document=document,
        now=now,
        order_id=order.id,
    )
    end_reservations(session=session, return_id=id_of(rma), state=ReservationState.shipped, now=now)
    return key


def on_return_updated(
    return_id: int,
    *,
    session: Session,
    brand_id: int,
    current: ReturnState,
    now: datetime | None = None,
    **_: Any,
) -> None:
    """Release the units of a closed RMA; send the outbound order when the exchange ships. An RMA the
    merchant settles as exchanged has shipped its units, whether or not through the WMS webhook."""
    now = now or utcnow()
    if current in RELEASING_STATES or current == ReturnState.exchanged:
        state = (
            ReservationState.shipped
            if current == ReturnState.exchanged
            else ReservationState.released
        )
        end_reservations(session=session, return_id=return_id, state=state, now=now)
        return
    rma = session.get(ReturnRequest, return_id)
    brand = session.get(Brand, brand_id)
    if rma is None or brand is None:
        return
    order = session.get_one(Order, rma.order_id)
    if ships_now(session=session, brand=brand, rma=rma, order=order, current=current):
        send_outbound(session=session, brand=brand, rma=rma, order=order, now=now)


def connect() -> None:
    signals.return_updated.connect(on_return_updated)
