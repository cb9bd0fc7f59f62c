"""Unboxing kitting: what the warehouse puts in an order's box, and telling the WMS so.

A brand's kits (``kitting.rules``, :class:`~postpurchase.settings.model.KitRule`) match orders by
segment (the customer segments of ``messaging.rules``), first order or repeat, gift, and product
category. :func:`decide` turns the rules and what is known of one order into its
:class:`Instructions`: a plain function, with no database or clock.

When an order arrives (``order_upserted`` with ``created``), :func:`kit_order` records the decision
once (:class:`~postpurchase.models.OrderKit`, one row per order) and, when a kit matched and the
brand has a WMS webhook URL, queues one ``order.kitting_instructions`` webhook in the outbox, signed
and retried like every outgoing webhook; its idempotency key names the order, so a repeated
``order.created`` or a retry never sends a second one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from flask import Flask
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from postpurchase import signals
from postpurchase.clock import utcnow
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.context import display_name, message_locale
from postpurchase.messaging.segments import Profile, build_profile, rule_holds
from postpurchase.messaging.triggers import enqueue_document, idempotency_key
from postpurchase.models import Brand, Channel, Customer, Order, OrderKit
from postpurchase.models.types import id_of
from postpurchase.settings.model import KitRule, settings_for

#: The webhook's ``type``.
EVENT_TYPE: Final = "order.kitting_instructions"
#: An order placed longer ago than this (an import of old orders) is not kitted: its box has left.
PACKED_AFTER = timedelta(days=3)


@dataclass(frozen=True)
class OrderFacts:
    """What the rules look at in one order."""

    profile: Profile
    gift: bool
    #: The customer's name, if known; what ``{name}`` on a card may become.
    name: str | None
    #: The language of the card (``ja`` or ``en``).
    locale: str


@dataclass(frozen=True)
class Card:
    locale: str
    #: The brand's words, ``{name}`` not yet filled in (what is kept: no personal data).
    template: str
    #: What is printed.
    text: str


@dataclass(frozen=True)
class Instructions:
    """What goes in the box: the kits that matched and their contents."""

    kits: tuple[str, ...] = ()
    inserts: tuple[str, ...] = ()
    samples: tuple[str, ...] = ()
    gift_wrap: str | None = None
    card: Card | None = None

    def contents(self) -> dict[str, Any]:
        """The contents as :class:`~postpurchase.models.OrderKit` keeps them (the card unfilled)."""
        return {
            "inserts": list(self.inserts),
            "samples": list(self.samples),
            "gift_wrap": self.gift_wrap,
            "card": {"locale": self.card.locale, "text": self.card.template} if self.card else None,
        }


def _matches(rule: KitRule, segments: Sequence[dict[str, Any]], facts: OrderFacts) -> bool:
    profile = facts.profile
    if rule.first_order is not None and rule.first_order != profile.first_order:
        return False
    if rule.gift is not None and rule.gift != facts.gift:
        return False
    if rule.categories:
        wanted = {c.casefold() for c in rule.categories}
        if not wanted & {c.casefold() for c in profile.categories}:
            return False
    if rule.segments:
        named = [s for s in segments if s.get("name") in rule.segments]
        if not any(rule_holds(segment, profile) for segment in named):
            return False
    return True


def _card(rule: KitRule, facts: OrderFacts) -> Card | None:
    """The rule's card in the order's language (else the other one), its name filled in where allowed."""
    locale = facts.locale if facts.locale in rule.card else next(iter(rule.card), None)
    if locale is None:
        return None
    template = rule.card[locale]
    # A gift is opened by someone else: the buyer's name is not theirs to read.
    name = facts.name if rule.use_name and not facts.gift else None
    return Card(locale, template, template.replace("{name}", display_name(name, locale)))


def decide(
    rules: Sequence[KitRule], segments: Sequence[dict[str, Any]], facts: OrderFacts
) -> Instructions:
    """The instructions for one order: every matching rule in order; inserts and samples add up
    (each once), the first gift wrap and the first card win."""
    kits: list[str] = []
    inserts: list[str] = []
    samples: list[str] = []
    wrap: str | None = None
    card: Card | None = None
    for rule in rules:
        if not _matches(rule, segments, facts):
            continue
        kits.append(rule.name)
        inserts.extend(i for i in rule.inserts if i not in inserts)
        samples.extend(s for s in rule.samples if s not in samples)
        wrap = wrap or rule.gift_wrap
        card = card or _card(rule, facts)
    return Instructions(tuple(kits), tuple(inserts), tuple(samples), wrap, card)


# The webhook -----------------------------------------------------------------------------------


class KitCard(BaseModel):
    locale: str = Field(description="`ja` or `en`.")
    text: str = Field(description="What to print on the message card.")


class KittingData(BaseModel):
    order_id: str = Field(description="The sender's order id (as in the intake's `order.created`).")
    order_number: str = Field(description="The number the customer sees.")
    kits: list[str] = Field(description="Names of the brand's kits that apply, in its order.")
    inserts: list[str] = Field(description="Printed inserts to add, by your item code.")
    samples: list[str] = Field(description="Samples to add, by SKU.")
    gift_wrap: str | None = Field(description="Wrapping to use, by your code; null: none.")
    gift: bool = Field(description="The order is a gift (no prices in the box).")
    card: KitCard | None = Field(description="A message card to print; null: none.")


class KittingWebhook(BaseModel):
    """What the brand's WMS receives when an order that gets a kit arrives."""

    id: str = Field(
        description="Unique per order; equals the `Idempotency-Key` header. Drop a delivery whose "
        "id you have seen."
    )
    type: Literal["order.kitting_instructions"]
    occurred_at: datetime
    data: KittingData


def webhook_url(brand: Brand) -> str | None:
    """Where the brand's instructions go: its kitting URL, else its returns WMS URL."""
    settings = settings_for(brand)
    return settings.kitting.webhook_url or settings.returns.wms_webhook_url


def is_gift(order: Order) -> bool:
    """The sender marks a gift with the order attribute ``gift`` (``true``)."""
    return (order.attributes or {}).get("gift") is True


def facts_of(*, session: Session, brand: Brand, order: Order) -> OrderFacts:
    customer = session.get(Customer, order.customer_id) if order.customer_id else None
    locale = message_locale(brand, customer)
    return OrderFacts(
        profile=build_profile(session=session, order=order, customer=customer, language=locale),
        gift=is_gift(order),
        name=(customer.name if customer else None) or order.shipping_name,
        locale=locale,
    )


def kit_order(*, session: Session, brand: Brand, order: Order, now: datetime) -> OrderKit | None:
    """Decide the order's kit once and queue its instructions to the WMS; flushes.

    None when the brand has no kits or the order is too old to be packed still; the stored
    decision when there is one already.
    """
    settings = settings_for(brand)
    if not settings.kitting.rules or order.placed_at < now - PACKED_AFTER:
        return None
    found = session.exec(select(OrderKit).where(OrderKit.order_id == order.id)).first()
    if found is not None:
        return found
    facts = facts_of(session=session, brand=brand, order=order)
    decided = decide(settings.kitting.rules, settings.messaging.rules, facts)
    kit = OrderKit(
        brand_id=id_of(brand),
        order_id=id_of(order),
        kits=list(decided.kits),
        contents=decided.contents(),
        gift=facts.gift,
        first_order=facts.profile.first_order,
        decided_at=now,
    )
    url = webhook_url(brand)
    if decided.kits and url:
        ref = f"o{order.id}"
        key = idempotency_key(id_of(brand), Trigger.kitting, ref, Channel.webhook)
        document = KittingWebhook(
            id=key,
            type=EVENT_TYPE,
            occurred_at=now,
            data=KittingData(
                order_id=order.external_id,
                order_number=order.number,
                kits=list(decided.kits),
                inserts=list(decided.inserts),
                samples=list(decided.samples),
                gift_wrap=decided.gift_wrap,
                gift=facts.gift,
                card=KitCard(locale=decided.card.locale, text=decided.card.text)
                if decided.card
                else None,
            ),
        ).model_dump(mode="json")
        enqueue_document(
            session=session,
            brand=brand,
            trigger=Trigger.kitting,
            ref=ref,
            url=url,
            document=document,
            now=now,
            order_id=order.id,
        )
        kit.message_key = key
    session.add(kit)
    session.flush()
    return kit


def on_order_upserted(
    brand_id: int,
    *,
    session: Session,
    order_id: int,
    created: bool = False,
    now: datetime | None = None,
    **_: Any,
) -> None:
    """A new order gets its kit (an update of a known order changes nothing already packed)."""
    if not created:
        return
    brand, order = session.get(Brand, brand_id), session.get(Order, order_id)
    if brand is not None and order is not None and order.brand_id == brand_id:
        kit_order(session=session, brand=brand, order=order, now=now or utcnow())


def init_app(app: Flask) -> None:
    """Kit each new order (the signal's receivers are process-wide; connecting twice is harmless)."""
    signals.order_upserted.connect(on_order_upserted)
