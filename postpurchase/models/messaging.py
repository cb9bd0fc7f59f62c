"""Messaging: who must not be written to (suppressions, unsubscribes), what happened to a message,
and a brand's own wording of its messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from postpurchase.clock import utcnow
from postpurchase.models.enums import Channel, Trigger
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


class MessageTemplate(SQLModel, table=True):
    """A brand's own text of one part (``subject.txt``, ``txt``, ``short.txt``) of a trigger's
    message in one locale. Kept in the database, not in files, so every machine of an installation
    renders the same wording; the renderer prefers it to the shipped template."""

    brand_id: int = Field(foreign_key="brand.id", primary_key=True)
    trigger: Trigger = enum_field(Trigger, primary_key=True)
    locale: str = Field(primary_key=True, max_length=8)
    part: str = Field(primary_key=True, max_length=16)
    source: str = Field(sa_type=Text)
    updated_at: datetime = utc_field(nullable=False, default_factory=utcnow)
