"""Triggers: turn domain events and timers into outbox rows, in the caller's transaction.

:func:`enqueue` is the one entry point. It picks the first channel, in the brand's order of
preference, that has an address, consent for the purpose and no suppression; the others are kept
as fallbacks. The row's idempotency key ``brand:trigger:ref:channel`` is unique, and the insert
ignores a conflict, so a repeated event or timer run can never create a second message.

The row carries no wording: :func:`compose` builds the context (customer profile, segment rules,
recommendations) and renders the templates when the sender takes the row, so an event that causes
a message pays for a few cheap statements, and the customer reads the data as it is at sending
time (the latest predicted day, the stock of today).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from postpurchase import batched
from postpurchase.clock import as_utc
from postpurchase.db import is_postgres
from postpurchase.experiments import operations as experiments
from postpurchase.messaging import context as ctx
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.channels import configured
from postpurchase.messaging.config import TriggerSettings, brand_settings, trigger_settings
from postpurchase.messaging.line.flex import flex_message
from postpurchase.messaging.own_templates import own_sources
from postpurchase.messaging.reasons import Reason, Why, because, reason_columns
from postpurchase.messaging.render import render_message
from postpurchase.messaging.respect import consent_allows, suppression_reasons
from postpurchase.messaging.settings import MessagingSettings, SettingsSource, resolve
from postpurchase.models import (
    Brand,
    Channel,
    Customer,
    Order,
    OutboxMessage,
    OutboxState,
    Shipment,
)
from postpurchase.models.types import id_of, table_of
from postpurchase.signals import late_notices
from postpurchase.tokens import make_token

log = logging.getLogger(__name__)

#: What an experiment's variant changes at rendering time (kept in the row's payload).
EXPERIMENT_CONTENT = ("key", "subject", "template_variant")


def idempotency_key(brand_id: int, trigger: str, ref: str, channel: Channel | str) -> str:
    return f"{brand_id}:{trigger}:{ref}:{channel}"


def addresses_of(
    settings: Mapping[str, Any],
    customer: Customer | None,
    order: Order | None,
    *,
    line_notification: bool,
) -> dict[Channel, str | None]:
    """The address of the customer (or of the order, for a guest) on each channel, configured or
    not, with the brand's messaging ``settings``; the LINE notification one (a hashed phone
    number) only with ``line_notification``."""
    return contact_addresses(
        settings,
        email=(customer.email if customer else None) or (order.email if order else None),
        phone=(customer.phone if customer else None) or (order.phone if order else None),
        line_user_id=customer.line_user_id if customer else None,
        line_notification=line_notification,
    )


def contact_addresses(
    settings: Mapping[str, Any],
    *,
    email: str | None,
    phone: str | None,
    line_user_id: str | None,
    line_notification: bool,
) -> dict[Channel, str | None]:
    """:func:`addresses_of` from the contact details themselves (a customer not stored yet)."""
    return {
        Channel.email: email,
        Channel.sms: ctx.e164(phone),
        Channel.line: line_user_id,
        Channel.line_notification: ctx.hashed_phone(phone) if line_notification else None,
        Channel.webhook: settings["webhook_url"],
    }


def recipients(
    *,
    messaging: SettingsSource,
    brand: Brand,
    trigger: str,
    customer: Customer | None,
    order: Order | None,
) -> dict[str, str]:
    """Every channel this customer can be reached on for ``trigger``, with the address."""
    settings = brand_settings(brand)
    found = addresses_of(
        settings,
        customer,
        order,
        line_notification=trigger in settings["line_notification_templates"],
    )
    present = {channel: address for channel, address in found.items() if address}
    if not present:
        return {}
    config = resolve(messaging).config
    return {
        str(channel): address
        for channel, address in present.items()
        if configured(config, brand.slug, channel)
    }


def _unsubscribe_url(messaging: MessagingSettings, brand: Brand, channel: str, address: str) -> str:
    token = make_token(
        messaging.secret_key, "unsubscribe", {"b": brand.id, "ch": channel, "a": address}
    )
    return messaging.public_url(f"/{brand.slug}/unsubscribe/{token}")


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
    body["items"] = [
        {"itemKey": key, "content": str(value(path))}
        for key, path in spec.get("items", [])
        if value(path)
    ]
    body["buttons"] = [
        {"buttonKey": key, "url": value(path)}
        for key, path in spec.get("buttons", [])
        if value(path)
    ]
    return {"templateKey": spec["templateKey"], "body": body}


#: Columns of an outbox row written by :func:`_insert` (the others keep their defaults).
_ROW_COLUMNS = (
    "brand_id",
    "idempotency_key",
    "trigger",
    "channel",
    "state",
    "customer_id",
    "order_id",
    "shipment_id",
    "recipient",
    "locale",
    "subject",
    "body_text",
    "body_html",
    "payload",
    "attempts",
    "due_at",
    "created_at",
    "error",
)


def _insert(session: Session, values: dict[str, Any], *, new: bool = False) -> bool:
    """Insert unless the idempotency key exists; True when this call created the row.

    The answer comes from ``RETURNING``, not the row count: drivers differ in what they report for
    an insert that ``ON CONFLICT DO NOTHING`` skipped. A ``new`` message (about a parcel or order
    the event being applied created, so its key cannot exist) waits, in a batch of events, for one
    ``executemany`` with the batch's others.
    """
    postgres = is_postgres(session)
    if new and batched.insert_later(session, _insert_statement(postgres, returning=False), values):
        return True
    return session.execute(_insert_statement(postgres), values).first() is not None


@cache
def _insert_statement(postgres: bool, *, returning: bool = True) -> Any:
    """Built once per dialect: constructing an INSERT per message costs more than executing it."""
    table = table_of(OutboxMessage)
    insert = pg_insert if postgres else sqlite_insert
    statement = (
        insert(table)
        .values({name: bindparam(name, type_=table.c[name].type) for name in _ROW_COLUMNS})
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )
    return statement.returning(table.c.idempotency_key) if returning else statement


def existing_keys(session: Session, keys: list[str]) -> set[str]:
    return set(session.execute(_keys_statement(), {"keys": keys}).scalars())


@cache
def _keys_statement() -> Any:
    column = table_of(OutboxMessage).c.idempotency_key
    return select(column).where(column.in_(bindparam("keys", expanding=True)))


@dataclass(frozen=True)
class Composed:
    """A message's content as sent: subject, bodies and the payload with the context it was rendered
    with. ``useless`` says why the data no longer makes the message worth sending."""

    subject: str
    text: str
    html: str | None
    payload: dict[str, Any]
    useless: Reason | None = None


def render_content(
    *,
    messaging: MessagingSettings,
    brand: Brand,
    trigger: TriggerSettings,
    channel: Channel,
    address: str,
    payload: dict[str, Any],
    context: dict[str, Any],
    variant: str | None,
    own: Mapping[str, str] | None = None,
) -> Composed:
    """Render ``context`` for ``channel``; the payload gains the context and the channel's extras.

    ``own`` is the brand's own text of the trigger in the context's locale, per part."""
    context = dict(context)
    if channel in (Channel.email, Channel.sms, Channel.line):
        context["unsubscribe_url"] = _unsubscribe_url(messaging, brand, str(channel), address)
    rendered = render_message(
        templates=messaging.templates,
        brand_slug=brand.slug,
        template=trigger.template,
        variant=variant,
        locale=context["locale"],
        channel=channel,
        context=context,
        own=own,
    )
    extra: dict[str, Any] = {"variant": variant, "unsubscribe_url": context.get("unsubscribe_url")}
    if channel == Channel.line_notification:
        extra["line_notification"] = _line_notification_body(brand, trigger.name, context)
    if channel == Channel.line:
        extra["line_flex"] = flex_message(subject=rendered.subject, context=context)
    return Composed(rendered.subject[:300], rendered.text, rendered.html, {**payload, **extra})


def compose(
    *,
    session: Session,
    messaging: MessagingSettings,
    brand: Brand,
    message: OutboxMessage,
    now: datetime,
) -> Composed:
    """The content ``message`` has when it is sent: rendered from the data as it is now.

    Messages are written without content (cheap, inside the change that caused them) and rendered
    here, by the sender or for the merchant's log. A message rendered once keeps its content (a
    retry sends what the first attempt sent).
    """
    if message.body_text:
        return Composed(
            message.subject, message.body_text, message.body_html, dict(message.payload)
        )
    settings = trigger_settings(brand, message.trigger)
    order = session.get(Order, message.order_id) if message.order_id else None
    shipment = session.get(Shipment, message.shipment_id) if message.shipment_id else None
    customer = session.get(Customer, message.customer_id) if message.customer_id else None
    built = ctx.build(
        session=session,
        messaging=messaging,
        brand=brand,
        trigger=settings,
        order=order,
        shipment=shipment,
        customer=customer,
        locale=message.locale,
        extra=message.payload.get("extra"),
        now=now,
    )
    payload = {**message.payload, "context": built.context, "rules": list(built.rules)}
    tested = message.payload.get("experiment") or {}
    content = render_content(
        messaging=messaging,
        brand=brand,
        trigger=settings,
        channel=message.channel,
        address=message.recipient,
        payload=payload,
        context=built.context,
        variant=tested.get("template_variant") or built.variant,
        own=own_sources(
            session=session,
            brand_id=id_of(brand),
            trigger=message.trigger,
            locale=built.context["locale"],
        ),
    )
    if tested.get("subject"):
        content = replace(content, subject=tested["subject"][:300])
    return replace(content, useless=built.useless)


def row_values(
    *,
    brand: Brand,
    trigger: str,
    ref: str,
    channel: Channel,
    address: str,
    payload: dict[str, Any],
    due_at: datetime,
    created_at: datetime,
    customer_id: int | None,
    order_id: int | None,
    shipment_id: int | None,
    locale: str,
    state: OutboxState = OutboxState.pending,
    reason: Reason | None = None,
) -> dict[str, Any]:
    """The columns of an outbox row without content (rendered when sent, see :func:`compose`)."""
    return {
        "brand_id": brand.id,
        "idempotency_key": idempotency_key(id_of(brand), trigger, ref, channel),
        "trigger": trigger,
        "channel": channel,
        "state": state,
        "customer_id": customer_id,
        "order_id": order_id,
        "shipment_id": shipment_id,
        "recipient": address[:254],
        "locale": locale,
        "subject": "",
        "body_text": "",
        "body_html": None,
        "payload": payload,
        "attempts": 0,
        "due_at": due_at,
        "created_at": created_at,
        **reason_columns(reason),
    }


def new_row(**values: Any) -> OutboxMessage:
    """An outbox row object (not inserted) from :func:`row_values`' arguments."""
    return OutboxMessage(**row_values(**values))


def enqueue(
    *,
    session: Session,
    messaging: SettingsSource,
    brand: Brand,
    trigger: Trigger,
    now: datetime,
    ref: str | None = None,
    order: Order | None = None,
    shipment: Shipment | None = None,
    extra: dict[str, Any] | None = None,
    due_at: datetime | None = None,
    event_at: datetime | None = None,
    new: bool = False,
) -> str | None:
    """Write the message ``trigger`` asks for into the outbox; its idempotency key, or None when
    nothing was written.

    ``new``: the parcel (or, without one, the order) was created by the event being applied, so no
    message about it can exist yet and the lookup of the keys is skipped (a query per processed
    ``shipment.created``). Ids are never reused: parcels and orders are not deleted.

    ``event_at`` is when the event behind the message happened (the order was placed, the parcel
    scanned). An event older than the trigger's freshness limit (a backfill, a replay, a scan the
    carrier reported days late) writes the message as ``stale`` with the reason, unless the
    importer allowed late notices (:func:`postpurchase.signals.late_notices_allowed`).

    Only who, on which channel and why is decided here; the wording is rendered when the message is
    sent (:func:`compose`), from the data as it is then. A message the data says is useless, or
    that no channel may carry, is still written, in state ``suppressed`` with the reason, so the
    merchant's log shows why the customer heard nothing.
    """
    if shipment is not None and shipment.imported:
        return None  # history loaded after the fact: its customers are never written to
    settings = trigger_settings(brand, trigger)
    if not settings.enabled:
        return None
    if order is None and shipment is not None and shipment.order_id is not None:
        order = session.get(Order, shipment.order_id)
    customer = session.get(Customer, order.customer_id) if order and order.customer_id else None
    ref = ref or (f"s{shipment.id}" if shipment is not None else f"o{order.id if order else 0}")
    first = settings.channels[0] if settings.channels else Channel.email
    if not new and existing_keys(
        session, [idempotency_key(id_of(brand), trigger, ref, c) for c in settings.channels]
    ):
        return None
    addresses = recipients(
        messaging=messaging, brand=brand, trigger=trigger, customer=customer, order=order
    )
    suppressed = suppression_reasons(
        session=session, brand_id=id_of(brand), addresses=addresses, purpose=settings.purpose
    )
    eligible: list[str] = []
    refusal = because(Why.no_address)
    for channel in settings.channels:
        address = addresses.get(str(channel))
        if not address:
            continue
        if not consent_allows(
            customer, channel, settings.purpose, shipment_id=shipment.id if shipment else None
        ):
            refusal = because(Why.no_consent, purpose=settings.purpose, channel=channel)
            continue
        reason = suppressed.get(str(channel))
        if reason:
            refusal = because(Why.suppressed, channel=channel, cause=reason)
            continue
        eligible.append(str(channel))
    useless = ctx.useless_reason(
        session=session, brand=brand, trigger=trigger, order=order, shipment=shipment
    )
    payload: dict[str, Any] = {
        "purpose": settings.purpose,
        "essential": settings.essential,
        "ref": ref,
        "fallback": eligible[1:],
        "recipients": {c: addresses[c] for c in eligible},
    }
    if extra:
        payload["extra"] = extra
    if shipment is not None and shipment.predicted_date is not None:
        payload["predicted_date"] = (
            shipment.predicted_date.isoformat()
        )  # what "arriving tomorrow" is about
    late_ok = late_notices()
    if event_at is not None:
        payload["event_at"] = as_utc(event_at).isoformat()
        if late_ok:
            payload["late_ok"] = True
    backfilled = None if late_ok else too_old(settings, event_at, now)
    refused = bool(not eligible or useless)
    assignment = (
        None
        if refused or backfilled
        else experiments.expose(
            session=session,
            brand_id=id_of(brand),
            trigger=trigger,
            customer_id=customer.id if customer else None,
            order_id=order.id if order else None,
            now=now,
        )
    )
    if assignment is not None:
        payload["experiment"] = {
            "id": assignment.experiment_id,
            **{k: v for k, v in assignment.variant.items() if k in EXPERIMENT_CONTENT},
        }
        wanted = assignment.variant.get("channel")
        if wanted in eligible:
            eligible.remove(wanted)
            eligible.insert(0, wanted)
            payload["fallback"] = eligible[1:]
        if "delay_minutes" in assignment.variant:
            due_at = now + timedelta(minutes=assignment.variant["delay_minutes"])
        if assignment.holdout:
            useless, refused = because(Why.experiment_holdout, variant=assignment.key), True
    channel = Channel(eligible[0]) if eligible else first
    values = row_values(
        brand=brand,
        trigger=trigger,
        ref=ref,
        channel=channel,
        address=addresses.get(str(channel), ""),
        payload=payload,
        due_at=due_at or now + timedelta(minutes=settings.delay_minutes),
        created_at=now,
        customer_id=customer.id if customer else None,
        order_id=order.id if order else None,
        shipment_id=shipment.id if shipment else None,
        locale=ctx.message_locale(brand, customer),
        state=OutboxState.stale
        if backfilled
        else OutboxState.suppressed
        if refused
        else OutboxState.pending,
        reason=backfilled or ((useless or refusal) if refused else None),
    )
    return values["idempotency_key"] if _insert(session, values, new=new) else None


def too_old(settings: TriggerSettings, event_at: datetime | None, now: datetime) -> Reason | None:
    """Why an event that happened at ``event_at`` is too old for a ``settings`` message at ``now``."""
    if event_at is None or settings.stale_after is None:
        return None
    age = now - as_utc(event_at)
    if age <= settings.stale_after:
        return None
    return because(
        Why.backfill,
        hours=f"{age.total_seconds() / 3600:.0f}",
        limit=settings.stale_after.total_seconds() / 3600,
    )


def enqueue_document(
    *,
    session: Session,
    brand: Brand,
    trigger: str,
    ref: str,
    url: str,
    document: dict[str, Any],
    now: datetime,
    order_id: int | None = None,
) -> str | None:
    """A machine-to-machine webhook: ``document`` posted as it is to ``url`` on the webhook channel.

    No template, consent, quiet hours or frequency cap (a warehouse system is not a customer); the
    outbox still gives it the signature, retries with backoff and one delivery per ``ref``. Returns
    the idempotency key, or None when a row with this key exists already.
    """
    values = row_values(
        brand=brand,
        trigger=trigger,
        ref=ref,
        channel=Channel.webhook,
        address=url,
        payload={"system": True, "ref": ref, "document": document},
        due_at=now,
        created_at=now,
        customer_id=None,
        order_id=order_id,
        shipment_id=None,
        locale=ctx.message_locale(brand, None),
    )
    values.update(subject=trigger, body_text=json.dumps(document, ensure_ascii=False))
    return values["idempotency_key"] if _insert(session, values) else None


#: Payload keys that belong to one rendering (a fallback on another channel renders its own).
RENDERED_KEYS = (
    "context",
    "variant",
    "rules",
    "unsubscribe_url",
    "line_notification",
    "line_flex",
)


def enqueue_fallback(*, session: Session, message: OutboxMessage, now: datetime) -> str | None:
    """After a permanent failure, the same message on the next channel the customer can be reached on."""
    remaining = list(message.payload.get("fallback", []))
    brand = session.get(Brand, message.brand_id)
    if not remaining or brand is None:
        return None
    channel = remaining.pop(0)
    payload = {key: value for key, value in message.payload.items() if key not in RENDERED_KEYS}
    payload.update(fallback=remaining, fallback_from=message.idempotency_key)
    values = row_values(
        brand=brand,
        trigger=message.trigger,
        ref=message.payload["ref"],
        channel=Channel(channel),
        address=message.payload["recipients"][channel],
        payload=payload,
        due_at=now,
        created_at=now,
        customer_id=message.customer_id,
        order_id=message.order_id,
        shipment_id=message.shipment_id,
        locale=message.locale,
    )
    return values["idempotency_key"] if _insert(session, values) else None
