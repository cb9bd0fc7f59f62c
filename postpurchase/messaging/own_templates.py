"""Reading a brand's own message texts (``MessageTemplate`` rows) for the renderer and the doors
that edit them; writing them is :mod:`postpurchase.settings.message_templates`."""

from __future__ import annotations

from sqlmodel import Session, col, select

from postpurchase.models import MessageTemplate


def own_sources(*, session: Session, brand_id: int, trigger: str, locale: str) -> dict[str, str]:
    """Part → the brand's own text of ``trigger``'s message in ``locale`` (empty: none of its own)."""
    rows = session.exec(
        select(MessageTemplate).where(
            MessageTemplate.brand_id == brand_id,
            MessageTemplate.trigger == trigger,
            MessageTemplate.locale == locale,
        )
    )
    return {row.part: row.source for row in rows}


def all_own(*, session: Session, brand_id: int) -> list[MessageTemplate]:
    """Every own text of the brand, by trigger, locale and part."""
    return list(
        session.exec(
            select(MessageTemplate)
            .where(MessageTemplate.brand_id == brand_id)
            .order_by(
                col(MessageTemplate.trigger),
                col(MessageTemplate.locale),
                col(MessageTemplate.part),
            )
        )
    )
