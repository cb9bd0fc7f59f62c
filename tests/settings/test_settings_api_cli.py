"""``/api/v1/settings`` and ``postpurchase settings``: errors name the field, bad input changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from flask import Flask

from postpurchase.brands import NewBrand
from postpurchase.settings.cli import settings as settings_command


def _auth(brand: NewBrand) -> dict[str, str]:
    return {"Authorization": f"Bearer {brand.api_key}"}


def test_get_needs_the_api_key(client: Any) -> None:
    assert client.get("/api/v1/settings").status_code == 401


def test_put_takes_a_partial_document_and_answers_the_whole(client: Any, brand: NewBrand) -> None:
    response = client.put(
        "/api/v1/settings", json={"returns": {"window_days": 45}}, headers=_auth(brand)
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["returns"]["window_days"] == 45
    assert body["messaging"]["daily_cap"] == 2


def test_a_bad_value_is_a_400_naming_the_field_and_changes_nothing(
    client: Any, brand: NewBrand, settings_of: Any
) -> None:
    response = client.put(
        "/api/v1/settings",
        json={"returns": {"window_days": 45}, "messaging": {"quiet_hours": {"start": "25:00"}}},
        headers=_auth(brand),
    )
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_settings"
    assert [d["loc"] for d in error["details"]] == ["messaging.quiet_hours.start"]
    assert settings_of(brand.brand_id)["returns"]["window_days"] == 30


def test_an_unknown_setting_is_a_400_naming_it(client: Any, brand: NewBrand) -> None:
    response = client.put(
        "/api/v1/settings", json={"returns": {"window_dayz": 45}}, headers=_auth(brand)
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["details"][0]["loc"] == "returns.window_dayz"


def test_a_body_that_is_not_an_object_is_a_400(client: Any, brand: NewBrand) -> None:
    response = client.put("/api/v1/settings", json=[1], headers=_auth(brand))
    assert response.status_code == 400
    assert response.get_json()["error"]["details"][0]["loc"] == "body"


def test_the_settings_are_in_the_openapi_document(client: Any) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    assert set(document["paths"]["/api/v1/settings"]) == {"get", "put"}
    assert "BrandSettings" in document["components"]["schemas"]


def test_cli_set_reads_the_value_as_yaml(app: Flask, brand: NewBrand, settings_of: Any) -> None:
    result = app.test_cli_runner().invoke(
        settings_command, ["set", "--brand", brand.slug, "returns.window_days", "45"]
    )
    assert result.exit_code == 0, result.output
    assert "returns.window_days: 30 → 45" in result.output
    assert settings_of(brand.brand_id)["returns"]["window_days"] == 45


def test_cli_set_of_an_unknown_path_names_it(app: Flask, brand: NewBrand) -> None:
    result = app.test_cli_runner().invoke(
        settings_command, ["set", "--brand", brand.slug, "returns.nope", "1"]
    )
    assert result.exit_code != 0
    assert "returns.nope" in result.output


def test_export_then_import_in_yaml_changes_nothing(
    app: Flask, brand: NewBrand, tmp_path: Path
) -> None:
    runner = app.test_cli_runner()
    out = tmp_path / "settings.yaml"
    result = runner.invoke(
        settings_command, ["export", "--brand", brand.slug, "--format", "yaml", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(out.read_text())["returns"]["window_days"] == 30
    result = runner.invoke(settings_command, ["import", "--brand", brand.slug, str(out)])
    assert result.exit_code == 0, result.output
    assert "nothing changed" in result.output


def test_import_of_a_bad_file_changes_nothing_and_names_the_field(
    app: Flask, brand: NewBrand, tmp_path: Path, settings_of: Any
) -> None:
    bad = tmp_path / "settings.json"
    bad.write_text(
        json.dumps({"returns": {"window_days": 45}, "insights": {"weekly_to": ["not an email"]}})
    )
    result = app.test_cli_runner().invoke(
        settings_command, ["import", "--brand", brand.slug, str(bad)]
    )
    assert result.exit_code != 0
    assert "insights.weekly_to[0]" in result.output
    assert settings_of(brand.brand_id)["returns"]["window_days"] == 30


def test_import_leaves_out_means_back_to_the_default(
    app: Flask, brand: NewBrand, tmp_path: Path, settings_of: Any
) -> None:
    runner = app.test_cli_runner()
    runner.invoke(settings_command, ["set", "--brand", brand.slug, "messaging.daily_cap", "5"])
    file = tmp_path / "settings.yaml"
    file.write_text("returns:\n  window_days: 14\n")
    result = runner.invoke(settings_command, ["import", "--brand", brand.slug, str(file)])
    assert result.exit_code == 0, result.output
    document = settings_of(brand.brand_id)
    assert (document["returns"]["window_days"], document["messaging"]["daily_cap"]) == (14, 2)
