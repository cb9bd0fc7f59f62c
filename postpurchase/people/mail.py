"""The emails that carry one-time links, sent at once through the installation's SMTP channel
(the same path as the weekly insights email): a person waiting for a link should not wait for a job."""

from __future__ import annotations

import logging
import smtplib
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

from flask import Flask, url_for
from flask_babel import force_locale

from postpurchase.i18n import SUPPORTED_LOCALES
from postpurchase.i18n import gettext as _
from postpurchase.messaging.channels import create_channel
from postpurchase.messaging.channels.email import SMTP_POLICY, SmtpChannel
from postpurchase.messaging.outbox import sender_identity
from postpurchase.models import Brand, Channel, Role

log = logging.getLogger(__name__)


def link_url(app: Flask, endpoint: str, token: str) -> str:
    """The public address of a one-time link page (``BASE_URL`` + path)."""
    with app.test_request_context():
        path = url_for(endpoint, token=token)
    return str(app.config["BASE_URL"]).rstrip("/") + path


def _send(app: Flask, brand: Brand, to: str, subject: str, body: str) -> bool:
    """Hand the message to the SMTP server; False (logged) when it cannot be sent now."""
    sender_name, sender_email = sender_identity(brand, app.config)
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = str(Address(sender_name, addr_spec=sender_email))
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message.set_content(body)
    channel = create_channel(app.config, brand.slug, Channel.email)
    if not isinstance(
        channel, SmtpChannel
    ):  # email always has a channel; keep the type checker sure
        return False
    try:
        return not channel.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        log.warning("people email for brand %s not sent: %s", brand.slug, type(exc).__name__)
        return False
    finally:
        channel.close()


def _locale(locale: str) -> str:
    return locale if locale in SUPPORTED_LOCALES else "ja"


def send_invitation(
    app: Flask, *, brand: Brand, to: str, role: Role, token: str, inviter: str
) -> bool:
    """The invitation, in the brand's language."""
    url = link_url(app, "people_links.accept_invitation_page", token)
    with app.test_request_context(), force_locale(_locale(brand.locale)):
        from postpurchase.people.web import role_label

        words = {"brand": brand.name, "role": role_label(role), "inviter": inviter}
        subject = _("You are invited to %(brand)s", **words)
        body = "\n\n".join(
            (
                _("%(inviter)s invites you to work in %(brand)s as %(role)s.", **words),
                _("Choose your password here (the link works once, for 7 days):"),
                url,
                _("If you did not expect this email, ignore it."),
            )
        )
    return _send(app, brand, to, subject, body)


def send_password_reset(app: Flask, *, brand: Brand, to: str, token: str, locale: str) -> bool:
    """The reset link, in the language the person asked in."""
    url = link_url(app, "people_links.reset_password_page", token)
    with app.test_request_context(), force_locale(_locale(locale)):
        subject = _("Reset your password")
        body = "\n\n".join(
            (
                _("Choose a new password here (the link works once, for 1 hour):"),
                url,
                _("If you did not ask for this, ignore this email: your password stays as it is."),
            )
        )
    return _send(app, brand, to, subject, body)
