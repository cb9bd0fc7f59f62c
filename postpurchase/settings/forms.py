"""HTML forms of the settings, generated from the model: one input per leaf, named by its path.

A leaf's widget follows its type: one choice of a fixed set (yes/no, an enum or a literal) is a
radio group or a list, a box per choice for lists of a fixed set, a line per item for lists of plain
values, JSON for nested lists and mappings, text otherwise.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from werkzeug.datastructures import MultiDict

from postpurchase.i18n import gettext as _
from postpurchase.settings.model import BrandSettings, get_path, leaves, with_path


@dataclass(frozen=True)
class Page:
    """One console page: the leaves under ``prefix`` (less those under ``exclude``)."""

    slug: str
    prefix: str
    exclude: str | None = None

    def paths(self) -> list[str]:
        return [
            p
            for p in leaves()
            if p.startswith(self.prefix + ".")
            and not (self.exclude and p.startswith(self.exclude + "."))
        ] or [self.prefix]


#: The settings pages, in the order of the console's menu.
PAGES: tuple[Page, ...] = (
    Page("returns", "returns"),
    Page("messaging", "messaging", exclude="messaging.triggers"),
    Page("triggers", "messaging.triggers"),
    Page("delivery", "edd"),
    Page("reports", "insights"),
    Page("exceptions", "exceptions"),
    Page("carriers", "carrier_routes"),
    Page("branding", "branding"),
    Page("kitting", "kitting"),
    Page("categories", "category_names"),
)


#: Set by uploading an image, not by typing.
LOGO = "branding.logo"


@dataclass(frozen=True)
class Widget:
    #: ``bool``, ``maybe`` (yes/no/default), ``choice`` (one of ``choices``), ``choices`` (any of
    #: them), ``lines``, ``json``, ``logo`` or ``text``.
    kind: str
    optional: bool
    choices: tuple[str, ...] = ()

    def options(self) -> tuple[str, ...]:
        """The values a single-choice widget offers; ``""`` is the default (no choice of its own)."""
        values = ("true", "false") if self.kind in ("bool", "maybe") else self.choices
        return ("", *values) if self.optional else values


#: A single choice with at most this many options is a radio group; more make a list.
RADIO_MAX = 3


def _fixed_set(annotation: Any) -> tuple[str, ...] | None:
    """The values of an enum or ``Literal`` type, or None for any other type."""
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return tuple(str(m.value) for m in annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return tuple(str(v) for v in typing.get_args(annotation))
    return None


def field_info(path: str) -> FieldInfo:
    """The model's description of the leaf at ``path``."""
    *parents, last = path.split(".")
    model: type[BaseModel] = BrandSettings
    for key in parents:
        # Every parent of a leaf is a nested settings model; pydantic types annotations loosely.
        model = model.model_fields[key].annotation  # type: ignore[assignment]
    return model.model_fields[last]


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]), True  # noqa: UP007
    return annotation, False


def _base(annotation: Any) -> Any:
    """``Annotated[int, Field(...)]`` → ``int``."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def widget(path: str) -> Widget:
    if path == LOGO:
        return Widget("logo", True)
    annotation, optional = _strip_optional(field_info(path).annotation)
    annotation = _base(annotation)
    origin = typing.get_origin(annotation)
    if annotation is bool:
        return Widget("maybe" if optional else "bool", optional)
    if (values := _fixed_set(annotation)) is not None:
        return Widget("choice", optional, values)
    if origin is list:
        (item,) = typing.get_args(annotation)
        item = _base(item)
        if (values := _fixed_set(item)) is not None:
            return Widget("choices", optional, values)
        if item in (str, int, float) or getattr(item, "__name__", "") == "date":
            return Widget("lines", optional)
    if origin in (list, dict, tuple):
        return Widget("json", optional)
    return Widget("text", optional)


def shown(path: str, value: Any) -> Any:
    """A stored value as the form shows it."""
    kind = widget(path).kind
    if kind == "json":
        return json.dumps(value, ensure_ascii=False, indent=2)
    if kind == "lines":
        return "\n".join(str(v) for v in value or [])
    if kind in ("bool", "maybe"):
        return "" if value is None else ("true" if value else "false")
    if kind == "choices":
        return list(value or [])
    return "" if value is None else str(value)


def form_values(page: Page, document: dict[str, Any]) -> dict[str, Any]:
    return {path: shown(path, get_path(document, path)) for path in page.paths()}


def patch_from_form(page: Page, form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The settings a submitted page sets, and the fields that could not be read (path → message)."""
    patch: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for path in page.paths():
        w = widget(path)
        if w.kind == "logo":
            continue
        raw = form.get(path, "")
        value: Any
        if w.kind == "choices":
            chosen = form.getlist(path)
            value = chosen if chosen or not w.optional else None
        elif w.kind in ("bool", "maybe"):
            value = {"true": True, "false": False}.get(raw)
            if value is None and raw and w.kind == "bool":
                errors[path] = _("Choose yes or no.")
                continue
        elif w.kind == "choice":
            if raw not in w.options():
                errors[path] = _("Choose one of the options.")
                continue
            value = raw or None
        elif w.kind == "lines":
            value = [line.strip() for line in raw.splitlines() if line.strip()]
        elif w.kind == "json":
            try:
                value = json.loads(raw) if raw.strip() else None
            except ValueError as exc:
                errors[path] = _("Not valid JSON: %(error)s", error=str(exc))
                continue
            if value is None and not w.optional:
                errors[path] = _("Required.")
                continue
        else:
            value = raw.strip() if raw.strip() or not w.optional else None
        patch = with_path(patch, path, value)
    return patch, errors


def field_of(loc: str, paths: list[str]) -> str:
    """The form field a validation error belongs to: the longest leaf path it starts with."""
    matches = [p for p in paths if loc == p or loc.startswith((p + ".", p + "["))]
    return max(matches, key=len) if matches else (paths[0] if paths else loc)
