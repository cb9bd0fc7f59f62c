"""The adapter protocol, the result types every adapter returns, and typed errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

from carriers.status import Handover, Status


class CarrierError(Exception):
    """Base of every carrier error; ``carrier`` names the adapter that raised it."""

    def __init__(self, message: str, *, carrier: str = "") -> None:
        super().__init__(f"{carrier}: {message}" if carrier else message)
        self.carrier = carrier


class AuthError(CarrierError):
    """Credentials missing, wrong or expired; retrying will not help until they are fixed."""


class RateLimited(CarrierError):
    def __init__(
        self, message: str, *, carrier: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message, carrier=carrier)
        self.retry_after = retry_after


class NotFound(CarrierError):
    """The carrier does not know the tracking number (yet)."""


class TemporaryError(CarrierError):
    """Network failure, 5xx or a timeout: try again later."""


class ParseError(CarrierError):
    """The response is not what the parser expects; never guessed around."""


class Unsupported(CarrierError):
    """The adapter cannot do this (e.g. webhooks on a carrier that only answers polls)."""


@dataclass(frozen=True)
class TrackingEvent:
    occurred_at: datetime  # aware
    status: Status
    code: str  # the carrier's own code, or its text when it has none
    description: str
    location: str | None = None
    #: Finer carrier-independent detail, e.g. ``delayed`` or ``final_notice``.
    sub_status: str | None = None
    #: An informational scan (signature stored, "arriving on time"): its ``status`` repeats the
    #: status before it, so it never moves the shipment backwards or forwards on its own.
    informational: bool = False
    #: Where a delivery or pickup scan says the parcel is (None: the scan does not say).
    delivered_to: Handover | None = None


@dataclass(frozen=True)
class PickupPoint:
    """Where a parcel waits for its customer, as far as the carrier says."""

    name: str | None = None
    address: str | None = None
    #: The last day the carrier holds it (local to the pickup point).
    deadline: date | None = None


@dataclass(frozen=True)
class TrackingResult:
    carrier: str
    tracking_number: str
    status: Status
    events: tuple[TrackingEvent, ...] = ()
    sub_status: str | None = None
    estimated_delivery: date | None = None
    signed_by: str | None = None
    #: Where the raw payload is kept (a file name, an inbox id, or a digest) for support.
    raw_ref: str | None = None
    #: Carrier-specific extras worth keeping (service name, ...).
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: Where the parcel was left or waits: the newest delivery or pickup scan's place.
    delivered_to: Handover | None = None
    pickup: PickupPoint | None = None


@dataclass(frozen=True)
class Capabilities:
    max_batch: int = 1
    requests_per_second: float = 1.0
    requests_per_day: int | None = None
    #: ``none``, ``api_key``, ``oauth_client_credentials``, ``basic``, ``hmac``.
    auth: str = "none"
    supports_webhooks: bool = False
    supports_polling: bool = True
    #: Link for customers, with ``{number}`` where the tracking number goes.
    tracking_url: str | None = None
    #: Link where the customer changes date/slot or asks for redelivery (再配達), if any; with
    #: ``{number}`` where the carrier's form takes the tracking number, so it opens this parcel.
    redelivery_url: str | None = None


@runtime_checkable
class CarrierAdapter(Protocol):
    """What the core asks of every carrier (read-only properties, so class attributes satisfy it)."""

    @property
    def code(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def capabilities(self) -> Capabilities: ...

    def track(self, numbers: Sequence[str]) -> list[TrackingResult]:
        """Ask the carrier about up to ``capabilities.max_batch`` numbers."""
        ...

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """Check a pushed update's signature; raises :class:`AuthError` when it does not verify."""
        ...

    def parse_webhook(self, body: bytes) -> list[TrackingResult]:
        """Parse a pushed update :meth:`verify_webhook` accepted.

        Separate from verifying because the service parses the stored body again when it retries,
        without the headers (and secrets) it was verified with.
        """
        ...
