"""Small readers shared by the messaging tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from postpurchase.clock import utcnow
from postpurchase.messaging import current_settings
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.operations import content_of
from postpurchase.models import OutboxMessage


def messages(session: Session, trigger: str | None = None) -> list[OutboxMessage]:
    session.commit()  # ends the read snapshot, so rows the sender committed are visible
    session.expire_all()
    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    if trigger:
        stmt = stmt.where(OutboxMessage.trigger == trigger)
    return list(session.exec(stmt).all())


def only(session: Session, trigger: str) -> OutboxMessage:
    rows = messages(session, trigger)
    assert len(rows) == 1, [(r.trigger, r.channel, r.state, r.error) for r in rows]
    return rows[0]


@dataclass
class Shown:
    """A message with the content it has when sent (rows are written without wording and rendered by
    the sender; this renders the way the sender and the merchant's log do)."""

    message: OutboxMessage
    subject: str
    body_text: str
    body_html: str | None
    payload: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.message, name)


def show(session: Session, message: OutboxMessage) -> Shown:
    """Rendered the way the merchant's log does, with the running app's settings."""
    content = content_of(
        session=session, messaging=current_settings(), message=message, now=utcnow()
    )
    return Shown(message, content.subject, content.text, content.html, content.payload)


def rendered(session: Session, trigger: str) -> Shown:
    """The one ``trigger`` message, rendered from the data as it is now."""
    return show(session, only(session, trigger))


def failed_while_smtp_was_down(
    app: Any, make_shop: Any, session: Session, count: int = 2
) -> list[OutboxMessage]:
    """``count`` shipped messages that failed (one attempt allowed) while nobody listened for SMTP."""
    from postpurchase import signals
    from postpurchase.messaging.outbox import send_due
    from tests.messaging.conftest import NOW, free_port

    for _ in range(count):
        shop = make_shop()
        shop.configure(max_attempts=1)
        signals.shipment_created.send(
            shop.brand.id, session=session, shipment_id=shop.shipment.id, now=NOW
        )
    session.commit()
    port = app.config["SMTP_PORT"]
    app.config["SMTP_PORT"] = free_port()
    send_due(app, now=NOW)
    app.config["SMTP_PORT"] = port
    return messages(session, Trigger.shipped)
