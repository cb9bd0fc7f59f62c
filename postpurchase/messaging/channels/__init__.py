"""Channels: email (SMTP), SMS (Twilio), LINE push, LINE notification messages, outgoing webhook."""

from __future__ import annotations

from collections.abc import Mapping

from postpurchase.messaging.channels.base import (
    Envelope,
    MessageChannel,
    Outcome,
    Result,
    credential,
)
from postpurchase.messaging.channels.email import SmtpChannel
from postpurchase.messaging.channels.line import LineNotificationChannel, LinePushChannel
from postpurchase.messaging.channels.sms import TwilioSmsChannel
from postpurchase.messaging.channels.webhook import WebhookChannel
from postpurchase.models import Channel

__all__ = ["Envelope", "MessageChannel", "Outcome", "Result", "configured", "create_channel"]


def _flag(value: object) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def create_channel(
    config: Mapping[str, object], brand_slug: str, channel: Channel
) -> MessageChannel | None:
    """A channel instance with the brand's credentials; None when the brand has none for it."""

    def cred(name: str) -> str | None:
        return credential(config, brand_slug, name)

    if channel == Channel.email:
        return SmtpChannel(
            host=cred("SMTP_HOST") or "127.0.0.1",
            port=int(cred("SMTP_PORT") or 25),
            username=cred("SMTP_USERNAME"),
            password=cred("SMTP_PASSWORD"),
            starttls=_flag(cred("SMTP_STARTTLS")),
            idempotent=_flag(cred("SMTP_IDEMPOTENT")),
        )
    if channel == Channel.sms:
        sid, token, sender = (
            cred("TWILIO_ACCOUNT_SID"),
            cred("TWILIO_AUTH_TOKEN"),
            cred("TWILIO_FROM"),
        )
        if sid and token and sender:
            return TwilioSmsChannel(
                account_sid=sid,
                auth_token=token,
                sender=sender,
                base_url=cred("TWILIO_BASE_URL") or "https://api.twilio.com",
            )
        return None
    if channel in (Channel.line, Channel.line_notification):
        token = cred("LINE_CHANNEL_TOKEN")
        if not token:
            return None
        base = cred("LINE_BASE_URL") or "https://api.line.me"
        cls = LinePushChannel if channel == Channel.line else LineNotificationChannel
        return cls(channel_token=token, base_url=base)
    if channel == Channel.webhook:
        secret = cred("WEBHOOK_SECRET")
        return WebhookChannel(secret=secret) if secret else None
    return None


#: Credentials a channel cannot work without (email uses the installation's SMTP server).
REQUIRED: dict[Channel, tuple[str, ...]] = {
    Channel.email: (),
    Channel.sms: ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"),
    Channel.line: ("LINE_CHANNEL_TOKEN",),
    Channel.line_notification: ("LINE_CHANNEL_TOKEN",),
    Channel.webhook: ("WEBHOOK_SECRET",),
}


def configured(config: Mapping[str, object], brand_slug: str, channel: Channel) -> bool:
    """Whether the brand has what ``channel`` needs, without building a client."""
    return all(credential(config, brand_slug, name) for name in REQUIRED[channel])
