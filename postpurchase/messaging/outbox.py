"""The sender: claim due outbox rows, apply the respect rules, send, record.

Short steps, each its own transaction, so neither rendering nor a slow provider holds a database lock:

1. :func:`claim` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) takes due
   rows, checks consent, suppression, staleness, quiet hours and caps, and marks the rest
   ``sending`` with a lease (``claimed_at``).
2. :func:`prepare` renders them (rows are written without wording; see ``triggers.compose``),
   reading only.
3. :func:`deliver` hands envelopes to the channels (a small thread pool; one SMTP connection per
   worker carries many messages). Before each slice of ``MESSAGES_HANDOVER_SLICE`` (default 10)
   envelopes goes to a channel, :func:`mark_handed_over` commits ``handed_over_at`` on their rows.
4. :func:`record` stores the content sent, provider ids, schedules retries with backoff, suppresses
   bounced addresses and falls back to the next channel after a permanent failure.

Every step's transaction is re-run after a transient database error ("database is locked", a
serialization failure; :func:`postpurchase.db.retry_transient`), so a busy database delays the
sender instead of stopping it with rows half done.

A crash or database error before a row's handover leaves it ``sending`` without ``handed_over_at``:
nothing reached the channel, so when its lease expires it is simply claimed again. A crash after
the handover started (between 3 and 4) leaves it ``sending`` with ``handed_over_at``: rows on a
channel whose provider drops duplicates (LINE push retry key, webhook Idempotency-Key, a
Message-ID-deduplicating SMTP server) are sent again under the same key; the others become
``unknown`` and show in the log (at most one slice per worker can be marked without having been
sent yet).

Temporary failures are retried with exponential backoff (``MESSAGES_RETRY_BASE_SECONDS``, doubling,
at most ``MESSAGES_RETRY_MAX_SECONDS``) until ``retry_max_hours`` (brand setting, default 24) after
the first attempt; then the row is ``failed``. A message whose trigger's ``stale_after_hours`` has
passed since it was due is never sent late: it becomes ``stale``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from flask import Flask
from sqlalchemy import and_, func, or_, update
from sqlmodel import Session, col, select

from postpurchase import counters
from postpurchase.clock import as_utc, utcnow
from postpurchase.db import (
    claim_scope,
    get_db,
    is_postgres,
    is_transient_db_error,
    retry_transient,
    session_scope,
)
from postpurchase.messaging import respect, segments
from postpurchase.messaging.catalogue import CATALOGUE
from postpurchase.messaging.channels import (
    Envelope,
    MessageChannel,
    Outcome,
    Result,
    create_channel,
)
from postpurchase.messaging.config import (
    TriggerSettings,
    brand_settings,
    trigger_settings,
)
from postpurchase.messaging.reasons import Reason, Why, because, reason_columns
from postpurchase.messaging.settings import MessagingSettings, messaging_settings
from postpurchase.messaging.triggers import Composed, compose, enqueue_fallback
from postpurchase.models import (
    Brand,
    Channel,
    Customer,
    Order,
    OutboxMessage,
    OutboxState,
    Shipment,
    Suppression,
)
from postpurchase.models.types import id_of
from postpurchase.tokens import make_token

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
#: Envelopes marked handed over per commit: at most this many per worker become ``unknown``
#: although unsent if the sender dies during a handover; smaller costs more commits.
HANDOVER_SLICE = 10
Sleep = Callable[[float], None]
HREF = re.compile(r'href="(https?://[^"]+)"')


@dataclass
class SendReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    held: int = 0
    suppressed: int = 0
    unknown: int = 0
    fallbacks: int = 0
    #: Too late to be useful: the trigger's staleness cap passed before the message could go out.
    stale: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: SendReport) -> None:
        for name in (
            "claimed",
            "sent",
            "retried",
            "failed",
            "held",
            "suppressed",
            "unknown",
            "fallbacks",
            "stale",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors[:20])


def backoff(attempts: int, base_seconds: float = 60.0, max_seconds: float = 1800.0) -> timedelta:
    """1, 2, 4 … minutes (``MESSAGES_RETRY_BASE_SECONDS`` × 2ⁿ), at most ``max_seconds``."""
    return timedelta(seconds=min(max_seconds, base_seconds * 2 ** min(max(0, attempts - 1), 30)))


def _backoff_settings(config: Mapping[str, Any]) -> tuple[float, float]:
    return (
        float(config.get("MESSAGES_RETRY_BASE_SECONDS") or 60),
        float(config.get("MESSAGES_RETRY_MAX_SECONDS") or 1800),
    )


def message_id_header(key: str, sender_email: str) -> str:
    domain = sender_email.rpartition("@")[2] or "postpurchase.local"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


def _tracked_html(html: str, message_id: int, messaging: MessagingSettings) -> str:
    """Links through the click redirect, and an open pixel (unsubscribe links stay direct)."""

    def link(path: str, purpose: str, data: dict[str, object]) -> str:
        return messaging.public_url(path + make_token(messaging.secret_key, purpose, data))

    def swap(match: re.Match[str]) -> str:
        url = match.group(1)
        if "/unsubscribe/" in url:
            return match.group(0)
        return f'href="{link("/m/c/", "click", {"m": message_id, "u": url})}"'

    pixel = (
        f'<img src="{link("/m/o/", "open", {"m": message_id})}.gif" width="1" height="1" alt="">'
    )
    tracked = HREF.sub(swap, html)
    return (
        tracked.replace("</body>", pixel + "</body>") if "</body>" in tracked else tracked + pixel
    )


def sender_identity(
    brand: Brand, config: Mapping[str, object], settings: dict[str, Any] | None = None
) -> tuple[str, str]:
    """Name and address the brand's email comes from: its messaging sender, else ``MAIL_FROM``."""
    sender = (settings or brand_settings(brand))["sender"]
    return (
        sender.get("name") or brand.name,
        sender.get("email") or str(config.get("MAIL_FROM") or f"no-reply@{brand.slug}.example"),
    )


def envelope_for(
    message: OutboxMessage,
    brand: Brand,
    messaging: MessagingSettings,
    settings: dict[str, Any] | None = None,
) -> Envelope:
    sender_name, sender_email = sender_identity(brand, messaging.config, settings)
    headers: dict[str, str] = {}
    html = message.body_html
    if message.channel == Channel.email:
        headers["Message-ID"] = message_id_header(message.idempotency_key, sender_email)
        unsubscribe = message.payload.get("unsubscribe_url")
        if unsubscribe:
            headers["List-Unsubscribe"] = f"<{unsubscribe}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        if html and message.id is not None:
            html = _tracked_html(html, message.id, messaging)
    return Envelope(
        message_id=message.id or 0,
        brand_slug=brand.slug,
        channel=message.channel,
        recipient=message.recipient,
        subject=message.subject,
        text=message.body_text,
        html=html,
        idempotency_key=message.idempotency_key,
        headers=headers,
        payload={**message.payload, "trigger": message.trigger},
        sender_name=sender_name,
        sender_email=sender_email,
    )


class _Checks:
    """Per-claim caches so a batch costs a few queries, not a few per row."""

    def __init__(
        self, session: Session, rows: list[OutboxMessage], config: dict[str, Any], now: datetime
    ) -> None:
        self.session, self.config, self.now = session, config, now
        brand_ids = {row.brand_id for row in rows}
        self.brands = {
            b.id: b for b in session.exec(select(Brand).where(col(Brand.id).in_(brand_ids))).all()
        }
        customer_ids = {row.customer_id for row in rows if row.customer_id}
        self.customers = (
            {
                c.id: c
                for c in session.exec(
                    select(Customer).where(col(Customer.id).in_(customer_ids))
                ).all()
            }
            if customer_ids
            else {}
        )
        shipment_ids = {row.shipment_id for row in rows if row.shipment_id}
        self.shipments = (
            {
                s.id: s
                for s in session.exec(
                    select(Shipment).where(col(Shipment.id).in_(shipment_ids))
                ).all()
            }
            if shipment_ids
            else {}
        )
        self._capped_today: dict[int, int] = {}
        self._idempotent: dict[tuple[str, Channel], bool] = {}
        self.settings = {brand_id: brand_settings(brand) for brand_id, brand in self.brands.items()}
        self._triggers: dict[tuple[int, str], TriggerSettings] = {}
        addresses = {row.recipient for row in rows}
        self.suppressed: dict[tuple[int, Channel, str], list[Suppression]] = defaultdict(list)
        for found in session.exec(
            select(Suppression).where(col(Suppression.address).in_(addresses))
        ).all():
            self.suppressed[(found.brand_id, found.channel, found.address)].append(found)

    def trigger(self, brand: Brand, name: str) -> TriggerSettings | None:
        if name not in CATALOGUE:
            return None
        key = (brand.id or 0, name)
        if key not in self._triggers:
            self._triggers[key] = trigger_settings(brand, name)
        return self._triggers[key]

    def suppression(self, row: OutboxMessage, purpose: str) -> Reason | None:
        purposes = respect.blocking_purposes(purpose)
        for found in self.suppressed[(row.brand_id, row.channel, row.recipient)]:
            if found.purpose in purposes:
                return because(Why.suppressed, channel=row.channel, cause=found.reason)
        return None

    def timezone(self, row: OutboxMessage) -> str:
        customer = self.customers.get(row.customer_id) if row.customer_id else None
        brand = self.brands[row.brand_id]
        return (
            (customer.timezone if customer else None)
            or brand.timezone
            or str(self.config["DEFAULT_TIMEZONE"])
        )

    def idempotent(self, brand: Brand, channel: Channel) -> bool:
        key = (brand.slug, channel)
        if key not in self._idempotent:
            instance = create_channel(self.config, brand.slug, channel)
            self._idempotent[key] = bool(instance and instance.idempotent)
        return self._idempotent[key]

    def capped_today(self, row: OutboxMessage, timezone: str) -> int:
        """Non-essential messages this customer got today (local day), counting this batch's approvals."""
        assert row.customer_id is not None
        if row.customer_id not in self._capped_today:
            brand = self.brands[row.brand_id]
            # trigger() is None only for names outside CATALOGUE, and these come from it.
            capped = [t for t in CATALOGUE if not self.trigger(brand, t).essential]  # type: ignore[union-attr]
            self._capped_today[row.customer_id] = self.session.exec(
                select(func.count(col(OutboxMessage.id))).where(
                    OutboxMessage.customer_id == row.customer_id,
                    col(OutboxMessage.trigger).in_(capped),
                    col(OutboxMessage.state).in_(
                        [OutboxState.sent, OutboxState.sending, OutboxState.unknown]
                    ),
                    col(OutboxMessage.claimed_at) >= respect.local_day_start(self.now, timezone),
                )
            ).one()
        return self._capped_today[row.customer_id]

    def decide(self, row: OutboxMessage) -> tuple[OutboxState, Reason | None, datetime | None]:
        """``(sending|held|suppressed, reason, due_at)`` for a row about to be sent."""
        brand = self.brands[row.brand_id]
        if row.payload.get("test") or row.payload.get(
            "system"
        ):  # system: a webhook to a machine, not a person
            return OutboxState.sending, None, None
        settings = self.settings[row.brand_id]
        trigger = self.trigger(brand, row.trigger)
        purpose = row.payload.get("purpose", "transactional")
        customer = self.customers.get(row.customer_id) if row.customer_id else None
        if row.customer_id and not respect.consent_allows(
            customer, row.channel, purpose, shipment_id=row.shipment_id
        ):
            return (
                OutboxState.suppressed,
                because(Why.no_consent, purpose=purpose, channel=row.channel),
                None,
            )
        reason = self.suppression(row, purpose)
        if reason:
            return OutboxState.suppressed, reason, None
        late = too_late(row, trigger, self.now)
        if late:
            return OutboxState.stale, late, None
        if (
            purpose == "marketing"
            and row.channel == Channel.email
            and not (
                settings["sender"].get("address")
                and (settings["sender"].get("contact") or settings["sender"].get("email"))
            )
        ):
            return OutboxState.suppressed, because(Why.sender_incomplete), None
        timezone = self.timezone(row)
        stale = respect.stale_reason(
            session=self.session,
            message=row,
            shipment=self.shipments.get(row.shipment_id) if row.shipment_id else None,
            now=self.now,
            timezone=timezone,
        )
        if stale:
            return OutboxState.suppressed, stale, None
        quiet = settings["quiet_hours"]
        if trigger is None or trigger.quiet_hours:
            until = respect.quiet_until(self.now, timezone, quiet["start"], quiet["end"])
            if until is not None:
                return OutboxState.held, because(Why.quiet_hours), until
        if trigger is not None and not trigger.essential and row.customer_id:
            if self.capped_today(row, timezone) >= int(settings["daily_cap"]):
                return (
                    OutboxState.held,
                    because(Why.daily_cap),
                    respect.next_day_at(self.now, timezone, quiet["end"]),
                )
            self._capped_today[row.customer_id] += 1
        return OutboxState.sending, None, None


def _explain(row: OutboxMessage, reason: Reason | None) -> None:
    """Say on ``row`` why it is in its state (nothing: no reason)."""
    for name, value in reason_columns(reason).items():
        setattr(row, name, value)


def too_late(row: OutboxMessage, trigger: TriggerSettings | None, now: datetime) -> Reason | None:
    """Why ``row`` is too late to send at ``now`` (its trigger's ``stale_after``), or None.

    Counted from when the message was meant to go out: the event behind it (or, without one, when
    it was written), plus the trigger's delay (timers write their messages when they are due). A
    late notice the importer allowed counts from when it was written.
    """
    if trigger is None or trigger.stale_after is None or row.payload.get("test"):
        return None
    event_at = row.payload.get("event_at")
    start = (
        datetime.fromisoformat(event_at)
        if event_at and not row.payload.get("late_ok")
        else as_utc(row.created_at)
    )
    meant = start + timedelta(minutes=trigger.delay_minutes)
    if now - meant <= trigger.stale_after:
        return None
    return because(Why.too_late, limit=trigger.stale_after.total_seconds() / 3600)


def claim(
    app: Flask, *, now: datetime, limit: int = 200, sleep: Sleep = time.sleep
) -> tuple[list[int], SendReport]:
    """Claim up to ``limit`` due rows; return the ids of those to send now (marked ``sending``)."""
    return retry_transient(sleep)(_claim, app, now=now, limit=limit)


def _claim(app: Flask, *, now: datetime, limit: int) -> tuple[list[int], SendReport]:
    report = SendReport()
    claimed: list[int] = []
    with claim_scope(app) as session:
        due = or_(
            and_(
                col(OutboxMessage.state).in_([OutboxState.pending, OutboxState.held]),
                col(OutboxMessage.due_at) <= now,
            ),
            and_(
                col(OutboxMessage.state) == OutboxState.sending,
                col(OutboxMessage.claimed_at) < now - LEASE,
            ),
        )
        stmt = (
            select(OutboxMessage)
            .where(due)
            .order_by(col(OutboxMessage.due_at), col(OutboxMessage.id))
            .limit(limit)
        )
        if is_postgres(session):
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(session.exec(stmt).all())
        report.claimed = len(rows)
        checks = _Checks(session, rows, app.config, now)
        for row in rows:
            brand = checks.brands[row.brand_id]
            if (
                row.state == OutboxState.sending
                and row.handed_over_at is not None
                and not checks.idempotent(brand, row.channel)
            ):
                row.state = OutboxState.unknown
                _explain(row, because(Why.outcome_unknown))
                report.unknown += 1
                continue
            state, reason, until = checks.decide(row)
            if state == OutboxState.held:
                row.state, row.due_at = state, until or now
                _explain(row, reason)
                report.held += 1
            elif state in (OutboxState.suppressed, OutboxState.stale):
                row.state = state
                _explain(row, reason)
                if state == OutboxState.stale:
                    report.stale += 1
                else:
                    report.suppressed += 1
            else:
                row.state, row.claimed_at, row.attempts = OutboxState.sending, now, row.attempts + 1
                row.first_tried_at = row.first_tried_at or now
                row.handed_over_at = None
                claimed.append(id_of(row))
    return claimed, report


def _load_related(session: Session, rows: list[OutboxMessage]) -> None:
    """The batch's brands, orders, parcels and customers in a few queries, and the customers'
    histories for the segment rules. Kept in ``session.info`` (the identity map holds only what is
    referenced), so every ``session.get`` while rendering is answered without a query."""
    loaded: list[object] = session.info.setdefault("messaging_loaded", [])
    for model, column, ids in (
        (Brand, col(Brand.id), {r.brand_id for r in rows}),
        (Order, col(Order.id), {r.order_id for r in rows if r.order_id}),
        (Shipment, col(Shipment.id), {r.shipment_id for r in rows if r.shipment_id}),
        (Customer, col(Customer.id), {r.customer_id for r in rows if r.customer_id}),
    ):
        if ids:
            loaded.extend(session.exec(select(model).where(column.in_(ids))).all())
    segments.preload(session=session, customer_ids={r.customer_id for r in rows if r.customer_id})


@dataclass
class Prepared:
    """Claimed rows rendered for sending, outside any write lock."""

    envelopes: list[Envelope] = field(default_factory=list)
    content: dict[int, Composed] = field(default_factory=dict)
    #: Rows not to send (id → state, reason): ``suppressed`` when the data made them useless since
    #: they were written, ``failed`` when they cannot be rendered. :func:`record` stores it.
    settled: dict[int, tuple[OutboxState, Reason]] = field(default_factory=dict)
    #: Content the data held back from a row (id → (brand id, trigger, {reason: items})), e.g.
    #: recommendations out of stock in the size: counted when the row is sent.
    left_out: dict[int, tuple[int, str, dict[str, int]]] = field(default_factory=dict)


def prepare(app: Flask, ids: list[int], *, now: datetime) -> Prepared:
    """Render the claimed rows (:func:`~postpurchase.messaging.triggers.compose`) into envelopes.

    Reads only: rendering a batch takes a while and must not hold SQLite's write lock, which the
    intake of new events needs. :func:`record` stores the content with the answer.
    """
    prepared = Prepared()
    if not ids:
        return prepared
    session = get_db(app).session()
    try:
        rows = list(
            session.exec(
                select(OutboxMessage)
                .where(col(OutboxMessage.id).in_(ids))
                .order_by(col(OutboxMessage.id))
            ).all()
        )
        for row in rows:
            session.expunge(row)  # the content is set on a detached copy; record() writes it
        _load_related(session, rows)
        messaging = messaging_settings(app)
        settings: dict[int, dict[str, Any]] = {}
        for row in rows:
            brand = session.get(Brand, row.brand_id)
            assert brand is not None and row.id is not None
            try:
                content = compose(
                    session=session, messaging=messaging, brand=brand, message=row, now=now
                )
            except Exception as exc:
                log.warning(
                    "outbox message %s could not be rendered: %s", row.id, exc, exc_info=True
                )
                prepared.settled[row.id] = (
                    OutboxState.failed,
                    because(Why.render_failed, detail=f"{type(exc).__name__}: {exc}"[:1500]),
                )
                continue
            if content.useless and not row.payload.get("test"):
                prepared.settled[row.id] = (OutboxState.suppressed, content.useless)
                continue
            prepared.content[row.id] = content
            held_back = (content.payload.get("context") or {}).get("left_out")
            if held_back:
                prepared.left_out[row.id] = (row.brand_id, str(row.trigger), dict(held_back))
            row.subject, row.body_text, row.body_html, row.payload = (
                content.subject,
                content.text,
                content.html,
                content.payload,
            )
            if row.brand_id not in settings:
                settings[row.brand_id] = brand_settings(brand)
            prepared.envelopes.append(envelope_for(row, brand, messaging, settings[row.brand_id]))
    finally:
        session.close()
    return prepared


ChannelFactory = Callable[[str, Channel], MessageChannel | None]


def mark_handed_over(
    app: Flask, ids: list[int], *, now: datetime, sleep: Sleep = time.sleep
) -> None:
    """Commit that these ``sending`` rows are about to be handed to their channel (see the module doc)."""

    def mark() -> None:
        with session_scope(app) as session:
            session.execute(
                update(OutboxMessage)
                .where(
                    col(OutboxMessage.id).in_(ids), col(OutboxMessage.state) == OutboxState.sending
                )
                .values(handed_over_at=now)
            )

    retry_transient(sleep)(mark)


Handover = Callable[[list[int]], None]


def deliver(
    app: Flask,
    envelopes: list[Envelope],
    *,
    workers: int = 4,
    channel_factory: ChannelFactory | None = None,
    handover: Handover | None = None,
    slice_size: int = HANDOVER_SLICE,
) -> list[tuple[Envelope, Outcome]]:
    """Send through the channels: per (brand, channel) group, split over ``workers`` connections.

    ``handover`` is called with each slice's message ids before the slice goes to the channel; when
    it raises a database error, the slice is not sent and its outcome is temporary.
    """
    factory = channel_factory or (lambda slug, channel: create_channel(app.config, slug, channel))
    groups: dict[tuple[str, Channel], list[Envelope]] = defaultdict(list)
    for envelope in envelopes:
        groups[(envelope.brand_slug, envelope.channel)].append(envelope)
    jobs: list[tuple[str, Channel, list[Envelope]]] = []
    for (slug, channel), items in groups.items():
        size = max(1, -(-len(items) // workers))
        jobs.extend((slug, channel, items[i : i + size]) for i in range(0, len(items), size))

    def run(job: tuple[str, Channel, list[Envelope]]) -> list[tuple[Envelope, Outcome]]:
        slug, channel, items = job
        instance = factory(slug, channel)
        if instance is None:
            reason = because(Why.no_credentials, channel=channel)
            missing = Outcome(Result.permanent, error=str(reason), reason=reason)
            return [(envelope, missing) for envelope in items]
        outcomes: list[Outcome] = []
        try:
            for start in range(0, len(items), max(1, slice_size)):
                part = items[start : start + max(1, slice_size)]
                if handover is not None:
                    try:
                        handover([envelope.message_id for envelope in part])
                    except Exception as exc:
                        if not is_transient_db_error(exc):
                            raise
                        log.warning(
                            "could not record a handover, not sending %d messages: %s",
                            len(part),
                            exc,
                        )
                        busy = because(Why.database_busy, detail=str(exc)[:300])
                        outcomes.extend(
                            Outcome(Result.temporary, error=str(busy), reason=busy) for _ in part
                        )
                        continue
                outcomes.extend(instance.send_many(part))
        finally:
            instance.close()
        if (
            instance.idempotent
        ):  # the provider drops a second copy: an unclear answer is just a retry
            outcomes = [
                replace(o, result=Result.temporary) if o.result == Result.ambiguous else o
                for o in outcomes
            ]
        return list(zip(items, outcomes, strict=True))

    results: list[tuple[Envelope, Outcome]] = []
    if len(jobs) == 1:
        return run(jobs[0])
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for part in pool.map(run, jobs):
            results.extend(part)
    return results


def record(
    app: Flask,
    results: Iterable[tuple[Envelope, Outcome]],
    *,
    now: datetime,
    prepared: Prepared | None = None,
    sleep: Sleep = time.sleep,
) -> SendReport:
    """Store what the channels answered, with the content sent; retries, suppressions and fallbacks.

    One transaction, re-run from the start after a transient database error: the answers are lost
    only if the database stays unavailable, and then the rows fall back on the lease (see above).
    """
    answers = list(results)
    return retry_transient(sleep)(_record, app, answers, now=now, prepared=prepared)


def _record(
    app: Flask, results: list[tuple[Envelope, Outcome]], *, now: datetime, prepared: Prepared | None
) -> SendReport:
    report = SendReport()
    content = prepared.content if prepared else {}
    sent_rows: list[dict[str, Any]] = []
    with session_scope(app) as session:
        followups: list[tuple[Envelope, Outcome]] = []
        for envelope, outcome in results:
            if outcome.result == Result.sent:
                sent_rows.append(
                    {
                        "id": envelope.message_id,
                        "state": OutboxState.sent,
                        "sent_at": now,
                        "provider_id": (outcome.provider_id or "")[:200] or None,
                        **reason_columns(None),
                        **_content_columns(content.get(envelope.message_id)),
                    }
                )
            else:
                followups.append((envelope, outcome))
        for columns in {frozenset(row) for row in sent_rows}:  # one executemany per column set
            session.execute(
                update(OutboxMessage), [row for row in sent_rows if frozenset(row) == columns]
            )
        report.sent = len(sent_rows)
        if prepared is not None:
            _count_left_out(session, prepared, [row["id"] for row in sent_rows])
        delays = _backoff_settings(app.config)
        for envelope, outcome in followups:
            _record_failure(
                session, envelope, outcome, now, report, delays, content.get(envelope.message_id)
            )
        for message_id, (state, reason) in prepared.settled.items() if prepared else ():
            session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == message_id)
                .values(state=state, **reason_columns(reason))
            )
            if state == OutboxState.suppressed:
                report.suppressed += 1
            else:
                report.failed += 1
                report.errors.append(f"message {message_id}: {reason}")
    return report


#: The counter of content left out of sent messages (labels: brand, trigger, reason).
LEFT_OUT_COUNTER = "message_content_left_out"


def _count_left_out(session: Session, prepared: Prepared, sent_ids: list[int]) -> None:
    """Add what the data held back from the sent messages to :data:`LEFT_OUT_COUNTER`, one upsert
    per brand, trigger and reason of the batch."""
    totals: dict[tuple[int, str, str], int] = defaultdict(int)
    for message_id in sent_ids:
        brand_id, trigger, reasons = prepared.left_out.get(message_id, (0, "", {}))
        for reason, items in reasons.items():
            totals[(brand_id, trigger, reason)] += int(items)
    for (brand_id, trigger, reason), items in sorted(totals.items()):
        counters.add(
            session=session,
            name=LEFT_OUT_COUNTER,
            labels={"brand": str(brand_id), "trigger": trigger, "reason": reason},
            amount=items,
        )


def _content_columns(content: Composed | None) -> dict[str, object]:
    if content is None:
        return {}
    return {
        "subject": content.subject,
        "body_text": content.text,
        "body_html": content.html,
        "payload": content.payload,
    }


def retry_at(
    message: OutboxMessage,
    settings: Mapping[str, Any],
    now: datetime,
    delays: tuple[float, float],
) -> datetime | None:
    """When to try ``message`` again after a temporary failure at ``now``; None once its retry
    horizon (``retry_max_hours`` from the first attempt, optionally ``max_attempts``) is spent."""
    max_attempts = settings.get("max_attempts")
    if max_attempts is not None and message.attempts >= int(max_attempts):
        return None
    horizon = as_utc(message.first_tried_at or now) + timedelta(
        hours=float(settings["retry_max_hours"])
    )
    if now >= horizon:
        return None
    return min(now + backoff(message.attempts, *delays), horizon)


def _record_failure(
    session: Session,
    envelope: Envelope,
    outcome: Outcome,
    now: datetime,
    report: SendReport,
    delays: tuple[float, float],
    content: Composed | None,
) -> None:
    message = session.get(OutboxMessage, envelope.message_id)
    if message is None:
        return
    for name, value in _content_columns(content).items():
        setattr(message, name, value)
    brand = session.get(Brand, message.brand_id)
    reason = outcome.reason or because(Why.channel_error, detail=outcome.error or "")
    _explain(message, reason)
    report.errors.append(f"{message.idempotency_key}: {outcome.error}")
    if outcome.result == Result.ambiguous:
        message.state = OutboxState.unknown
        report.unknown += 1
        return
    if outcome.result == Result.temporary:
        message.handed_over_at = None  # the channel took nothing: a retry cannot duplicate
        again = retry_at(message, brand_settings(brand), now, delays) if brand else None
        if again is not None:
            message.state, message.due_at = OutboxState.pending, again
            report.retried += 1
            return
        _explain(message, because(Why.gave_up, detail=outcome.error or ""))
    message.state = OutboxState.failed
    report.failed += 1
    if outcome.bounce:
        exists = session.exec(
            select(Suppression.id).where(
                Suppression.brand_id == message.brand_id,
                Suppression.channel == message.channel,
                Suppression.address == message.recipient,
                Suppression.purpose == "all",
            )
        ).first()
        if exists is None:
            session.add(
                Suppression(
                    brand_id=message.brand_id,
                    channel=message.channel,
                    address=message.recipient,
                    purpose="all",
                    reason="hard_bounce",
                    detail=(outcome.error or "")[:500],
                )
            )
            respect.forget_preloaded_suppressions(session)
    session.flush()
    if enqueue_fallback(session=session, message=message, now=now) is not None:
        report.fallbacks += 1


def send_due(
    app: Flask,
    *,
    now: datetime | None = None,
    batch: int = 200,
    limit: int | None = None,
    workers: int = 4,
    channel_factory: ChannelFactory | None = None,
    sleep: Sleep = time.sleep,
) -> SendReport:
    """Send every due message (or ``limit``), batch by batch; the scheduler's outbox job.

    ``sleep`` waits between re-runs of a transaction after a transient database error.
    """
    with app.app_context():  # the scheduler's job has an app context, a script may not
        return _send_loop(
            app,
            now=now,
            batch=batch,
            limit=limit,
            workers=workers,
            channel_factory=channel_factory,
            sleep=sleep,
        )


def _send_loop(
    app: Flask,
    *,
    now: datetime | None,
    batch: int,
    limit: int | None,
    workers: int,
    channel_factory: ChannelFactory | None,
    sleep: Sleep,
) -> SendReport:
    total = SendReport()
    slice_size = int(app.config.get("MESSAGES_HANDOVER_SLICE") or HANDOVER_SLICE)
    while limit is None or total.claimed < limit:
        moment = now or utcnow()
        size = batch if limit is None else min(batch, limit - total.claimed)
        ids, report = claim(app, now=moment, limit=size, sleep=sleep)
        total.add(report)
        if report.claimed == 0:
            break
        if ids:
            prepared = retry_transient(sleep)(prepare, app, ids, now=moment)
            results = (
                deliver(
                    app,
                    prepared.envelopes,
                    workers=workers,
                    channel_factory=channel_factory,
                    handover=partial(mark_handed_over, app, now=moment, sleep=sleep),
                    slice_size=slice_size,
                )
                if prepared.envelopes
                else []
            )
            total.add(record(app, results, now=moment, prepared=prepared, sleep=sleep))
    return total
