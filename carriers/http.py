"""One HTTP helper for every adapter: timeouts, retries, typed errors and secret redaction.

Idempotent requests (GET/HEAD) are retried on connection errors and 502/503/504 by urllib3's
``Retry``; everything else is mapped to the typed errors of :mod:`carriers.base` so the poll
planner can back off (``RateLimited``, ``TemporaryError``) or stop (``AuthError``) without knowing
the carrier. A 429 is never retried in place: it raises ``RateLimited`` with the server's
``Retry-After`` at once. No wait inside a call is longer than ``max_wait`` (default 5 s): a 5xx
whose ``Retry-After`` asks for more is not retried in place either, so a caller (a web request
above all) is never held up for minutes; the planner reschedules instead. Secrets given to the
client are scrubbed from every log line and exception message.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from carriers.base import AuthError, CarrierError, NotFound, RateLimited, TemporaryError

log = logging.getLogger("carriers.http")

DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 20.0)  # connect, read (seconds)
#: The longest a call waits before retrying in place (seconds).
DEFAULT_MAX_WAIT = 5.0
#: Off inside :func:`no_waiting`: a call then gives up instead of sleeping before a retry in place.
_waiting_allowed: ContextVar[bool] = ContextVar("carrier_waiting_allowed", default=True)


@contextmanager
def no_waiting() -> Iterator[None]:
    """Calls made in this block never sleep to retry in place (for calls made inside a web request:
    the caller answers with Retry-After and the planner asks again later)."""
    token = _waiting_allowed.set(False)
    try:
        yield
    finally:
        _waiting_allowed.reset(token)


_REDACTED = "***"
#: Header / parameter names whose values are never shown.
_SECRET_NAMES = (
    "authorization",
    "api[-_]?key",
    "apikey",
    "client[-_]?secret",
    "password",
    "token",
    "17token",
    "as-api-key",
    "aftership-api-key",
    "dhl-api-key",
    "x-ibm-client-secret",
    "secret",
)
_NAMES = "|".join(_SECRET_NAMES)
_SECRET_PAIR = re.compile(
    rf"(?i)([\"']?(?:{_NAMES})[\"']?\s*[:=]\s*[\"']?)((?:Bearer|Basic|ShippoToken)\s+)?([^\s\"'&,;}}]+)"
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with known secret values and ``name=value`` / ``"name": "value"`` secrets masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, _REDACTED)
    return _SECRET_PAIR.sub(lambda m: f"{m.group(1)}{m.group(2) or ''}{_REDACTED}", text)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


class BoundedRetry(Retry):
    """urllib3's ``Retry`` that retries only ``status_forcelist`` statuses (never 429), never waits
    longer than ``max_wait``, gives up at once when ``Retry-After`` asks for longer, and sleeps
    through an injectable ``sleep``."""

    def __init__(
        self,
        *args: Any,
        max_wait: float = DEFAULT_MAX_WAIT,
        sleep: Callable[[float], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_wait = max_wait
        self.sleeper = sleep or time.sleep

    def new(self, **kw: Any) -> BoundedRetry:
        retry = super().new(**kw)
        retry.max_wait, retry.sleeper = self.max_wait, self.sleeper
        return retry

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        return (
            bool(self.status_forcelist)
            and status_code in self.status_forcelist
            and self._is_method_retryable(method)
        )

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        wait = _retry_after(response.headers.get("Retry-After")) if response is not None else None
        if not _waiting_allowed.get():
            raise MaxRetryError(
                # urllib3 types the pool as required but passes None itself when it has none
                _pool,  # type: ignore[arg-type]
                url or "",
                ResponseError("no waiting to retry inside this call"),
            )
        if wait is not None and wait > self.max_wait:
            # urllib3 raises MaxRetryError with the pool it was given, which may be None here too.
            raise MaxRetryError(
                _pool,  # type: ignore[arg-type]
                url or "",
                ResponseError(f"Retry-After {wait:.0f} s is longer than {self.max_wait:g} s"),
            )
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def sleep(self, response: Any = None) -> None:
        wait = _retry_after(response.headers.get("Retry-After")) if response is not None else None
        wait = self.get_backoff_time() if wait is None else wait
        if wait > 0:
            self.sleeper(min(wait, self.max_wait))


class HttpClient:
    """A ``requests`` session bound to one carrier, its timeouts and the secrets to redact."""

    def __init__(
        self,
        carrier: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retries: int = 2,
        backoff: float = 0.5,
        secrets: Iterable[str] = (),
        user_agent: str = "postpurchase-carriers/0.1",
        max_wait: float = DEFAULT_MAX_WAIT,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.carrier = carrier
        self.timeout = timeout
        self.secrets = tuple(s for s in secrets if s)
        self.session = session or requests.Session()
        retry = BoundedRetry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            backoff_factor=backoff,
            backoff_max=max_wait,
            status_forcelist=(502, 503, 504),
            allowed_methods=frozenset({"GET", "HEAD"}),
            respect_retry_after_header=True,
            raise_on_status=False,
            max_wait=max_wait,
            sleep=sleep,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers.setdefault("User-Agent", user_agent)

    def add_secret(self, secret: str) -> None:
        if secret:
            self.secrets = (*self.secrets, secret)

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Any = None,
        data: Any = None,
        json: Any = None,
        auth: Any = None,
    ) -> requests.Response:
        """Send one request; return the response on 2xx, raise a typed error otherwise."""
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                url,
                headers=dict(headers or {}),
                params=params,
                data=data,
                json=json,
                auth=auth,
                timeout=self.timeout,
            )
        except requests.Timeout as exc:
            raise TemporaryError(
                f"timeout calling {self._where(method, url)}", carrier=self.carrier
            ) from exc
        except requests.RequestException as exc:
            raise TemporaryError(
                f"network error calling {self._where(method, url)}: {self.redact(str(exc))}",
                carrier=self.carrier,
            ) from exc
        log.debug(
            "%s %s -> %s in %.0f ms",
            method,
            self.redact(response.url or url),
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        self.raise_for_status(response)
        return response

    def raise_for_status(self, response: requests.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        where = self._where(response.request.method or "", response.url)
        detail = self.redact((response.text or "")[:300])
        message = f"HTTP {status} from {where}: {detail}"
        if status in (401, 403):
            raise AuthError(message, carrier=self.carrier)
        if status == 404:
            raise NotFound(message, carrier=self.carrier)
        if status == 429:
            raise RateLimited(
                message,
                carrier=self.carrier,
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 500:
            raise TemporaryError(message, carrier=self.carrier)
        raise CarrierError(message, carrier=self.carrier)

    def _where(self, method: str, url: str) -> str:
        return f"{method} {self.redact(url.split('?', 1)[0])}"


class OAuthClientCredentials:
    """Fetch and cache an OAuth 2 client-credentials access token (UPS, FedEx, USPS v3).

    ``style`` says how the credentials travel: ``basic`` (HTTP Basic, form body; UPS), ``form``
    (in the form body; FedEx) or ``json`` (JSON body; USPS v3). The token is refreshed
    ``leeway`` seconds before it expires, and :meth:`invalidate` drops it after a 401.
    """

    def __init__(
        self,
        http: HttpClient,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        style: str = "basic",
        scope: str | None = None,
        leeway: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not client_id or not client_secret:
            raise AuthError("client_id and client_secret are required", carrier=http.carrier)
        self.http = http
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.style = style
        self.scope = scope
        self.leeway = leeway
        self.clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        http.add_secret(client_secret)

    def token(self) -> str:
        with self._lock:
            if self._token is None or self.clock() >= self._expires_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def _fetch(self) -> None:
        fields = {"grant_type": "client_credentials"}
        if self.scope:
            fields["scope"] = self.scope
        kwargs: dict[str, Any]
        if self.style == "basic":
            kwargs = {"data": fields, "auth": (self.client_id, self.client_secret)}
        elif self.style == "form":
            kwargs = {
                "data": {**fields, "client_id": self.client_id, "client_secret": self.client_secret}
            }
        else:
            kwargs = {
                "json": {**fields, "client_id": self.client_id, "client_secret": self.client_secret}
            }
        response = self.http.request("POST", self.token_url, **kwargs)
        try:
            body = response.json()
            token = str(body["access_token"])
            lifetime = float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as exc:
            raise AuthError(
                "token response without access_token", carrier=self.http.carrier
            ) from exc
        self.http.add_secret(token)
        self._token = token
        self._expires_at = self.clock() + max(0.0, lifetime - self.leeway)

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send with a bearer token; on 401 fetch a fresh token once and retry."""
        extra = dict(kwargs.pop("headers", None) or {})
        try:
            return self.http.request(method, url, headers={**extra, **self.headers()}, **kwargs)
        except AuthError:
            self.invalidate()
            return self.http.request(method, url, headers={**extra, **self.headers()}, **kwargs)
