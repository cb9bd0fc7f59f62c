"""Signed tokens for links in messages: feedback, unsubscribe, open pixel and click redirect.

Tokens carry ids, never personal data in clear beyond what the link needs, and are signed with the
app's secret key; a separate salt per purpose keeps a token for one page useless on another.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer


def _serializer(purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(str(current_app.config["SECRET_KEY"]), salt=f"postpurchase.messages.{purpose}")


def make_token(purpose: str, data: dict[str, Any]) -> str:
    return _serializer(purpose).dumps(data)


def read_token(purpose: str, token: str) -> dict[str, Any] | None:
    """The data of a valid token; None for a forged, truncated or wrong-purpose token."""
    try:
        data = _serializer(purpose).loads(token)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None


def public_url(path: str) -> str:
    return str(current_app.config["BASE_URL"]).rstrip("/") + path
