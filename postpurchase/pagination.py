"""Cursor (keyset) pagination of a select statement, for every long list a page or an API shows.

A page is read as ``ORDER BY key DESC, id DESC LIMIT n + 1`` and continued from the last row's
``(key, id)``, so a page never skips or repeats rows when new ones arrive, and page 1000 costs what
page 1 costs. The cursor is opaque to the client: URL-safe base64 of the last row's values.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import and_, or_
from sqlmodel import Session

T = TypeVar("T")
R = TypeVar("R")


class BadCursor(ValueError):
    """A cursor this module did not write (edited, truncated or of another list)."""


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    #: Where the next page starts; None on the last page.
    next_cursor: str | None


@dataclass(frozen=True)
class SortKey:
    """Sort by ``column`` then ``tiebreak`` (a unique, non-null column: the id), both one way."""

    column: Any
    tiebreak: Any
    descending: bool = True


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"dt"}:
            return datetime.fromisoformat(str(value["dt"]))
        if set(value) == {"d"}:
            return date.fromisoformat(str(value["d"]))
        raise BadCursor("unknown value in cursor")
    if value is None or isinstance(value, int | str | float):
        return value
    raise BadCursor("unknown value in cursor")


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, length: int = 2) -> list[Any]:
    """The values of a cursor from :func:`encode_cursor`; :class:`BadCursor` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor("not a cursor") from None
    if not isinstance(values, list) or len(values) != length:
        raise BadCursor("not a cursor of this list")
    try:
        return [_decode_value(v) for v in values]
    except (TypeError, ValueError):
        raise BadCursor("not a cursor") from None


def paginate(
    session: Session,
    query: Any,
    *,
    sort: SortKey,
    cursor: str | None,
    limit: int,
    key: Callable[[Any], tuple[Any, Any]],
) -> Page[Any]:
    """One page of ``query`` (a select of whole rows) in ``sort`` order, from ``cursor`` on.

    ``key`` gives a row's ``(sort value, id)``, written into the next page's cursor.
    """
    column, tiebreak = sort.column, sort.tiebreak
    if cursor is not None:
        value, last_id = decode_cursor(cursor)
        if sort.descending:
            after = or_(column < value, and_(column == value, tiebreak < last_id))
        else:
            after = or_(column > value, and_(column == value, tiebreak > last_id))
        query = query.where(after)
    order = (column.desc(), tiebreak.desc()) if sort.descending else (column.asc(), tiebreak.asc())
    rows = list(session.exec(query.order_by(*order).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(key(rows[-1])) if more and rows else None)


def map_page(page: Page[T], convert: Callable[[list[T]], list[R]]) -> Page[R]:
    """The same page with its rows converted (e.g. rows to views), cursor unchanged."""
    return Page(convert(page.rows), page.next_cursor)
