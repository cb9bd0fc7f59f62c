"""Email over SMTP: one connection for several messages, HTML with a plain-text part.

A failure before the message data was handed over is temporary (nothing was sent). A failure while
handing it over or waiting for the server's answer is ambiguous: the server may have accepted it.
The Message-ID is derived from the idempotency key, so a receiving system that deduplicates by
Message-ID (our sink does; set ``SMTP_IDEMPOTENT``) drops a second copy.
"""

from __future__ import annotations

import contextlib
import smtplib
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

from postpurchase.messaging.channels.base import Envelope, MessageChannel, Outcome, Result
from postpurchase.models import Channel

#: CRLF line ends for SMTP; long lines allowed so a List-Unsubscribe URL is never encoded or broken.
SMTP_POLICY = policy.SMTP.clone(max_line_length=998)


def build_email(envelope: Envelope) -> EmailMessage:
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = str(Address(envelope.sender_name, addr_spec=envelope.sender_email))
    message["To"] = envelope.recipient
    message["Subject"] = envelope.subject
    message["Date"] = formatdate(localtime=False)
    for name, value in envelope.headers.items():
        message[name] = value
    message.set_content(envelope.text)
    if envelope.html:
        message.add_alternative(envelope.html, subtype="html")
    return message


class SmtpChannel(MessageChannel):
    channel = Channel.email

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        idempotent: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._username, self._password = username, password
        self.starttls = starttls
        self.idempotent = idempotent
        self._smtp: smtplib.SMTP | None = None

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.starttls:
                smtp.starttls()
            if self._username:
                smtp.login(self._username, self._password or "")
            self._smtp = smtp
        return self._smtp

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.quit()
            self._smtp = None

    def _drop(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(OSError):
                self._smtp.close()
            self._smtp = None

    def send(self, envelope: Envelope) -> Outcome:
        message = build_email(envelope)
        try:
            smtp = self._connection()
            smtp.ehlo_or_helo_if_needed()
            code, reply = smtp.mail(envelope.sender_email)
            if code == 250:
                code, reply = smtp.rcpt(envelope.recipient)
            if code not in (250, 251):
                smtp.rset()
                return _refused(code, reply)
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            return Outcome(Result.temporary, error=f"SMTP before data: {type(exc).__name__}: {exc}")
        try:
            code, reply = smtp.data(message.as_bytes())
        except smtplib.SMTPDataError as exc:  # DATA itself refused: nothing was handed over
            return _refused(exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            return Outcome(Result.ambiguous, error=f"SMTP during data: {type(exc).__name__}: {exc}")
        if code != 250:
            return _refused(code, reply)
        return Outcome(Result.sent, provider_id=envelope.headers.get("Message-ID"))

    def send_message(self, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        """Hand over a ready-made message (e.g. one with attachments) to its To addresses.

        Returns the recipients the server refused while accepting others; raises
        ``smtplib.SMTPException`` or ``OSError`` when it refuses all of them or cannot be reached.
        """
        try:
            return self._connection().send_message(message)
        except (smtplib.SMTPException, OSError):
            self._drop()
            raise


def _refused(code: int, reply: bytes | str) -> Outcome:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    detail = f"SMTP {code} {text}"[:500]
    if 500 <= code < 600:
        return Outcome(Result.permanent, error=detail, bounce=code in (550, 551, 553))
    return Outcome(Result.temporary, error=detail)
