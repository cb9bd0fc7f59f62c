"""What the HTTP-polling adapters share: settings handling, the HTTP client, batch checks.

Each carrier module stays self-contained (its endpoints, status table and parse functions); this
base only removes the constructor and credential boilerplate.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from carriers.base import AuthError, Capabilities, TrackingResult, Unsupported
from carriers.http import DEFAULT_MAX_WAIT, HttpClient, OAuthClientCredentials
from carriers.parsing import Body
from carriers.registry import CarrierSettings


def _system_now() -> datetime:
    return datetime.now(UTC)


class Adapter:
    code: ClassVar[str]
    name: ClassVar[str]
    #: The carrier's name per locale where it differs from ``name`` (e.g. ``{"ja": "ヤマト運輸"}``).
    local_names: ClassVar[Mapping[str, str]] = {}
    #: Service code → the name the carrier sells it under (e.g. ``{"takkyubin": "宅急便"}``).
    service_names: ClassVar[Mapping[str, str]] = {}
    capabilities: ClassVar[Capabilities]
    default_base_url: ClassVar[str] = ""
    #: Credential keys the adapter reads from ``CarrierSettings.credentials``.
    credential_keys: ClassVar[tuple[str, ...]] = ()
    #: The pure parse function for saved responses (``carriers parse``) and :meth:`track`.
    parse_function: ClassVar[Callable[..., list[TrackingResult]]]

    def __init__(self, settings: CarrierSettings | None = None) -> None:
        self.settings = settings or CarrierSettings()
        self.base_url = (self.settings.base_url or self.default_base_url).rstrip("/")
        options = self.settings.options
        #: The moment pages without a year are read against (``options["clock"]``, else the
        #: machine's clock); the service passes its own clock so tests and simulations agree.
        self.clock: Callable[[], datetime] = options.get("clock") or _system_now
        self.http = HttpClient(
            self.code,
            session=options.get("session"),
            retries=int(options.get("retries", 2)),
            backoff=float(options.get("backoff", 0.5)),
            secrets=[str(v) for v in self.settings.credentials.values()],
            max_wait=float(options.get("max_wait", DEFAULT_MAX_WAIT)),
            sleep=options.get("sleep"),
        )

    def credential(self, key: str) -> str:
        value = self.settings.credentials.get(key)
        if not value:
            raise AuthError(f"credential {key!r} is not configured", carrier=self.code)
        return str(value)

    def parse(self, body: Body, **kwargs: Any) -> list[TrackingResult]:
        """Parse a saved response or webhook body (no signature check)."""
        return type(self).parse_function(body, **kwargs)

    def check_batch(self, numbers: Sequence[str]) -> list[str]:
        numbers = [n.strip() for n in numbers if n and n.strip()]
        if len(numbers) > self.capabilities.max_batch:
            raise ValueError(
                f"{self.code} takes at most {self.capabilities.max_batch} numbers per call"
            )
        return numbers

    def track(self, numbers: Sequence[str]) -> list[TrackingResult]:
        raise Unsupported("this adapter only receives webhooks", carrier=self.code)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        raise Unsupported("this carrier does not push updates", carrier=self.code)

    def parse_webhook(self, body: bytes) -> list[TrackingResult]:
        raise Unsupported("this carrier does not push updates", carrier=self.code)


def header(headers: Mapping[str, str], name: str) -> str:
    """A header value, matched case-insensitively ('' when absent)."""
    wanted = name.lower()
    return next((str(v) for k, v in headers.items() if k.lower() == wanted), "")


def same_secret(given: str, expected: str) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


class OAuthAdapter(Adapter):
    """An adapter whose API takes an OAuth 2.0 client-credentials token (UPS, FedEx, USPS v3)."""

    credential_keys: ClassVar[tuple[str, ...]] = ("client_id", "client_secret")
    #: Path of the token endpoint below the base URL.
    token_path: ClassVar[str]
    #: How the client credentials are sent: ``form``, ``basic`` or ``json``.
    token_style: ClassVar[str]

    def __init__(self, settings: CarrierSettings | None = None) -> None:
        super().__init__(settings)
        self._oauth: OAuthClientCredentials | None = None

    @property
    def oauth(self) -> OAuthClientCredentials:
        """The token client, created on first use so credentials are checked only when needed."""
        if self._oauth is None:
            self._oauth = OAuthClientCredentials(
                self.http,
                f"{self.base_url}{self.token_path}",
                self.credential("client_id"),
                self.credential("client_secret"),
                style=self.token_style,
            )
        return self._oauth
