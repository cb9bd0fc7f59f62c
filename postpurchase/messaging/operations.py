"""Operations behind the messaging pages and CLI: log, events, unsubscribe, feedback, preview, test send,
the local mailbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import TemplateError
from sqlalchemy import func
from sqlmodel import Session, col, select

from postpurchase import signals
from postpurchase.clock import utcnow
from postpurchase.i18n import format_day, format_money, time_slot_label
from postpurchase.messaging import context as ctx
from postpurchase.messaging import sink
from postpurchase.messaging.config import trigger_settings
from postpurchase.messaging.own_templates import own_sources
from postpurchase.messaging.render import Rendered, render_message
from postpurchase.messaging.respect import forget_preloaded_suppressions
from postpurchase.messaging.settings import MessagingSettings
from postpurchase.messaging.triggers import (
    Composed,
    compose,
    existing_keys,
    idempotency_key,
    new_row,
    render_content,
)
from postpurchase.models import (
    Brand,
    Channel,
    Customer,
    Feedback,
    MessageEvent,
    Order,
    OutboxMessage,
    OutboxState,
    Shipment,
    Suppression,
)
from postpurchase.models.types import id_of
from postpurchase.pagination import Page, SortKey, paginate


@dataclass(frozen=True)
class LogEntry:
    message: OutboxMessage
    opens: int
    clicks: int
    #: The subject as sent, or as it would be sent now (messages are rendered when sent).
    subject: str = ""


#: States of messages that may have no stored content yet (the others show what was stored).
UNSENT = (OutboxState.pending, OutboxState.held, OutboxState.sending, OutboxState.unknown)


def content_of(
    *,
    session: Session,
    messaging: MessagingSettings,
    message: OutboxMessage,
    now: datetime,
    brand: Brand | None = None,
) -> Composed:
    """What ``message`` says: the stored content once sent, rendered on demand before that."""
    brand = brand or session.get(Brand, message.brand_id)
    assert brand is not None
    return compose(session=session, messaging=messaging, brand=brand, message=message, now=now)


def _filtered(
    *,
    brand_id: int,
    order_number: str | None = None,
    customer: str | None = None,
    trigger: str | None = None,
    state: OutboxState | str | None = None,
    since: datetime | None = None,
) -> Any:
    """The brand's messages matching the message log's filters (a select statement)."""
    stmt = select(OutboxMessage).where(OutboxMessage.brand_id == brand_id)
    if order_number:
        stmt = stmt.join(Order, col(Order.id) == OutboxMessage.order_id).where(
            Order.number == order_number
        )
    if customer:
        ids = select(Customer.id).where(
            Customer.brand_id == brand_id,
            (Customer.email == customer) | (Customer.phone == customer),
        )
        stmt = stmt.where(
            col(OutboxMessage.customer_id).in_(ids) | (OutboxMessage.recipient == customer)
        )
    if trigger:
        stmt = stmt.where(OutboxMessage.trigger == trigger)
    if state:
        stmt = stmt.where(OutboxMessage.state == OutboxState(state))
    if since is not None:
        stmt = stmt.where(OutboxMessage.created_at >= since)
    return stmt


def message_log(
    *,
    session: Session,
    messaging: MessagingSettings,
    brand_id: int,
    order_number: str | None = None,
    customer: str | None = None,
    trigger: str | None = None,
    state: OutboxState | str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[LogEntry]:
    """The brand's messages, newest first, filtered by order number, customer email/phone, trigger,
    state; ``limit`` at a time from ``cursor`` (:mod:`postpurchase.pagination`)."""
    stmt = _filtered(
        brand_id=brand_id,
        order_number=order_number,
        customer=customer,
        trigger=trigger,
        state=state,
    )
    page = paginate(
        session,
        stmt,
        sort=SortKey(col(OutboxMessage.created_at), col(OutboxMessage.id)),
        cursor=cursor,
        limit=limit,
        key=lambda row: (row.created_at, row.id),
    )
    rows: list[OutboxMessage] = page.rows
    counts = event_counts(session=session, message_ids=[r.id for r in rows if r.id is not None])
    brand = session.get(Brand, brand_id)
    now = utcnow()
    return Page(
        [
            LogEntry(
                r,
                counts.get((id_of(r), "open"), 0),
                counts.get((id_of(r), "click"), 0),
                _subject(session, messaging, r, now, brand) if r.state in UNSENT else r.subject,
            )
            for r in rows
        ],
        page.next_cursor,
    )


def event_counts(*, session: Session, message_ids: list[int]) -> dict[tuple[int, str], int]:
    """How many of each event (``open``, ``click``, ...) each message had: ``{(id, kind): n}``."""
    counts: dict[tuple[int, str], int] = {}
    if message_ids:
        for message_id, kind, count in session.exec(
            select(MessageEvent.message_id, MessageEvent.kind, func.count(col(MessageEvent.id)))
            .where(col(MessageEvent.message_id).in_(message_ids))
            .group_by(col(MessageEvent.message_id), col(MessageEvent.kind))
        ).all():
            counts[(message_id, kind)] = count
    return counts


def _subject(
    session: Session,
    messaging: MessagingSettings,
    message: OutboxMessage,
    now: datetime,
    brand: Brand | None,
) -> str:
    try:
        return content_of(
            session=session, messaging=messaging, message=message, now=now, brand=brand
        ).subject
    except (
        TemplateError
    ) as exc:  # the sender will fail the message with the reason; the log still shows
        return f"({type(exc).__name__}: {exc})"


def state_counts(*, session: Session, brand_id: int) -> dict[str, int]:
    rows = session.exec(
        select(OutboxMessage.state, func.count(col(OutboxMessage.id)))
        .where(OutboxMessage.brand_id == brand_id)
        .group_by(OutboxMessage.state)
    ).all()
    return {str(state): count for state, count in rows}


#: States a merchant may send again by hand. ``unknown`` messages may have arrived already: sending
#: one again can give the customer a second copy, so it is only ever done by naming that state.
RETRYABLE = (OutboxState.failed, OutboxState.unknown)


@dataclass(frozen=True)
class RetryResult:
    #: Messages put back in the queue (or that would be, in a dry run).
    retried: list[int]
    #: Failed messages left alone because the next channel already carried them (fallback).
    covered: list[int]


class NotRetryable(ValueError):
    """The message is not in a state that may be sent again by hand."""


def retry_messages(
    *,
    session: Session,
    brand_id: int,
    state: OutboxState,
    now: datetime,
    since: datetime | None = None,
    order_number: str | None = None,
    customer: str | None = None,
    trigger: str | None = None,
    dry_run: bool = False,
) -> RetryResult:
    """Put the brand's ``failed`` (or ``unknown``) messages back in the queue, due now.

    The sender checks them again like new ones (consent, suppression, staleness, quiet hours), with
    a fresh retry horizon. A failed message whose fallback on the next channel was written is left
    alone: the customer got (or is getting) it there.
    """
    if state not in RETRYABLE:
        raise NotRetryable(f"only {' or '.join(RETRYABLE)} messages can be sent again, not {state}")
    stmt = _filtered(
        brand_id=brand_id,
        order_number=order_number,
        customer=customer,
        trigger=trigger,
        since=since,
        state=state,
    )
    return _retry(session, list(session.exec(stmt.order_by(OutboxMessage.id)).all()), now, dry_run)


def retry_message(
    *, session: Session, brand_id: int, message_id: int, now: datetime
) -> RetryResult:
    """:func:`retry_messages` for one message of the brand: :class:`LookupError` if it is not the
    brand's, :class:`NotRetryable` unless it is ``failed`` or ``unknown``."""
    message = session.get(OutboxMessage, message_id)
    if message is None or message.brand_id != brand_id:
        raise LookupError(f"no message {message_id}")
    if message.state not in RETRYABLE:
        raise NotRetryable(
            f"message {message_id} is {message.state}; only failed or unknown ones can be sent again"
        )
    return _retry(session, [message], now, dry_run=False)


def _retry(
    session: Session, rows: list[OutboxMessage], now: datetime, dry_run: bool
) -> RetryResult:
    fallbacks = {
        row.id: idempotency_key(
            row.brand_id, row.trigger, row.payload["ref"], row.payload["fallback"][0]
        )
        for row in rows
        if row.state == OutboxState.failed and row.payload.get("fallback")
    }
    covered = existing_keys(session, list(fallbacks.values())) if fallbacks else set()
    result = RetryResult(retried=[], covered=[])
    for row in rows:
        if fallbacks.get(row.id) in covered:
            result.covered.append(id_of(row))
            continue
        result.retried.append(id_of(row))
        if not dry_run:
            row.state, row.due_at, row.error, row.reason = OutboxState.pending, now, None, None
            row.first_tried_at = row.handed_over_at = None
            session.add(row)
    session.flush()
    return result


def record_event(
    *, session: Session, message_id: int, kind: str, url: str | None = None, now: datetime
) -> MessageEvent | None:
    message = session.get(OutboxMessage, message_id)
    if message is None:
        return None
    event = MessageEvent(
        brand_id=message.brand_id, message_id=message_id, kind=kind, url=url, occurred_at=now
    )
    session.add(event)
    session.flush()
    signals.message_engaged.send(
        message.brand_id, session=session, customer_id=message.customer_id, now=now
    )
    return event


def unsubscribe(
    *, session: Session, brand_id: int, channel: str, address: str, purpose: str = "marketing"
) -> None:
    """Stop ``purpose`` messages (``marketing`` or ``all``) to ``address`` on ``channel``; repeat-safe."""
    exists = session.exec(
        select(Suppression.id).where(
            Suppression.brand_id == brand_id,
            Suppression.channel == Channel(channel),
            Suppression.address == address,
            Suppression.purpose == purpose,
        )
    ).first()
    if exists is None:
        session.add(
            Suppression(
                brand_id=brand_id,
                channel=Channel(channel),
                address=address,
                purpose=purpose,
                reason="unsubscribe",
            )
        )
        forget_preloaded_suppressions(session)
        session.flush()


def save_feedback(
    *, session: Session, data: dict[str, Any], score: int, comment: str | None, now: datetime
) -> Feedback:
    """Store (or update) the customer's answer for the order the token names.

    One answer per order: a later click on another score in the email changes it. ``comment`` None
    (a score link was clicked) keeps the comment the customer wrote before."""
    if not 0 <= score <= 10:
        raise ValueError("score must be between 0 and 10")
    feedback = session.exec(
        select(Feedback).where(Feedback.brand_id == data["b"], Feedback.order_id == data["o"])
    ).first()
    if feedback is None:
        feedback = Feedback(
            brand_id=data["b"],
            order_id=data["o"],
            shipment_id=data.get("s"),
            customer_id=data.get("c"),
            created_at=now,
        )
        session.add(feedback)
    feedback.nps_score = score
    if comment is not None:
        feedback.comment = comment.strip()[:2000] or None
    session.flush()
    signals.feedback_saved.send(
        feedback.brand_id,
        session=session,
        order_id=feedback.order_id,
        shipment_id=feedback.shipment_id,
        now=now,
    )
    return feedback


def sample_context(
    brand: Brand, trigger: str, locale: str, today: date, base_url: str = "https://example.com"
) -> dict[str, Any]:
    """Believable data for previews and test sends (no customer's data involved); links point at
    ``base_url`` the way real ones point at this service."""
    day = today + timedelta(days=1)
    base = f"{base_url.rstrip('/')}/{brand.slug}"
    url = "https://carrier.example/track/123456789012"
    return {
        "trigger": trigger,
        "locale": locale,
        "test": True,
        "marketing": trigger_settings(brand, trigger).purpose == "marketing",
        "brand": ctx.brand_context(brand, base_url),
        "sender": ctx.sender_context(brand),
        "customer_name": ctx.display_name(
            "山田 花子" if locale == "ja" else "Hanako Yamada", locale
        ),
        "order": {
            "number": "#1001",
            "total": format_money(4980, "JPY", locale),
            "placed_day": format_day(today, locale),
            "items": [{"name": "Drip coffee set", "quantity": 1, "variant": None}],
        },
        "shipment": {
            "carrier_name": "Carrier",
            "tracking_number": "123456789012",
            "tracking_url": url,
            "redelivery_url": "https://carrier.example/redelivery/123456789012",
            "predicted_day": format_day(day, locale),
            "predicted_date": day.isoformat(),
            "window": None,
            "promised_day": format_day(today, locale),
            "time_slot": time_slot_label("morning", locale),
            "delivery_option": "door",
            "pickup_location": "Store",
            "pickup_until": format_day(day + timedelta(days=6), locale),
            "pickup_address": None,
            "redelivery_takes_number": True,
            "next_slots": [
                {
                    "date": slot_day.isoformat(),
                    "slot": slot,
                    "label": (" " if locale == "ja" else ", ").join(
                        (format_day(slot_day, locale), time_slot_label(slot, locale))
                    ),
                }
                for slot_day, slot in ((today, "19-21"), (day, "morning"))
            ],
            "date_note": None,
            "status": "in_transit",
            "stage": "in_transit",
            "expected_day": format_day(day, locale),
            "duties_terms": "ddu",
        },
        "tracking_page_url": f"{base}/track/sample",
        "returns_url": f"{base}/returns/order/sample",
        "care": [
            {
                "product": "Drip coffee set",
                "title": "Before first use",
                "body": "Rinse the dripper.",
                "video_url": "https://shop.example/video",
            }
        ],
        "recommendations": [
            {"sku": "FILTER", "name": "Paper filters", "url": None, "variant": None}
        ],
        "blocks": [],
        "feedback": ctx.feedback_links(f"{base}/feedback/sample"),
        "replenishment": {
            "runout_day": format_day(day, locale),
            "items": [{"name": "Coffee beans", "sku": "BEANS"}],
            "reorder_url": "https://shop.example/reorder",
        },
        "return": {
            "rma_number": "RMA-1",
            "state": "refunded",
            "resolution": "refund",
            "refund": format_money(4980, "JPY", locale),
            "credit": None,
            "status_url": f"{base}/returns/sample",
        },
    }


class UnknownShipment(LookupError):
    """No shipment with that id for that brand (another brand's parcel is unknown too)."""


def preview(
    *,
    session: Session,
    messaging: MessagingSettings,
    brand: Brand,
    trigger: str,
    locale: str,
    channel: Channel,
    shipment_id: int | None = None,
    today: date,
    now: datetime,
) -> Rendered:
    """Render ``trigger`` with a real parcel's data (``shipment_id`` of this brand) or sample data.

    Raises :class:`UnknownShipment` when ``shipment_id`` is not one of the brand's parcels."""
    settings = trigger_settings(brand, trigger)
    shipment = session.get(Shipment, shipment_id) if shipment_id else None
    if shipment_id and (shipment is None or shipment.brand_id != brand.id):
        raise UnknownShipment(shipment_id)
    if shipment is not None:
        order = session.get(Order, shipment.order_id) if shipment.order_id else None
        customer = session.get(Customer, order.customer_id) if order and order.customer_id else None
        built = ctx.build(
            session=session,
            messaging=messaging,
            brand=brand,
            trigger=settings,
            order=order,
            shipment=shipment,
            customer=customer,
            locale=locale,
            now=now,
        )
        context, variant = built.context, built.variant
    else:
        context = sample_context(brand, trigger, locale, today, messaging.base_url)
        variant = None
    return render_message(
        templates=messaging.templates,
        brand_slug=brand.slug,
        template=settings.template,
        variant=variant,
        locale=locale,
        channel=channel,
        context=context,
        own=own_sources(session=session, brand_id=id_of(brand), trigger=trigger, locale=locale),
    )


def mailbox(
    *, session: Session, brand_id: int, folder: Path, limit: int = 200
) -> list[sink.Caught]:
    """What the local sink caught of the brand's email: only messages this brand's outbox sent.

    A message belongs to the brand when its Message-ID is the provider id the sender recorded for one
    of the brand's outbox rows; anything else in the folder (other brands, stray mail) stays hidden.
    """
    found = sink.message_ids(folder)
    owned: set[str] = set()
    for start in range(0, len(found), 500):
        owned.update(
            provider_id
            for provider_id in session.exec(
                select(col(OutboxMessage.provider_id)).where(
                    OutboxMessage.brand_id == brand_id,
                    OutboxMessage.channel == Channel.email,
                    col(OutboxMessage.provider_id).in_(found[start : start + 500]),
                )
            ).all()
            if provider_id is not None  # never: each one matched a found id
        )
    return sink.list_messages(folder, limit, only=owned)


def queue_test_message(
    *,
    session: Session,
    messaging: MessagingSettings,
    brand: Brand,
    trigger: str,
    channel: Channel,
    recipient: str,
    locale: str,
    now: datetime,
) -> OutboxMessage:
    """A sample message to ``recipient``, sent by the next sender run (past quiet hours and caps)."""
    settings = trigger_settings(brand, trigger)
    payload: dict[str, Any] = {
        "context": sample_context(brand, trigger, locale, now.date(), messaging.base_url),
        "variant": None,
        "rules": [],
        "purpose": "transactional",
        "essential": True,
        "ref": f"test.{uuid.uuid4().hex[:12]}",
        "fallback": [],
        "recipients": {str(channel): recipient},
        "test": True,
    }
    row = new_row(
        brand=brand,
        trigger=trigger,
        ref=payload["ref"],
        channel=channel,
        address=recipient,
        payload=payload,
        due_at=now,
        created_at=now,
        customer_id=None,
        order_id=None,
        shipment_id=None,
        locale=locale,
    )
    content = render_content(
        messaging=messaging,
        brand=brand,
        trigger=settings,
        channel=channel,
        address=recipient,
        payload=payload,
        context=payload["context"],
        variant=None,
        own=own_sources(session=session, brand_id=id_of(brand), trigger=trigger, locale=locale),
    )
    row.subject, row.body_text, row.body_html, row.payload = (
        content.subject,
        content.text,
        content.html,
        content.payload,
    )
    session.add(row)
    session.flush()
    return row
