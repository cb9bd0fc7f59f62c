"""Who is sending: the brand of a webhook's API key, remembered for a few seconds per process.

Every webhook needs the brand's id and signing secret before anything else; looking them up in
the database took about half of the request's time. A revoked key therefore keeps working for at
most :data:`TTL_SECONDS` in a process that saw it just before; the signature check still applies.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from flask import Flask, current_app

from postpurchase.brands import hash_api_key
from postpurchase.web.auth import bearer_token, require_brand

TTL_SECONDS = 10.0
EXTENSION_KEY = "postpurchase.intake_senders"


@dataclass(frozen=True)
class Sender:
    brand_id: int
    signing_secret: str
    #: The secret before the last rotation, accepted until ``previous_until``.
    previous_secret: str | None = None
    previous_until: datetime | None = None

    def signing_secrets(self, now: datetime) -> tuple[str, ...]:
        """The secrets a signature may be made with at ``now``."""
        if self.previous_secret and self.previous_until and self.previous_until > now:
            return (self.signing_secret, self.previous_secret)
        return (self.signing_secret,)


class SenderCache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Sender]] = {}
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> Sender | None:
        entry = self._entries.get(key_hash)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key_hash: str, sender: Sender) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key_hash] = (time.monotonic() + TTL_SECONDS, sender)


def _cache(app: Flask) -> SenderCache:
    cache: SenderCache | None = app.extensions.get(EXTENSION_KEY)
    if cache is None:
        cache = app.extensions.setdefault(EXTENSION_KEY, SenderCache())
        assert isinstance(cache, SenderCache)
    return cache


def require_sender() -> Sender:
    """The sending brand of this request's API key, or the 401 of :func:`require_brand`."""
    token = bearer_token()
    cache = _cache(current_app)
    key_hash = hash_api_key(token) if token else ""
    sender = cache.get(key_hash) if token else None
    if sender is None:
        brand = require_brand()
        assert brand.id is not None
        sender = Sender(
            brand.id,
            brand.signing_secret,
            brand.previous_signing_secret,
            brand.previous_signing_secret_until,
        )
        cache.put(key_hash, sender)
    return sender
