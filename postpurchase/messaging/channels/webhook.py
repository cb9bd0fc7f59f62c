"""Outgoing webhook: the message as JSON to the brand's endpoint, signed like our intake.

``X-Postpurchase-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>`` with the brand's
webhook secret, and ``Idempotency-Key`` so the receiver can drop a retried delivery. Retries with
backoff come from the outbox. A system webhook (``payload["document"]``, e.g. the returns WMS feed)
is posted as that document instead of the message shape.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import requests

from postpurchase.clock import utcnow
from postpurchase.messaging.channels.base import (
    Envelope,
    MessageChannel,
    Outcome,
    Result,
    http_outcome,
)
from postpurchase.models import Channel


def signature(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class WebhookChannel(MessageChannel):
    channel = Channel.webhook
    idempotent = True

    def __init__(
        self, *, secret: str, http: requests.Session | None = None, timeout: float = 10.0
    ) -> None:
        self._secret = secret
        self.http = http or requests.Session()
        self.timeout = timeout

    def send(self, envelope: Envelope) -> Outcome:
        document = envelope.payload.get(
            "document"
        )  # a system webhook's own body (triggers.enqueue_document)
        body = json.dumps(
            document
            if document is not None
            else {
                "id": envelope.idempotency_key,
                "trigger": envelope.payload.get("trigger"),
                "subject": envelope.subject,
                "text": envelope.text,
                "context": envelope.payload.get("context", {}),
            },
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": envelope.idempotency_key,
            "X-Postpurchase-Signature": signature(self._secret, body, int(utcnow().timestamp())),
        }
        try:
            response = self.http.post(
                envelope.recipient, data=body, headers=headers, timeout=self.timeout
            )
        except requests.ReadTimeout as exc:
            return Outcome(Result.ambiguous, error=f"webhook: {type(exc).__name__}")
        except requests.RequestException as exc:
            return Outcome(Result.temporary, error=f"webhook: {type(exc).__name__}")
        return http_outcome(
            response.status_code, response.text, provider_id=response.headers.get("X-Request-Id")
        )
