"""SMS through Twilio's Messages API (``POST /2010-04-01/Accounts/{sid}/Messages.json``).

Twilio offers no idempotency key for sending, so a lost answer is ambiguous and reported.
"""

from __future__ import annotations

from typing import Any

import requests

from postpurchase.messaging.channels.base import (
    Envelope,
    MessageChannel,
    Outcome,
    Result,
    http_outcome,
)
from postpurchase.models import Channel

TWILIO_API = "https://api.twilio.com"
#: Twilio error codes that mean the number will never receive SMS from us.
DEAD_NUMBER_CODES = {21211, 21610, 21614}


class TwilioSmsChannel(MessageChannel):
    channel = Channel.sms
    idempotent = False

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        sender: str,
        base_url: str = TWILIO_API,
        http: requests.Session | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.account_sid, self._auth_token, self.sender = account_sid, auth_token, sender
        self.base_url, self.timeout = base_url.rstrip("/"), timeout
        self.http = http or requests.Session()

    def send(self, envelope: Envelope) -> Outcome:
        url = f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        sender_field = "MessagingServiceSid" if self.sender.startswith("MG") else "From"
        data = {"To": envelope.recipient, sender_field: self.sender, "Body": envelope.text}
        try:
            response = self.http.post(
                url, data=data, auth=(self.account_sid, self._auth_token), timeout=self.timeout
            )
        except requests.ConnectionError as exc:  # includes ConnectTimeout: nothing reached Twilio
            return Outcome(Result.temporary, error=f"Twilio: {type(exc).__name__}")
        except requests.Timeout as exc:  # the request went out; the answer did not come back
            return Outcome(Result.ambiguous, error=f"Twilio: {type(exc).__name__}")
        body = _json(response)
        if 200 <= response.status_code < 300:
            return Outcome(Result.sent, provider_id=body.get("sid"))
        outcome = http_outcome(response.status_code, response.text)
        if body.get("code") in DEAD_NUMBER_CODES:
            return Outcome(Result.permanent, error=outcome.error, bounce=True)
        return outcome


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
