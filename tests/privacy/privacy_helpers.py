"""Constants and readers for privacy tests (plain functions: no conftest, no fixture clashes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, SQLModel

from postpurchase.intake.examples import STORY
from postpurchase.intake.schemas import EventType

EMAIL = "hanako.yamada@example.jp"
PHONE = "090-1234-5678"
NAME = "山田 花子"
#: The story up to the parcel coming back: an order, two parcels, a return, but nothing cancelled.
UNTIL_RETURN = STORY[: STORY.index(EventType.return_received) + 1]


def brand_values(session: Session, brand_id: int) -> Iterator[tuple[str, str, Any]]:
    """``(table, column, value)`` of every column of every row of the brand, in every table that has ``brand_id``.

    Built from ``SQLModel.metadata``, so a table or column added later is searched too.
    """
    for table in SQLModel.metadata.sorted_tables:
        if "brand_id" not in table.c:
            continue
        for row in session.execute(select(table).where(table.c.brand_id == brand_id)).mappings():
            for column, value in row.items():
                yield table.name, column, value


def mentions(value: Any, needle: str) -> bool:
    """Whether a stored value contains ``needle``, as text, inside JSON, or in a raw (JSON) body."""
    if isinstance(value, bytes | memoryview):
        raw = bytes(value).lower()
        return needle.lower().encode() in raw or json.dumps(needle.lower())[1:-1].encode() in raw
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    return isinstance(value, str) and needle.lower() in value.lower()


def where_mentioned(session: Session, brand_id: int, needles: tuple[str, ...]) -> set[str]:
    """``table.column`` of every place the brand stores any of ``needles``."""
    return {
        f"{table}.{column}"
        for table, column, value in brand_values(session, brand_id)
        if any(mentions(value, needle) for needle in needles)
    }
