"""The brand's LINE official account as a channel customers talk to: its Messaging API webhook.

``POST /webhooks/line/<brand>`` carries events signed with the channel secret
(``X-Line-Signature``). A body that verifies is stored through the inbox (source ``line``) and
applied at once by :func:`apply_line_events`:

- ``follow`` / ``unfollow`` (unfollow is also what blocking the account sends) turn the linked
  customers' LINE consent on and off;
- a message holding an opt-in code (sent from the tracking page's LINE button) starts LINE's
  account link: the bot issues a link token and answers with a button to ``/<brand>/line/link``,
  which redirects to LINE with a nonce; the ``accountLink`` event carrying that nonce binds the
  LINE user to the order's customer (:func:`postpurchase.messaging.optin.subscribe`);
- "注文状況", "where is my order" or an order number is answered with the linked customer's parcels
  (rate-limited per user; nobody else's orders are ever named).

The database work happens in the inbox's transaction; the calls to LINE (link tokens, replies) are
made after it commits, from what the handler returned, each reply token once.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import quote, urlencode

from flask import Flask
from flask_babel import force_locale
from sqlmodel import Session, col, select

from postpurchase import inbox, throttle
from postpurchase.brands import get_brand
from postpurchase.db import session_scope
from postpurchase.i18n import gettext as _
from postpurchase.i18n import to_local
from postpurchase.inbox import Applied, jsonbody
from postpurchase.inbox.rejections import record_rejection
from postpurchase.inbox.signing import LINE_SIGNATURE_HEADER, Verdict, verify_line
from postpurchase.lookup import order_link_path
from postpurchase.messaging.channels.base import credential
from postpurchase.messaging.channels.line import LINE_API, LineBot
from postpurchase.messaging.context import message_locale
from postpurchase.messaging.optin import (
    OptinRefused,
    optin_token,
    read_nonce,
    read_optin,
    set_consent,
    subscribe,
)
from postpurchase.messaging.settings import MessagingSettings, messaging_settings
from postpurchase.models import (
    Brand,
    Channel,
    Customer,
    InboxEvent,
    Order,
    RejectionReason,
    Shipment,
)
from postpurchase.models.types import id_of
from postpurchase.readmodels import shipment_views
from postpurchase.web.customer_words import customer_words

log = logging.getLogger(__name__)

SOURCE = "line"
#: Where LINE's account-link dialog lives (the user's LINE app opens it).
ACCOUNT_LINK_URL = "https://access.line.me/dialog/bot/accountLink"
#: The text the tracking page's LINE button pre-fills: this prefix and the opt-in token.
LINK_CODE_PREFIX = "#link"
_LINK_CODE = re.compile(rf"{LINK_CODE_PREFIX}\s+(\S+)")
#: What asks for the status of one's orders (compared case-folded, inside the message).
STATUS_WORDS = ("注文状況", "配送状況", "where is my order", "order status")
#: An order number as customers type it: optional ``#``, letters, digits and dashes, one digit at least.
_ORDER_NUMBER = re.compile(r"#?(?=[A-Za-z0-9-]*[0-9])[A-Za-z0-9-]{3,32}")
#: Status answers per LINE user and window; one more message past it gets a "please wait".
REPLY_LIMIT = 3
REPLY_WINDOW = timedelta(minutes=1)
#: Orders a status answer lists at most (newest first).
STATUS_ORDERS = 3


class LineWebhookRefused(Exception):
    """A webhook request that is not taken; ``status`` and ``code`` are the HTTP answer."""

    def __init__(self, status: int, code: str, message: str, field_name: str = "body") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field_name


@dataclass(frozen=True)
class Reply:
    """Messages to answer an event with, once, after the inbox's transaction commits."""

    token: str
    messages: list[dict[str, Any]]


@dataclass(frozen=True)
class LinkOffer:
    """An account link to offer: the link token needs a call to LINE, made after the commit."""

    reply_token: str
    user_id: str
    optin: str
    locale: str


@dataclass
class LineApplied(Applied):
    replies: list[Reply] = field(default_factory=list)
    offers: list[LinkOffer] = field(default_factory=list)


@dataclass(frozen=True)
class LineOutcome:
    inbox_id: int
    duplicate: bool = False
    replies: int = 0


def line_bot(config: Mapping[str, object], brand_slug: str) -> LineBot | None:
    """The brand's bot client; None without a channel access token."""
    token = credential(config, brand_slug, "LINE_CHANNEL_TOKEN")
    if not token:
        return None
    base = credential(config, brand_slug, "LINE_BASE_URL") or LINE_API
    return LineBot(channel_token=token, base_url=base)


def add_friend_url(config: Mapping[str, object], brand_slug: str, text: str) -> str | None:
    """LINE's link that opens a chat with the account, ``text`` typed in; None when not set up."""
    basic_id = credential(config, brand_slug, "LINE_BASIC_ID")
    secret = credential(config, brand_slug, "LINE_CHANNEL_SECRET")
    if not (basic_id and secret and credential(config, brand_slug, "LINE_CHANNEL_TOKEN")):
        return None
    return f"https://line.me/R/oaMessage/{quote(basic_id)}/?{quote(text)}"


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text[:5000]}


def _linked(session: Session, brand_id: int, user_id: str) -> list[Customer]:
    return list(
        session.exec(
            select(Customer)
            .where(Customer.brand_id == brand_id, Customer.line_user_id == user_id)
            .order_by(col(Customer.id))
        )
    )


def _follow(
    session: Session, brand: Brand, user_id: str, *, following: bool, now: datetime
) -> list[Customer]:
    """Turn the LINE consent of the customers linked to ``user_id`` on or off."""
    customers = _linked(session, id_of(brand), user_id)
    for customer in customers:
        previous = (customer.consent or {}).get(str(Channel.line))
        previous = previous if isinstance(previous, dict) else {}
        entry = {
            **previous,
            "transactional": following,
            "marketing": following and bool(previous.get("marketing")),
            "source": "line_follow" if following else "line_unfollow",
            "at": now.isoformat(),
        }
        set_consent(
            session=session,
            customer=customer,
            channel=Channel.line,
            entry=entry,
            actor=f"line:{user_id}",
        )
    session.flush()
    return customers


def _status_lines(
    session: Session,
    brand: Brand,
    orders: list[Order],
    messaging: MessagingSettings,
    locale: str,
    now: datetime,
) -> list[str]:
    """One paragraph per order: its number, each parcel's stage and headline, its tracking page."""
    today = to_local(now, brand.timezone).date()
    paragraphs = []
    for order in orders:
        shipments = list(
            session.exec(
                select(Shipment).where(Shipment.order_id == order.id).order_by(col(Shipment.id))
            )
        )
        lines = [_("Order %(number)s", number=order.number)]
        for view in shipment_views(session=session, shipments=shipments, now=now):
            if view.customer is None:
                continue
            words = customer_words(
                view.customer,
                today=today,
                locale=locale,
                timezone=brand.timezone,
                carrier=view.links.carrier_name,
            )
            lines.append(f"・{words.label}: {words.headline}")
        if not shipments:
            lines.append(f"・{_('Preparing to ship')}")
        lines.append(
            messaging.public_url(
                order_link_path(messaging.secret_key, brand.slug, id_of(brand), id_of(order))
            )
        )
        paragraphs.append("\n".join(lines))
    return paragraphs


def _asks_status(text: str) -> bool:
    return any(word in text.casefold() for word in STATUS_WORDS)


def _status_answer(
    session: Session,
    brand: Brand,
    customers: list[Customer],
    text: str,
    messaging: MessagingSettings,
    locale: str,
    now: datetime,
) -> str:
    """The answer to a status question, or to an order number alone (that order, if theirs)."""
    if not customers:
        return _(
            "Your LINE account is not linked to any order yet. Open your order's tracking page "
            "and choose “Get delivery updates on LINE”."
        )
    query = select(Order).where(
        Order.brand_id == id_of(brand), col(Order.customer_id).in_([c.id for c in customers])
    )
    if not _asks_status(text):
        wanted = text.strip().lstrip("#")
        query = query.where(col(Order.number).in_([wanted, f"#{wanted}"]))
    orders = list(session.exec(query.order_by(col(Order.placed_at).desc()).limit(STATUS_ORDERS)))
    if not orders:
        return _("We could not find that order among yours.")
    return "\n\n".join(_status_lines(session, brand, orders, messaging, locale, now))


def _throttled(session: Session, brand: Brand, user_id: str, now: datetime) -> str | None:
    """None while the user may ask; the one "please wait" answer just past the limit; else ""."""
    count = throttle.hit(
        session=session, key=f"line-reply:{brand.id}:{user_id}", now=now, window=REPLY_WINDOW
    )
    if count <= REPLY_LIMIT:
        return None
    return _("Please wait a minute before asking again.") if count == REPLY_LIMIT + 1 else ""


def apply_line_events(
    app: Flask, *, session: Session, event: InboxEvent, payload: Any, now: datetime
) -> LineApplied:
    """Apply one stored LINE webhook body (the inbox's ``line`` handler)."""
    applied = LineApplied()
    brand = session.get(Brand, event.brand_id) if event.brand_id is not None else None
    if brand is None or not isinstance(payload, dict):
        return applied
    messaging = messaging_settings(app)
    for item in payload.get("events") or []:
        source = item.get("source") or {}
        user_id = source.get("userId")
        if source.get("type") != "user" or not isinstance(user_id, str):
            continue  # groups and rooms are not customers
        customers = _linked(session, id_of(brand), user_id)
        locale = message_locale(brand, customers[0] if customers else None)
        with force_locale(locale):
            reply = _apply_one(app, session, brand, messaging, item, user_id, locale, now, applied)
        token = item.get("replyToken")
        if reply and isinstance(token, str):
            applied.replies.append(Reply(token, [_text(reply)]))
    return applied


def _apply_one(
    app: Flask,
    session: Session,
    brand: Brand,
    messaging: MessagingSettings,
    item: dict[str, Any],
    user_id: str,
    locale: str,
    now: datetime,
    applied: LineApplied,
) -> str | None:
    """Apply one event; the text to reply with, if any."""
    kind = item.get("type")
    if kind in ("follow", "unfollow"):
        linked = _follow(session, brand, user_id, following=kind == "follow", now=now)
        if kind == "unfollow":
            return None
        if linked:
            return _("Thank you for adding us. We will send your delivery updates here.")
        return _(
            "Thank you for adding us. To get delivery updates here, open your order's tracking "
            "page and choose “Get delivery updates on LINE”."
        )
    if kind == "accountLink":
        link = item.get("link") or {}
        optin = read_nonce(messaging.secret_key, str(link.get("nonce", "")), id_of(brand), now=now)
        if link.get("result") != "ok" or optin is None:
            return _("Linking did not work. Please start again from your order's tracking page.")
        try:
            subscribe(
                session=session,
                brand_id=id_of(brand),
                order_id=optin["o"],
                channel=Channel.line,
                everything=optin["all"],
                source="line_account_link",
                now=now,
                address=user_id,
            )
        except OptinRefused:
            return _("Linking did not work. Please start again from your order's tracking page.")
        return _("Your LINE account is linked. We will send your delivery updates here.")
    message = item.get("message") or {}
    if kind != "message" or message.get("type") != "text":
        return None
    text = str(message.get("text", ""))
    code = _LINK_CODE.search(text)
    if code is not None:
        if read_optin(messaging.secret_key, code.group(1), id_of(brand)) is None:
            return _("This code is not valid. Please start again from your order's tracking page.")
        token = item.get("replyToken")
        if isinstance(token, str):
            applied.offers.append(LinkOffer(token, user_id, code.group(1), locale))
        return None
    customers = [
        c
        for c in _linked(session, id_of(brand), user_id)
        if ((c.consent or {}).get(str(Channel.line)) or {}).get("transactional", True)
    ]
    if not _asks_status(text) and not _ORDER_NUMBER.fullmatch(text.strip()):
        return None
    wait = _throttled(session, brand, user_id, now)
    if wait is not None:
        return wait or None
    return _status_answer(session, brand, customers, text, messaging, locale, now)


def link_page_url(messaging: MessagingSettings, brand: Brand, link_token: str, optin: str) -> str:
    """The brand's page that starts the account link (it redirects to LINE with a nonce)."""
    query = urlencode({"linkToken": link_token, "optin": optin})
    return messaging.public_url(f"/{brand.slug}/line/link?{query}")


def account_link_url(link_token: str, nonce: str) -> str:
    return f"{ACCOUNT_LINK_URL}?{urlencode({'linkToken': link_token, 'nonce': nonce})}"


def answer(app: Flask, brand: Brand, applied: LineApplied) -> int:
    """Make the calls to LINE that ``applied`` asks for (after its transaction committed); the
    number of replies LINE accepted. Failures are logged: a reply token cannot be tried again."""
    bot = line_bot(app.config, brand.slug)
    if bot is None:
        return 0
    messaging = messaging_settings(app)
    replies = list(applied.replies)
    for offer in applied.offers:
        link_token = bot.link_token(offer.user_id)
        with app.app_context(), force_locale(offer.locale):
            if link_token is None:
                replies.append(
                    Reply(offer.reply_token, [_text(_("Linking is not available now."))])
                )
                continue
            label = _("Link your account")
            replies.append(
                Reply(
                    offer.reply_token,
                    [
                        {
                            "type": "template",
                            "altText": label,
                            "template": {
                                "type": "buttons",
                                "text": _("Tap to receive this order's delivery updates on LINE."),
                                "actions": [
                                    {
                                        "type": "uri",
                                        "label": label[:20],
                                        "uri": link_page_url(
                                            messaging, brand, link_token, offer.optin
                                        ),
                                    }
                                ],
                            },
                        }
                    ],
                )
            )
    sent = 0
    for reply in replies:
        outcome = bot.reply(reply.token, reply.messages)
        if outcome.error:
            log.warning("LINE reply for %s failed: %s", brand.slug, outcome.error)
        else:
            sent += 1
    return sent


def receive_line_webhook(
    app: Flask,
    *,
    brand_slug: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    remote_addr: str = "",
) -> LineOutcome:
    """Verify, store, apply and answer one LINE webhook request (the operation behind the view).

    Raises :class:`LineWebhookRefused` before anything is stored.
    """
    with session_scope(app) as session:
        brand = get_brand(session=session, slug=brand_slug)
    secret = credential(app.config, brand_slug, "LINE_CHANNEL_SECRET") if brand else None
    if brand is None or not secret:
        raise LineWebhookRefused(404, "unknown_brand", f"No brand {brand_slug!r} on LINE.", "url")
    verdict = verify_line(headers.get(LINE_SIGNATURE_HEADER), secret, body)
    if verdict != Verdict.ok:
        with session_scope(app) as session:
            record_rejection(
                session=session,
                source=SOURCE,
                brand_id=brand.id,
                now=now,
                reason=RejectionReason.missing_signature
                if verdict == Verdict.missing
                else RejectionReason.invalid_signature,
                remote_addr=remote_addr,
                body_bytes=len(body),
            )
        message = f"'{LINE_SIGNATURE_HEADER}' does not match the body and the channel secret."
        raise LineWebhookRefused(
            401, "invalid_signature", message, f"header.{LINE_SIGNATURE_HEADER}"
        )
    if not jsonbody.depth_within(body):
        raise LineWebhookRefused(400, "too_deep", "The body nests too deeply.")
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise LineWebhookRefused(400, "invalid_body", "The body must be an object with 'events'.")
    received = inbox.accept(
        app,
        brand_id=brand.id,
        source=SOURCE,
        event_type="line",
        external_id="sha256:" + inbox.body_digest(body),
        raw_body=body,
        now=now,
        headers={LINE_SIGNATURE_HEADER: headers.get(LINE_SIGNATURE_HEADER, "")},
    )
    if received.duplicate:
        return LineOutcome(received.id, duplicate=True)
    processed = inbox.process_now(app, received.id, now=now)
    if processed is None or not isinstance(processed.applied, LineApplied):
        return LineOutcome(received.id)  # kept; the inbox sweep applies it (without replies)
    return LineOutcome(received.id, replies=answer(app, brand, processed.applied))


def line_event_handler(app: Flask) -> Any:
    """The inbox handler for ``line`` events of ``app``."""
    return partial(apply_line_events, app)


def link_code(secret_key: str, brand_id: int, order_id: int, *, everything: bool) -> str:
    """The message the tracking page's LINE button has the customer send to the account."""
    return (
        f"{LINK_CODE_PREFIX} {optin_token(secret_key, brand_id, order_id, everything=everything)}"
    )
