"""Signed tokens for links in messages: feedback, unsubscribe, open pixel and click redirect.

Tokens carry ids, never personal data in clear beyond what the link needs, and are signed with the
app's secret key (passed in: see :class:`~postpurchase.messaging.settings.MessagingSettings`); a
separate salt per purpose keeps a token for one page useless on another.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer


@lru_cache(maxsize=64)
def _serializer(secret_key: str, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=f"postpurchase.messages.{purpose}")


def make_token(secret_key: str, purpose: str, data: dict[str, Any]) -> str:
    return _serializer(secret_key, purpose).dumps(data)


def read_token(secret_key: str, purpose: str, token: str) -> dict[str, Any] | None:
    """The data of a valid token; None for a forged, truncated or wrong-purpose token."""
    try:
        data = _serializer(secret_key, purpose).loads(token)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None
