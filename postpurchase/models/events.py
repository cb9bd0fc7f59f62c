"""The inbox (every event received, raw) and the outbox (every message to send)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from postpurchase.clock import utcnow
from postpurchase.models.enums import Channel, InboxState, OutboxState, RejectionReason
from postpurchase.models.types import JSONType, enum_field, json_field, utc_field


class InboxEvent(SQLModel, table=True):
    """A received webhook, committed before it is processed so nothing is ever lost.

    ``(brand_id, source, external_id)`` is unique: a second delivery of the same event id is a
    duplicate. ``body_sha256`` catches the same body sent again under another delivery id.
    """

    __table_args__ = (
        UniqueConstraint("brand_id", "source", "external_id"),
        # A worker's next events of a state, in id order, without sorting every waiting one.
        Index("ix_inboxevent_state_id", "state", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int | None = Field(default=None, foreign_key="brand.id", index=True)
    #: ``wms`` (generic schema), ``shopify``, ``carrier:<code>``.
    source: str = Field(max_length=64)
    external_id: str = Field(max_length=200)
    event_type: str = Field(default="", max_length=64)
    occurred_at: datetime | None = utc_field()
    body_sha256: str = Field(max_length=64, index=True)
    raw_body: bytes = Field(sa_type=LargeBinary)
    headers: dict[str, Any] = json_field()
    signature_ok: bool = False
    state: InboxState = enum_field(InboxState, default=InboxState.pending)
    attempts: int = 0
    error: str | None = None
    #: What the event waits for while ``deferred`` (e.g. ``order:1001``).
    waiting_for: str | None = Field(default=None, max_length=200, index=True)
    received_at: datetime = utc_field(nullable=False, default_factory=utcnow)
    next_attempt_at: datetime | None = utc_field(index=True)
    processed_at: datetime | None = utc_field()


class WebhookRejection(SQLModel, table=True):
    """A webhook refused at the door: where from, why, how big; never its body or its headers.

    Rows are counted per source, remote address and minute (``minute``); the first few each get a
    ``slot`` of their own and the last slot counts every later one in ``count``, so a flood of bad
    requests adds a bounded number of small rows (see :mod:`postpurchase.inbox.rejections`).
    """

    __table_args__ = (UniqueConstraint("source", "remote_addr", "minute", "slot"),)

    id: int | None = Field(default=None, primary_key=True)
    #: ``wms``, ``shopify``, ``carrier:<code>``.
    source: str = Field(max_length=64)
    brand_id: int | None = Field(default=None, foreign_key="brand.id", index=True)
    reason: RejectionReason = enum_field(RejectionReason)
    remote_addr: str = Field(default="", max_length=64)
    minute: datetime = utc_field(nullable=False, index=True)
    slot: int = 0
    count: int = 1
    #: Size of the last refused body counted on this row.
    body_bytes: int = 0
    first_at: datetime = utc_field(nullable=False)
    last_at: datetime = utc_field(nullable=False)


class OutboxMessage(SQLModel, table=True):
    """A message to send, written in the same transaction as the change that caused it."""

    # A brand's messages of a period (the dashboard's count of those needing a look): without it
    # each count read every message the brand ever had.
    __table_args__ = (Index("ix_outboxmessage_brand_created", "brand_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id")
    #: (brand, trigger, shipment or order, channel): one message per key, ever.
    idempotency_key: str = Field(unique=True, max_length=255)
    trigger: str = Field(max_length=64)
    channel: Channel = enum_field(Channel)
    state: OutboxState = enum_field(OutboxState, default=OutboxState.pending, index=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    order_id: int | None = Field(default=None, foreign_key="order.id", index=True)
    shipment_id: int | None = Field(default=None, foreign_key="shipment.id", index=True)
    recipient: str = Field(default="", max_length=254)
    locale: str = Field(default="ja", max_length=16)
    subject: str = Field(default="", max_length=300)
    body_text: str = ""
    body_html: str | None = None
    #: Context the template was rendered with, for the merchant's message log.
    payload: dict[str, Any] = json_field()
    attempts: int = 0
    due_at: datetime = utc_field(nullable=False, default_factory=utcnow, index=True)
    claimed_at: datetime | None = utc_field()
    #: First time the sender took the row to send it: the retry horizon counts from here.
    first_tried_at: datetime | None = utc_field()
    #: When the current attempt was committed as handed to the channel. A ``sending`` row without it
    #: was never given to the channel and is safe to send again once its lease expires.
    handed_over_at: datetime | None = utc_field()
    sent_at: datetime | None = utc_field()
    provider_id: str | None = Field(default=None, max_length=200)
    #: Why the row is held, not sent or failed, in English (:mod:`postpurchase.messaging.reasons`).
    error: str | None = None
    #: The same reason as its code and arguments, said in the reader's language on merchant pages.
    reason: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    created_at: datetime = utc_field(nullable=False, default_factory=utcnow)
