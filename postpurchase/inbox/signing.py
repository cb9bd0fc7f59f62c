"""Webhook signatures: ours (``X-Postpurchase-Signature``) and Shopify's (``X-Shopify-Hmac-Sha256``).

Both are computed over the exact raw body, before any JSON parsing, and compared with
:func:`hmac.compare_digest`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from enum import StrEnum

SIGNATURE_HEADER = "X-Postpurchase-Signature"

#: Unix seconds as plain ASCII digits; twelve digits reach the year 33658.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{1,128}")


class Verdict(StrEnum):
    ok = "ok"
    missing = "missing"
    malformed = "malformed"
    expired = "expired"
    mismatch = "mismatch"


def sign(secret: str, raw_body: bytes, timestamp: int) -> str:
    """The ``X-Postpurchase-Signature`` value: ``t=<unix>,v1=<hex HMAC-SHA256 of "t.body">``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(
    header: str | None, secret: str, raw_body: bytes, *, now: float, tolerance_seconds: int
) -> Verdict:
    """Check a signature header; several ``v1=`` values are allowed (secret rotation)."""
    if not header:
        return Verdict.missing
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            if not _TIMESTAMP.fullmatch(value):
                return Verdict.malformed
            timestamp = int(value)
        elif key == "v1":
            if not _HEX_DIGEST.fullmatch(value):
                return Verdict.malformed
            candidates.append(value.lower())
    if timestamp is None or not candidates:
        return Verdict.malformed
    if abs(now - timestamp) > tolerance_seconds:
        return Verdict.expired
    expected = sign(secret, raw_body, timestamp).rpartition("v1=")[2]
    if any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        return Verdict.ok
    return Verdict.mismatch


def shopify_hmac(secret: str, raw_body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()).decode()


def verify_shopify(header: str | None, secret: str, raw_body: bytes) -> Verdict:
    """Check ``X-Shopify-Hmac-Sha256``; any header bytes are compared, none raise."""
    if not header:
        return Verdict.missing
    given = header.strip().encode("utf-8", "surrogateescape")
    if hmac.compare_digest(shopify_hmac(secret, raw_body).encode(), given):
        return Verdict.ok
    return Verdict.mismatch


LINE_SIGNATURE_HEADER = "X-Line-Signature"


def verify_line(header: str | None, channel_secret: str, raw_body: bytes) -> Verdict:
    """Check LINE's ``X-Line-Signature``: the same base64 HMAC-SHA256 of the raw body as Shopify's,
    keyed with the channel secret. LINE signs no timestamp, so duplicates are left to the inbox."""
    return verify_shopify(header, channel_secret, raw_body)
