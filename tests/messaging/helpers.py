"""Small readers shared by the messaging tests."""

from __future__ import annotations

from sqlmodel import Session, select

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
