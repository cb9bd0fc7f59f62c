"""LINE: Messaging API push (friends of the brand's account) and LINE notification messages
(template messages to a hashed phone number, no friend-add needed).

Push supports ``X-Line-Retry-Key``: the same key is accepted once and a retry answers 409, so a
crashed send is safely repeated. The notification-message API does not support retry keys; a lost
answer there is ambiguous and reported.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import requests

from postpurchase.messaging.channels.base import (
    Envelope,
    MessageChannel,
    Outcome,
    Result,
    http_outcome,
)
from postpurchase.models import Channel

LINE_API = "https://api.line.me"
#: Namespace for retry keys: the same idempotency key always gives the same UUID.
RETRY_KEY_NAMESPACE = uuid.UUID("6f1d3b9e-8a55-4f53-9a43-2f0b7f3d5c11")


def retry_key(idempotency_key: str) -> str:
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, idempotency_key))


class _LineBase(MessageChannel):
    def __init__(
        self,
        *,
        channel_token: str,
        base_url: str = LINE_API,
        http: requests.Session | None = None,
        timeout: float = 15.0,
    ) -> None:
        self._token = channel_token
        self.base_url, self.timeout = base_url.rstrip("/"), timeout
        self.http = http or requests.Session()

    def _post(
        self, path: str, body: dict[str, Any] | None, headers: dict[str, str]
    ) -> requests.Response | Outcome:
        try:
            return self.http.post(
                f"{self.base_url}{path}",
                json=body,
                timeout=self.timeout,
                headers={"Authorization": f"Bearer {self._token}", **headers},
            )
        except requests.ReadTimeout as exc:
            return Outcome(Result.ambiguous, error=f"LINE: {type(exc).__name__}")
        except requests.RequestException as exc:
            return Outcome(Result.temporary, error=f"LINE: {type(exc).__name__}")


class LineBot(_LineBase):
    """The calls the bot makes while answering a webhook: replies and account-link tokens."""

    def reply(self, reply_token: str, messages: list[dict[str, Any]]) -> Outcome:
        """Answer an event; a reply token is valid once, for about a minute, so never retried."""
        response = self._post(
            "/v2/bot/message/reply", {"replyToken": reply_token, "messages": messages[:5]}, {}
        )
        if isinstance(response, Outcome):
            return response
        return http_outcome(
            response.status_code,
            response.text,
            provider_id=response.headers.get("x-line-request-id"),
        )

    def link_token(self, user_id: str) -> str | None:
        """A link token for the account-link flow (valid ten minutes, once); None on failure."""
        response = self._post(f"/v2/bot/user/{quote(user_id, safe='')}/linkToken", None, {})
        if isinstance(response, Outcome) or response.status_code != 200:
            return None
        token = response.json().get("linkToken")
        return token if isinstance(token, str) else None


class LinePushChannel(_LineBase):
    channel = Channel.line
    idempotent = True

    def send(self, envelope: Envelope) -> Outcome:
        # A Flex Message when the sender rendered one (the push goes to a friend of the account).
        flex = envelope.payload.get("line_flex")
        message = flex or {"type": "text", "text": envelope.text[:5000]}
        response = self._post(
            "/v2/bot/message/push",
            {"to": envelope.recipient, "messages": [message]},
            {"X-Line-Retry-Key": retry_key(envelope.idempotency_key)},
        )
        if isinstance(response, Outcome):
            return response
        if response.status_code == 409:  # accepted before, under this retry key
            return Outcome(
                Result.sent, provider_id=response.headers.get("x-line-accepted-request-id")
            )
        sent = response.json().get("sentMessages", []) if response.status_code == 200 else []
        return http_outcome(
            response.status_code,
            response.text,
            provider_id=sent[0]["id"] if sent else response.headers.get("x-line-request-id"),
        )


class LineNotificationChannel(_LineBase):
    channel = Channel.line_notification
    idempotent = False

    def send(self, envelope: Envelope) -> Outcome:
        message = envelope.payload["line_notification"]
        body = {
            "to": envelope.recipient,
            "templateKey": message["templateKey"],
            "body": message["body"],
        }
        # The delivery tag comes back in the delivery-completion webhook (16–100 characters).
        response = self._post(
            "/v2/bot/message/pnp/templated/push",
            body,
            {"X-Line-Delivery-Tag": retry_key(envelope.idempotency_key)},
        )
        if isinstance(response, Outcome):
            return response
        return http_outcome(
            response.status_code,
            response.text,
            provider_id=response.headers.get("x-line-request-id"),
        )
