"""Field errors of the settings in the reader's language, from pydantic's error ``type`` and ``ctx``.

Pydantic words its messages in English only; the console and the API show these instead (the API
keeps the machine ``type`` next to the words). A type without words of its own keeps pydantic's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from postpurchase.i18n import gettext as _
from postpurchase.settings.model import Clock, Colour, Email, Url


def _pattern_of(annotated: Any) -> str:
    """The ``pattern`` of an ``Annotated[str, Field(pattern=...)]`` of the model."""
    constraints = (c for m in annotated.__metadata__ for c in getattr(m, "metadata", [m]))
    return str(next(c.pattern for c in constraints if getattr(c, "pattern", None)))


def _pattern_words() -> dict[str, Callable[[], str]]:
    """The model's named patterns (emails, URLs, times, colours) have words of their own."""
    return {
        _pattern_of(Email): lambda: _("Must be an email address."),
        _pattern_of(Url): lambda: _("Must be a web address starting with http:// or https://."),
        _pattern_of(Clock): lambda: _("Must be a time as HH:MM (00:00–23:59)."),
        _pattern_of(Colour): lambda: _("Must be a colour as #rrggbb."),
    }


def _choices(ctx: Mapping[str, Any]) -> str:
    return str(ctx.get("expected", ""))


#: Error type → its words; each takes pydantic's ``ctx``.
WORDS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "missing": lambda ctx: _("Required."),
    "extra_forbidden": lambda ctx: _("No such setting."),
    "string_too_long": lambda ctx: _("At most %(n)s characters.", n=ctx.get("max_length")),
    "string_too_short": lambda ctx: _("At least %(n)s characters.", n=ctx.get("min_length")),
    "too_long": lambda ctx: _("At most %(n)s items.", n=ctx.get("max_length")),
    "too_short": lambda ctx: _("At least %(n)s items.", n=ctx.get("min_length")),
    "greater_than": lambda ctx: _("Must be more than %(n)s.", n=ctx.get("gt")),
    "greater_than_equal": lambda ctx: _("Must be %(n)s or more.", n=ctx.get("ge")),
    "less_than": lambda ctx: _("Must be less than %(n)s.", n=ctx.get("lt")),
    "less_than_equal": lambda ctx: _("Must be %(n)s or less.", n=ctx.get("le")),
    "literal_error": lambda ctx: _("Must be one of: %(choices)s.", choices=_choices(ctx)),
    "enum": lambda ctx: _("Must be one of: %(choices)s.", choices=_choices(ctx)),
    "int_parsing": lambda ctx: _("Must be a whole number."),
    "int_type": lambda ctx: _("Must be a whole number."),
    "int_from_float": lambda ctx: _("Must be a whole number."),
    "float_parsing": lambda ctx: _("Must be a number."),
    "float_type": lambda ctx: _("Must be a number."),
    "bool_parsing": lambda ctx: _("Must be yes or no (true or false)."),
    "bool_type": lambda ctx: _("Must be yes or no (true or false)."),
    "string_type": lambda ctx: _("Must be text."),
    "list_type": lambda ctx: _("Must be a list."),
    "dict_type": lambda ctx: _("Must be a mapping of names to values."),
    "model_type": lambda ctx: _("Must be a mapping of names to values."),
    "date_parsing": lambda ctx: _("Must be a date as YYYY-MM-DD."),
    "date_from_datetime_parsing": lambda ctx: _("Must be a date as YYYY-MM-DD."),
}


def message(error: Mapping[str, Any]) -> str:
    """The words for one error of :class:`~postpurchase.settings.model.SettingsInvalid`."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "string_pattern_mismatch":
        words = _pattern_words().get(ctx.get("pattern", ""))
        return words() if words else _("Not in the expected form.")
    words_for = WORDS.get(kind)
    return words_for(ctx) if words_for else str(error.get("msg", ""))


def translated(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The errors with ``msg`` in the current locale (``loc`` and ``type`` unchanged, no ``ctx``)."""
    return [
        {"loc": e["loc"], "msg": message(e), **({"type": e["type"]} if "type" in e else {})}
        for e in errors
    ]
