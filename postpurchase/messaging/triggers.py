"""Triggers: turn domain events and timers into outbox rows, in the caller's transaction.

:func:`enqueue` is the one entry point. It picks the first channel, in the brand's order of
preference, that has an address, consent for the purpose and no suppression; the others are kept
as fallbacks. The row's idempotency key ``brand:trigger:ref:channel`` is unique, and the insert
ignores a conflict, so a repeated event or timer run can never create a second message.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from postpurchase.db import is_postgres
from postpurchase.messaging import context as ctx
from postpurchase.messaging.channels import configured
from postpurchase.messaging.config import TriggerSettings, brand_settings, trigger_settings
from postpurchase.messaging.policy import consent_allows, suppression_reason
from postpurchase.messaging.render import render_message
from postpurchase.messaging.tokens import make_token, public_url
from postpurchase.models import (
    Brand,
    Channel,
    Customer,
    Order,
    OutboxMessage,
    OutboxState,
    Shipment,
)

log = logging.getLogger(__name__)


def idempotency_key(brand_id: int, trigger: str, ref: str, channel: Channel | str) -> str:
    return f"{brand_id}:{trigger}:{ref}:{channel}"


def recipients(*, brand: Brand, trigger: str, customer: Customer | None, order: Order | None) -> dict[str, str]:
    """Every channel this customer can be reached on for ``trigger``, with the address."""
    settings = brand_settings(brand)
    email = (customer.email if customer else None) or (order.email if order else None)
    phone = (customer.phone if customer else None) or (order.phone if order else None)
    found: dict[str, str | None] = {
        Channel.email: email,
        Channel.sms: ctx.e164(phone),
        Channel.line: customer.line_user_id if customer else None,
        Channel.line_notification: ctx.hashed_phone(phone)
        if trigger in settings["line_notification_templates"] else None,
        Channel.webhook: settings["webhook_url"],
    }
    return {str(channel): address for channel, address in found.items()
            if address and configured(current_app.config, brand.slug, channel)}


def _unsubscribe_url(brand: Brand, channel: str, address: str) -> str:
    token = make_token("unsubscribe", {"b": brand.id, "ch": channel, "a": address})
    return public_url(f"/{brand.slug}/unsubscribe/{token}")


def _line_notification_body(brand: Brand, trigger: str, context: dict[str, Any]) -> dict[str, Any]:
    """The ``templateKey`` and ``body`` of a LINE notification message (template).

    Configured per trigger as ``{"templateKey": ..., "emphasized": [itemKey, field], "items":
    [[itemKey, field], ...], "buttons": [[buttonKey, field], ...]}``; fields name values of the
    message context (``shipment.predicted_day``, ``order.number``, ...).
    """
    spec = brand_settings(brand)["line_notification_templates"][trigger]

    def value(path: str) -> Any:
        current: Any = context
        for part in path.split("."):
            current = current.get(part) if isinstance(current, dict) else None
        return current

    body: dict[str, Any] = {}
    if spec.get("emphasized"):
        key, path = spec["emphasized"]
        body["emphasizedItem"] = {"itemKey": key, "content": str(value(path) or "")}
    body["items"] = [{"itemKey": key, "content": str(value(path))} for key, path in spec.get("items", [])
                     if value(path)]
    body["buttons"] = [{"buttonKey": key, "url": value(path)} for key, path in spec.get("buttons", [])
                       if value(path)]
    return {"templateKey": spec["templateKey"], "body": body}


def _insert(session: Session, row: OutboxMessage) -> bool:
    """Insert unless the idempotency key exists; True when this call created the row."""
    values = row.model_dump(exclude={"id"})
    insert = pg_insert if is_postgres(session) else sqlite_insert
    stmt = insert(OutboxMessage).values(**values).on_conflict_do_nothing(index_elements=["idempotency_key"])
    return bool(session.execute(stmt).rowcount)


def key_exists(session: Session, key: str) -> bool:
    return session.exec(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)).first() is not None


def build_row(*, brand: Brand, trigger: TriggerSettings, ref: str, channel: Channel, address: str,
              payload: dict[str, Any], due_at: datetime, customer_id: int | None, order_id: int | None,
              shipment_id: int | None) -> OutboxMessage:
    """Render ``payload["context"]`` for ``channel`` into an outbox row (not yet inserted)."""
    context = dict(payload["context"])
    if channel in (Channel.email, Channel.sms, Channel.line):
        context["unsubscribe_url"] = _unsubscribe_url(brand, str(channel), address)
    rendered = render_message(brand_slug=brand.slug, template=trigger.template, variant=payload.get("variant"),
                              locale=context["locale"], channel=channel, context=context)
    extra: dict[str, Any] = {"unsubscribe_url": context.get("unsubscribe_url")}
    if channel == Channel.line_notification:
        extra["line_notification"] = _line_notification_body(brand, trigger.name, context)
    return OutboxMessage(
        brand_id=brand.id, idempotency_key=idempotency_key(brand.id, trigger.name, ref, channel),
        trigger=trigger.name, channel=channel, state=OutboxState.pending, customer_id=customer_id,
        order_id=order_id, shipment_id=shipment_id, recipient=address[:254], locale=context["locale"],
        subject=rendered.subject[:300], body_text=rendered.text, body_html=rendered.html,
        payload={**payload, **extra}, due_at=due_at, created_at=due_at,
    )


def enqueue(*, session: Session, brand: Brand, trigger: str, now: datetime, ref: str | None = None,
            order: Order | None = None, shipment: Shipment | None = None,
            extra: dict[str, Any] | None = None, due_at: datetime | None = None) -> OutboxMessage | None:
    """Write the message ``trigger`` asks for into the outbox (flush only); None when nothing was written.

    A message the data says is useless, or that no channel may carry, is still written, in state
    ``suppressed`` with the reason, so the merchant's log shows why the customer heard nothing.
    """
    settings = trigger_settings(brand, trigger)
    if not settings.enabled:
        return None
    if order is None and shipment is not None and shipment.order_id is not None:
        order = session.get(Order, shipment.order_id)
    customer = session.get(Customer, order.customer_id) if order and order.customer_id else None
    ref = ref or (f"s{shipment.id}" if shipment is not None else f"o{order.id if order else 0}")
    first = settings.channels[0] if settings.channels else Channel.email
    if any(key_exists(session, idempotency_key(brand.id, trigger, ref, c)) for c in settings.channels):
        return None
    addresses = recipients(brand=brand, trigger=trigger, customer=customer, order=order)
    eligible: list[str] = []
    refusal = "no address on any configured channel"
    for channel in settings.channels:
        address = addresses.get(str(channel))
        if not address:
            continue
        if not consent_allows(customer, channel, settings.purpose):
            refusal = f"no {settings.purpose} consent on {channel}"
            continue
        reason = suppression_reason(session=session, brand_id=brand.id, channel=channel, address=address,
                                    purpose=settings.purpose)
        if reason:
            refusal = f"suppressed on {channel}: {reason}"
            continue
        eligible.append(str(channel))
    locale = ctx.message_locale(brand, customer)
    built = ctx.build(session=session, brand=brand, trigger=settings, order=order, shipment=shipment,
                      customer=customer, locale=locale, extra=extra, now=now)
    payload = {"context": built.context, "variant": built.variant, "rules": list(built.rules),
               "purpose": settings.purpose, "essential": settings.essential, "ref": ref,
               "fallback": eligible[1:], "recipients": {c: addresses[c] for c in eligible}}
    ids = {"customer_id": customer.id if customer else None, "order_id": order.id if order else None,
           "shipment_id": shipment.id if shipment else None}
    when = due_at or now + timedelta(minutes=settings.delay_minutes)
    if not eligible or built.useless:
        channel = Channel(eligible[0]) if eligible else first
        row = OutboxMessage(brand_id=brand.id, idempotency_key=idempotency_key(brand.id, trigger, ref, channel),
                            trigger=trigger, channel=channel, state=OutboxState.suppressed,
                            recipient=addresses.get(str(channel), "")[:254], locale=locale, payload=payload,
                            error=built.useless or refusal, due_at=when, created_at=now, **ids)
    else:
        channel = Channel(eligible[0])
        row = build_row(brand=brand, trigger=settings, ref=ref, channel=channel, address=addresses[eligible[0]],
                        payload=payload, due_at=when, **ids)
        row.created_at = now
    if not _insert(session, row):
        return None
    return row


def enqueue_fallback(*, session: Session, message: OutboxMessage, now: datetime) -> OutboxMessage | None:
    """After a permanent failure, the same message on the next channel the customer can be reached on."""
    remaining = list(message.payload.get("fallback", []))
    brand = session.get(Brand, message.brand_id)
    if not remaining or brand is None:
        return None
    channel = remaining.pop(0)
    settings = trigger_settings(brand, message.trigger)
    payload = {**message.payload, "fallback": remaining, "fallback_from": message.idempotency_key}
    row = build_row(brand=brand, trigger=settings, ref=message.payload["ref"], channel=Channel(channel),
                    address=message.payload["recipients"][channel], payload=payload, due_at=now,
                    customer_id=message.customer_id, order_id=message.order_id, shipment_id=message.shipment_id)
    row.created_at = now
    return row if _insert(session, row) else None


#: Messages whose wording depends on the predicted day; refreshed while still waiting to be sent.
PREDICTION_TRIGGERS = ("shipped",)


def refresh_pending(*, session: Session, brand: Brand, shipment: Shipment, now: datetime) -> int:
    """Re-render waiting messages of ``shipment`` after its prediction changed (EDD may answer after
    the ``shipped`` message was written); returns how many were refreshed."""
    rows = session.exec(select(OutboxMessage).where(
        OutboxMessage.shipment_id == shipment.id, OutboxMessage.state == OutboxState.pending,
        OutboxMessage.trigger.in_(PREDICTION_TRIGGERS))).all()  # type: ignore[attr-defined]
    order = session.get(Order, shipment.order_id) if shipment.order_id else None
    customer = session.get(Customer, order.customer_id) if order and order.customer_id else None
    for row in rows:
        settings = trigger_settings(brand, row.trigger)
        built = ctx.build(session=session, brand=brand, trigger=settings, order=order, shipment=shipment,
                          customer=customer, locale=row.locale, now=now)
        fresh = build_row(brand=brand, trigger=settings, ref=row.payload["ref"], channel=row.channel,
                          address=row.recipient, payload={**row.payload, "context": built.context},
                          due_at=row.due_at, customer_id=row.customer_id, order_id=row.order_id,
                          shipment_id=row.shipment_id)
        row.subject, row.body_text, row.body_html, row.payload = (fresh.subject, fresh.body_text, fresh.body_html,
                                                                   fresh.payload)
        session.add(row)
    session.flush()
    return len(rows)
