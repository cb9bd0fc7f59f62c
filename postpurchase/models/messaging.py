"""Messaging: who must not be written to (suppressions, unsubscribes) and what happened to a message."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from postpurchase.clock import utcnow
from postpurchase.models.enums import Channel
from postpurchase.models.types import brand_fk, enum_field, utc_field


class Suppression(SQLModel, table=True):
    """An address a brand must not write to on a channel, for one purpose or for all.

    ``purpose`` is ``marketing`` (unsubscribed from offers, review requests, reminders) or ``all``
    (hard bounce, or the customer asked to receive nothing at all on this channel).
    """

    __table_args__ = (UniqueConstraint("brand_id", "channel", "address", "purpose"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    channel: Channel = enum_field(Channel)
    address: str = Field(max_length=254, index=True)
    purpose: str = Field(default="marketing", max_length=16)
    #: ``unsubscribe``, ``hard_bounce``, ``complaint`` or ``provider`` (e.g. an SMS number that opted out).
    reason: str = Field(max_length=32)
    detail: str | None = Field(default=None, max_length=500)
    created_at: datetime = utc_field(nullable=False, default_factory=utcnow)


class MessageEvent(SQLModel, table=True):
    """Something a channel reported about a sent message: ``open`` (pixel), ``click``, ``bounce``."""

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    message_id: int = Field(foreign_key="outboxmessage.id", index=True)
    kind: str = Field(max_length=16)
    url: str | None = Field(default=None, max_length=2000)
    occurred_at: datetime = utc_field(nullable=False, default_factory=utcnow)
