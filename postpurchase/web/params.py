"""Typed reading of query-string and form values: a bad value is a 400 that names the field.

Views read parameters through :class:`Params` instead of calling ``int()`` or an enum by hand, so a
page never answers garbage with a 500::

    params = Params(request.args)
    state = params.enum("state", OutboxState)
    shipment_id = params.id("shipment_id")
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from enum import Enum
from typing import TypeVar

from flask import request
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.routing import IntegerConverter

from postpurchase.i18n import SUPPORTED_LOCALES
from postpurchase.pagination import BadCursor, decode_cursor

E = TypeVar("E", bound=Enum)

#: The largest id a database row can have (id columns are ``integer``, signed 32-bit on
#: PostgreSQL); larger numbers name nothing, and comparing a column with them overflows.
MAX_ID = 2**31 - 1

#: Dates a page accepts: far enough apart for any report, close enough that date arithmetic never overflows.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2999, 12, 31)


class BadParameter(BadRequest):
    """A query-string or form value that is missing, malformed or not one of the allowed values.

    As JSON its details have the shape of every other validation error of the API:
    ``[{"loc": "query.<field>", "msg": ..., "allowed": [...]}]``.
    """

    def __init__(
        self,
        field: str,
        message: str,
        allowed: Collection[str] | None = None,
        *,
        where: str = "query",
    ) -> None:
        super().__init__(description=f"{field}: {message}")
        self.field = field
        self.message = message
        self.where = where
        self.allowed = list(allowed) if allowed is not None else None

    @property
    def details(self) -> list[dict[str, object]]:
        detail: dict[str, object] = {"loc": f"{self.where}.{self.field}", "msg": self.message}
        if self.allowed is not None:
            detail["allowed"] = self.allowed
        return [detail]


def whole_number(field: str, raw: str, *, low: int = -MAX_ID, high: int = MAX_ID) -> int:
    """``raw`` as a whole number from ``low`` to ``high``; a :class:`BadParameter` naming ``field`` otherwise."""
    raw = raw.strip()
    # ASCII digits only: int() also reads "١٢" or "1_000", which no form sends on purpose.
    digits = raw.removeprefix("-")
    if not digits.isascii() or not digits.isdigit():
        raise BadParameter(field, "must be a whole number")
    # Longer than any bound; also spares int() thousands of digits.
    value = int(raw) if len(digits) <= 20 else (high + 1 if raw[0] != "-" else low - 1)
    if not low <= value <= high:
        raise BadParameter(field, f"must be a whole number from {low} to {high}")
    return value


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def refuse_nul_bytes() -> None:
    """Before every request: a query or form value with a NUL byte is a 400 naming the field.

    No field means NUL, and PostgreSQL text cannot hold it, so it would otherwise surface as a
    database error wherever the value is searched or stored.
    """
    # Only a form body is read here: other bodies (JSON webhooks) stay untouched for their views,
    # which check their size and signature on the raw bytes.
    sources = [("query", request.args)]
    if request.mimetype in FORM_TYPES:
        sources.append(("form", request.form))
    for where, values in sources:
        for name, value in values.items(multi=True):
            if "\x00" in name or "\x00" in value:
                raise BadParameter(
                    name.replace("\x00", "\\0"), "must not contain NUL characters", where=where
                )


class Params:
    """Typed access to ``values`` (``request.args`` or ``request.form``); an empty value counts as absent."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values

    def raw(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if value else None

    def choice(self, name: str, allowed: Collection[str], default: str | None = None) -> str | None:
        raw = self.raw(name)
        if raw is None:
            return default
        if raw not in allowed:
            raise BadParameter(name, "must be one of " + ", ".join(allowed), allowed)
        return raw

    def enum(self, name: str, enum: type[E], default: E | None = None) -> E | None:
        raw = self.choice(name, [member.value for member in enum])
        return enum(raw) if raw is not None else default

    def required_enum(self, name: str, enum: type[E], message: str, *, where: str = "form") -> E:
        """Like :meth:`enum`, but a missing value is a 400 naming the field and listing its choices."""
        value = self.enum(name, enum)
        if value is None:
            raise BadParameter(name, message, [member.value for member in enum], where=where)
        return value

    def locale(self, name: str, default: str) -> str:
        """A locale the app has translations for (``ja``, ``en``)."""
        return self.choice(name, SUPPORTED_LOCALES, default) or default

    def integer(
        self, name: str, default: int | None = None, *, low: int = -MAX_ID, high: int = MAX_ID
    ) -> int | None:
        """A whole number from ``low`` to ``high`` (by default anything a database column holds)."""
        raw = self.raw(name)
        return default if raw is None else whole_number(name, raw, low=low, high=high)

    def id(self, name: str) -> int | None:
        """The id of a row: a whole number from 1 to :data:`MAX_ID`."""
        return self.integer(name, low=1, high=MAX_ID)

    def date(self, name: str, default: date | None = None) -> date | None:
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            value = date.fromisoformat(raw)
        except ValueError:
            raise BadParameter(name, "must be a date written YYYY-MM-DD") from None
        if not EARLIEST_DATE <= value <= LATEST_DATE:
            raise BadParameter(name, f"must be between {EARLIEST_DATE} and {LATEST_DATE}")
        return value

    def cursor(self, name: str = "cursor") -> str | None:
        """A page cursor written by :mod:`postpurchase.pagination` (checked here, read by the query)."""
        raw = self.raw(name)
        if raw is None:
            return None
        try:
            decode_cursor(raw)
        except BadCursor:
            raise BadParameter(
                name, "is not a cursor of this list; start from the first page"
            ) from None
        return raw


class IdConverter(IntegerConverter):
    """``<int:...>`` in routes: any run of digits matches, so :func:`refuse_ids_out_of_range` can
    answer an id no row can have with a 404 that names the path field (never a database overflow).

    Runs longer than any id are read as ``MAX_ID + 1`` instead of being converted digit by digit.
    """

    def to_python(self, value: str) -> int:
        if len(value) > len(str(MAX_ID)):
            return MAX_ID + 1
        return int(value)


def refuse_ids_out_of_range(endpoint: str | None, values: dict[str, object] | None) -> None:
    """Before every view: a path id beyond :data:`MAX_ID` is a 404 naming its field."""
    for name, value in (values or {}).items():
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_ID:
            raise IdOutOfRange(name)


class IdOutOfRange(NotFound):
    """A path id that no row can have."""

    def __init__(self, field: str) -> None:
        super().__init__(description=f"{field}: no such id")
        self.details = [{"loc": f"path.{field}", "msg": "no such id"}]
