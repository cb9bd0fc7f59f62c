"""The one interface every channel implements, and the outcomes a send can have."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from postpurchase.config import secret
from postpurchase.messaging.reasons import Reason
from postpurchase.models import Channel


class Result(StrEnum):
    sent = "sent"
    #: Not delivered, safe to try again later (connection refused, 4xx, 429, 5xx from an API).
    temporary = "temporary"
    #: Will never work on this channel (invalid address, hard bounce); fall back to the next channel.
    permanent = "permanent"
    #: The provider may or may not have accepted it (connection lost after the message was handed over).
    ambiguous = "ambiguous"


@dataclass(frozen=True)
class Outcome:
    result: Result
    provider_id: str | None = None
    error: str | None = None
    #: The address is dead (hard bounce, number opted out at the provider): suppress it.
    bounce: bool = False
    #: Why it was not sent when the sender, not the channel, decided (``error`` is its sentence).
    reason: Reason | None = None


@dataclass(frozen=True)
class Envelope:
    """What a channel needs to send one outbox row; built by the sender, no ORM objects."""

    message_id: int
    brand_slug: str
    channel: Channel
    recipient: str
    subject: str
    text: str
    idempotency_key: str
    html: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    payload: Mapping[str, Any] = field(default_factory=dict)
    sender_name: str = ""
    sender_email: str = ""


class MessageChannel:
    """Send envelopes on one channel. ``idempotent``: the provider drops a second copy of a key."""

    channel: Channel
    idempotent: bool = False

    def send(self, envelope: Envelope) -> Outcome:
        raise NotImplementedError

    def send_many(self, envelopes: Sequence[Envelope]) -> list[Outcome]:
        """Send several; channels with connections (SMTP) override this to reuse one."""
        return [self.send(envelope) for envelope in envelopes]

    def close(self) -> None:
        """Release connections."""


def credential(config: Mapping[str, object], brand_slug: str, name: str) -> str | None:
    """``BRAND_<SLUG>_<NAME>`` if the brand has its own, else the installation-wide ``<NAME>``."""
    own = secret(config, f"BRAND_{brand_slug.upper().replace('-', '_')}_{name}")
    return own or secret(config, name)


def http_outcome(status: int, text: str, provider_id: str | None = None) -> Outcome:
    """The usual HTTP mapping: 2xx sent; 408/429/5xx and 401 (credentials being fixed) temporary; other 4xx permanent."""
    if 200 <= status < 300:
        return Outcome(Result.sent, provider_id=provider_id)
    detail = f"HTTP {status}: {text[:300]}"
    if status in (401, 408, 429) or status >= 500:
        return Outcome(Result.temporary, error=detail)
    return Outcome(Result.permanent, error=detail)
