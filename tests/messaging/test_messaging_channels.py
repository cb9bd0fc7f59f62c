"""Each channel builds the provider's real request and maps its answers to outcomes."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import parse_qs

import responses

from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.channels import Envelope, Result
from postpurchase.messaging.channels.line import LineNotificationChannel, LinePushChannel, retry_key
from postpurchase.messaging.channels.sms import TwilioSmsChannel
from postpurchase.messaging.channels.webhook import WebhookChannel
from postpurchase.messaging.context import hashed_phone
from postpurchase.models import Channel

TWILIO_URL = "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"


def _envelope(channel: Channel, recipient: str, **kwargs) -> Envelope:
    return Envelope(
        message_id=1,
        brand_slug="acme",
        channel=channel,
        recipient=recipient,
        subject="発送しました",
        text="Acme: 発送しました。",
        idempotency_key="1:shipped:s1:" + channel,
        **kwargs,
    )


@responses.activate
def test_twilio_request_is_a_form_post_with_basic_auth() -> None:
    responses.post(TWILIO_URL, status=201, json={"sid": "SMabc", "status": "queued"})
    outcome = TwilioSmsChannel(account_sid="AC123", auth_token="tok", sender="+815012345678").send(
        _envelope(Channel.sms, "+819012345678")
    )
    request = responses.calls[0].request
    assert (outcome.result, outcome.provider_id) == (Result.sent, "SMabc")
    assert parse_qs(request.body) == {
        "To": ["+819012345678"],
        "From": ["+815012345678"],
        "Body": ["Acme: 発送しました。"],
    }
    assert request.headers["Authorization"].startswith("Basic ")


@responses.activate
def test_twilio_invalid_number_is_permanent_and_a_bounce() -> None:
    responses.post(
        TWILIO_URL, status=400, json={"code": 21211, "message": "Invalid 'To' Phone Number"}
    )
    outcome = TwilioSmsChannel(account_sid="AC123", auth_token="tok", sender="+815012345678").send(
        _envelope(Channel.sms, "+81")
    )
    assert (outcome.result, outcome.bounce) == (Result.permanent, True)


@responses.activate
def test_twilio_rate_limit_is_temporary() -> None:
    responses.post(TWILIO_URL, status=429, json={"code": 20429, "message": "Too Many Requests"})
    outcome = TwilioSmsChannel(account_sid="AC123", auth_token="tok", sender="MG123").send(
        _envelope(Channel.sms, "+819012345678")
    )
    assert outcome.result == Result.temporary
    assert parse_qs(responses.calls[0].request.body)["MessagingServiceSid"] == ["MG123"]


@responses.activate
def test_line_push_sends_text_with_a_stable_retry_key() -> None:
    responses.post(
        "https://api.line.me/v2/bot/message/push",
        status=200,
        json={"sentMessages": [{"id": "461230966842064897", "quoteToken": "q"}]},
    )
    envelope = _envelope(Channel.line, "U4af4980629")
    outcome = LinePushChannel(channel_token="tok").send(envelope)
    request = responses.calls[0].request
    assert (outcome.result, outcome.provider_id) == (Result.sent, "461230966842064897")
    assert json.loads(request.body) == {
        "to": "U4af4980629",
        "messages": [{"type": "text", "text": "Acme: 発送しました。"}],
    }
    assert request.headers["X-Line-Retry-Key"] == retry_key(envelope.idempotency_key)
    assert request.headers["Authorization"] == "Bearer tok"


def test_line_notification_addresses_the_sha256_of_the_e164_number() -> None:
    assert hashed_phone("080-0000-1234") == hashlib.sha256(b"+818000001234").hexdigest()


@responses.activate
def test_line_notification_posts_a_template_message_without_retry_key() -> None:
    responses.post(
        "https://api.line.me/v2/bot/message/pnp/templated/push",
        status=200,
        json={},
        headers={"x-line-request-id": "req-9"},
    )
    body = {
        "templateKey": "shipment_completed_ja",
        "body": {
            "emphasizedItem": {"itemKey": "date_002_ja", "content": "11月25日(水)"},
            "items": [{"itemKey": "time_range_001_ja", "content": "午前中"}],
            "buttons": [{"buttonKey": "check_delivery_status_ja", "url": "https://t.example/1"}],
        },
    }
    envelope = _envelope(
        Channel.line_notification,
        hashed_phone("090-1234-5678"),
        payload={"line_notification": body},
    )
    outcome = LineNotificationChannel(channel_token="tok").send(envelope)
    request = responses.calls[0].request
    assert (outcome.result, outcome.provider_id) == (Result.sent, "req-9")
    assert json.loads(request.body) == {"to": hashed_phone("090-1234-5678"), **body}
    assert (
        "X-Line-Retry-Key" not in request.headers
        and 16 <= len(request.headers["X-Line-Delivery-Tag"]) <= 100
    )


@responses.activate
def test_webhook_is_signed_like_our_intake_and_carries_the_idempotency_key() -> None:
    responses.post("https://crm.example/hooks", status=202)
    envelope = _envelope(
        Channel.webhook,
        "https://crm.example/hooks",
        payload={"trigger": Trigger.shipped, "context": {}},
    )
    outcome = WebhookChannel(secret="whsec_1").send(envelope)
    request = responses.calls[0].request
    timestamp, digest = (
        part.split("=", 1)[1] for part in request.headers["X-Postpurchase-Signature"].split(",")
    )
    expected = hmac.new(
        b"whsec_1", f"{timestamp}.".encode() + request.body, hashlib.sha256
    ).hexdigest()
    assert outcome.result == Result.sent and hmac.compare_digest(digest, expected)
    assert request.headers["Idempotency-Key"] == envelope.idempotency_key
    assert json.loads(request.body)["trigger"] == "shipped"


@responses.activate
def test_webhook_server_error_is_temporary_and_gone_is_permanent() -> None:
    responses.post("https://crm.example/a", status=503)
    responses.post("https://crm.example/b", status=410)
    channel = WebhookChannel(secret="s")
    assert (
        channel.send(_envelope(Channel.webhook, "https://crm.example/a")).result == Result.temporary
    )
    assert (
        channel.send(_envelope(Channel.webhook, "https://crm.example/b")).result == Result.permanent
    )
