"""Every leaf of BrandSettings can be changed through each of the three doors: the console, the
API and the command line. The leaves come from the model, so a new setting is covered unasked."""

from __future__ import annotations

import io
import json
import typing
from datetime import date
from enum import Enum
from typing import Any

import annotated_types
import pytest
from flask import Flask
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from postpurchase.brands import NewBrand
from postpurchase.settings.cli import settings as settings_command
from postpurchase.settings.forms import LOGO, PAGES, field_info, form_values, shown, widget
from postpurchase.settings.model import BrandSettings, get_path, leaves
from tests.settings.conftest import sign_in

#: A value for each string pattern the model uses (keyed by the pattern, not by the field).
PATTERN_EXAMPLES = {
    r"^([01][0-9]|2[0-3]):[0-5][0-9]$": "06:15",
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$": "someone@acme.example",
    r"^https?://[^\s]+$": "https://acme.example/page",
    r"^#[0-9a-fA-F]{6}$": "#aa3300",
    r"^[a-z0-9_]{1,64}$": "custom_template",
    r"^(\*|[a-z0-9_\-]{1,40})$": "yamato",
    r"^[a-z0-9_\-]{1,40}$": "aftership",
    r"^[a-z]{2,3}$": "ja",
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _example(annotation: Any, metadata: list[Any]) -> Any:
    """A valid value of ``annotation`` (a type from the model), within its constraints."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        extra = [m for a in args[1:] for m in (a.metadata if isinstance(a, FieldInfo) else [a])]
        return _example(args[0], [*metadata, *extra])
    if origin in (typing.Union, __import__("types").UnionType):
        return _example(next(a for a in args if a is not type(None)), metadata)
    if origin is list:
        return [_example(args[0], [])]
    if origin is tuple:
        return [0.2, 0.8]
    if origin is dict:
        return {_example(args[0], []): _example(args[1], [])}
    if annotation is bool:
        return True
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return next(iter(annotation)).value
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        required = {
            name: _example(info.annotation, list(info.metadata))
            for name, info in annotation.model_fields.items()
            if info.is_required()
        }
        return annotation.model_validate(required).model_dump(mode="json")
    if annotation in (int, float):
        bounds = [
            m.ge if isinstance(m, annotated_types.Ge) else m.gt
            for m in metadata
            if isinstance(m, (annotated_types.Ge, annotated_types.Gt))
        ]
        low = bounds[0] if bounds else 0
        return annotation(low + 1) if annotation is int else round(float(low) + 0.01, 2)
    if annotation is date:
        return "2026-12-31"
    for item in metadata:
        pattern = getattr(item, "pattern", None)
        if pattern:
            return PATTERN_EXAMPLES[pattern]
    return "changed"


def _enum_of(annotation: Any) -> type[Enum] | None:
    """The enum a single-value leaf is of (through ``Optional`` and ``Annotated``), if any."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, Enum):
            return candidate
    return None


def new_value(path: str) -> Any:
    """A valid value for ``path`` that differs from its default."""
    if path == LOGO:
        return "0" * 64 + ".png"
    info = field_info(path)
    default = get_path(BrandSettings().model_dump(mode="json"), path)
    value = _example(info.annotation, list(info.metadata))
    if widget(path).kind == "choices":
        value = [widget(path).choices[-1]]
    if value == default and isinstance(value, bool):
        value = not value
    enum = _enum_of(info.annotation)
    if value == default and enum is not None:
        value = next(m.value for m in enum if m.value != default)
    if value == default:
        value = value + 1 if isinstance(value, int) else value
    assert value != default, path
    return json.loads(json.dumps(value))


ALL_LEAVES = list(leaves())


def test_the_walk_covers_every_part_of_the_model() -> None:
    assert {path.split(".")[0] for path in ALL_LEAVES} == set(BrandSettings.model_fields)
    assert len(ALL_LEAVES) > 100


def test_every_leaf_is_editable_through_the_api(
    client: Any, brand: NewBrand, settings_of: Any
) -> None:
    auth = {"Authorization": f"Bearer {brand.api_key}"}
    for path in ALL_LEAVES:
        value = new_value(path)
        patch: dict[str, Any] = {}
        node = patch
        *parents, last = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
        response = client.put("/api/v1/settings", json=patch, headers=auth)
        assert response.status_code == 200, (path, response.get_json())
        assert get_path(client.get("/api/v1/settings", headers=auth).get_json(), path) == value
    assert get_path(settings_of(brand.brand_id), "returns.window_days") == new_value(
        "returns.window_days"
    )


def test_every_leaf_is_editable_through_the_command_line(
    app: Flask, brand: NewBrand, settings_of: Any
) -> None:
    runner = app.test_cli_runner()
    for path in ALL_LEAVES:
        value = new_value(path)
        result = runner.invoke(
            settings_command, ["set", "--brand", brand.slug, path, json.dumps(value)]
        )
        assert result.exit_code == 0, (path, result.output)
        assert get_path(settings_of(brand.brand_id), path) == value, path


def test_every_leaf_is_editable_in_the_console(
    app: Flask, brand: NewBrand, settings_of: Any
) -> None:
    merchant = sign_in(app, brand)
    pages = {path: page for page in PAGES for path in page.paths()}
    assert set(pages) == set(ALL_LEAVES)
    for path in ALL_LEAVES:
        page = pages[path]
        url = f"/merchant/settings/{page.slug}"
        if path == LOGO:
            response = merchant.post(
                url + "/logo",
                {"logo": (io.BytesIO(PNG), "logo.png")},
                content_type="multipart/form-data",
            )
            assert response.status_code == 302, path
            assert get_path(settings_of(brand.brand_id), path).endswith(".png")
            continue
        value = new_value(path)
        form = form_values(page, settings_of(brand.brand_id))
        form[path] = shown(path, value)
        response = merchant.post(url, form)
        assert response.status_code == 302, (path, response.get_data(as_text=True)[-2000:])
        assert get_path(settings_of(brand.brand_id), path) == value, path


@pytest.mark.parametrize("path", ["returns.window_days", "messaging.triggers.shipped.channels"])
def test_new_values_differ_from_the_defaults(path: str) -> None:
    assert new_value(path) != get_path(BrandSettings().model_dump(mode="json"), path)
