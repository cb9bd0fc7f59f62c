"""Message templates as settings: stored in the database, used by the renderer, and editable through
the console, ``/api/v1/settings/templates`` and ``postpurchase settings templates``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from sqlmodel import select

from postpurchase.brands import NewBrand
from postpurchase.clock import utcnow
from postpurchase.db import get_db
from postpurchase.messaging import operations as messaging_operations
from postpurchase.messaging.settings import messaging_settings
from postpurchase.models import Brand, Channel, MessageTemplate
from postpurchase.settings.cli import settings as settings_command
from postpurchase.settings.message_templates import LOCALES, triggers
from tests.settings.conftest import Merchant, sign_in

URL = "/api/v1/settings/templates/{trigger}/{locale}"


def _auth(brand: NewBrand, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {brand.api_key}", **headers}


def _rows(app: Flask) -> list[tuple[int, str, str, str, str]]:
    with app.app_context():
        s = get_db(app).session()
        rows = [
            (r.brand_id, str(r.trigger), r.locale, r.part, r.source)
            for r in s.exec(select(MessageTemplate))
        ]
        s.close()
    return rows


def _save_in_console(merchant: Merchant, trigger: str, locale: str, **parts: str) -> Any:
    page = merchant.client.get(f"/merchant/settings/templates?trigger={trigger}&locale={locale}")
    assert page.status_code == 200
    form = {"trigger": trigger, "locale": locale, "channel": "email", "action": "save"}
    return merchant.post("/merchant/settings/templates", {**form, **parts})


def test_a_template_saved_in_the_console_is_a_database_row_not_a_file(
    app: Flask, merchant: Merchant
) -> None:
    response = _save_in_console(merchant, "shipped", "en", **{"subject.txt": "Our subject"})
    assert response.status_code == 302
    assert _rows(app) == [(merchant.brand.brand_id, "shipped", "en", "subject.txt", "Our subject")]
    assert not list((Path(app.instance_path) / "templates").rglob("*.txt"))


def test_the_renderer_prefers_the_brands_stored_text(
    app: Flask, client: Any, brand: NewBrand
) -> None:
    body = {"subject.txt": "Stored for {{ brand.name }}"}
    put = client.put(URL.format(trigger="shipped", locale="en"), json=body, headers=_auth(brand))
    assert put.status_code == 200
    with app.app_context():
        s = get_db(app).session()
        rendered = messaging_operations.preview(
            session=s,
            messaging=messaging_settings(app),
            brand=s.get(Brand, brand.brand_id),  # type: ignore[arg-type]
            trigger="shipped",
            locale="en",
            channel=Channel.email,
            today=utcnow().date(),
            now=utcnow(),
        )
        s.close()
    assert rendered.subject == "Stored for Acme"


@pytest.mark.slow
def test_every_trigger_and_locale_is_editable_through_the_three_doors(
    app: Flask, client: Any, brand: NewBrand, runner: Any
) -> None:
    merchant = sign_in(app, brand)
    for trigger in triggers():
        for locale in LOCALES:
            door = f"{trigger}/{locale}"
            # The console saves; the API reads it back as the brand's own.
            saved = _save_in_console(
                merchant, trigger, locale, **{"subject.txt": f"console {door}"}
            )
            assert saved.status_code == 302, door
            got = client.get(URL.format(trigger=trigger, locale=locale), headers=_auth(brand))
            assert got.get_json()["parts"]["subject.txt"] == {
                "source": f"console {door}",
                "own": True,
            }, door
            # The API changes it; the command line prints the change.
            put = client.put(
                URL.format(trigger=trigger, locale=locale),
                json={"subject.txt": f"api {door}"},
                headers=_auth(brand),
            )
            assert put.status_code == 200, (door, put.get_json())
            out = runner.invoke(
                settings_command,
                ["templates", "get", "--brand", "acme", trigger, locale, "--part", "subject.txt"],
            )
            assert out.output == f"api {door}\n", door
            # The command line sets it; the console shows it.
            set_ = runner.invoke(
                settings_command,
                ["templates", "set", "--brand", "acme", trigger, locale, "--part", "subject.txt"],
                input=f"cli {door}",
            )
            assert set_.exit_code == 0, (door, set_.output)
            page = merchant.client.get(
                f"/merchant/settings/templates?trigger={trigger}&locale={locale}"
            )
            assert f"cli {door}" in page.get_data(as_text=True), door


def test_a_bad_template_is_a_422_naming_the_part_and_the_jinja_error(
    app: Flask, client: Any, brand: NewBrand
) -> None:
    response = client.put(
        URL.format(trigger="shipped", locale="ja"),
        json={"subject.txt": "ok", "txt": "{{ broken"},
        headers=_auth(brand),
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_template"
    [detail] = error["details"]
    assert detail["loc"] == "txt" and "unexpected end of template" in detail["msg"]
    assert _rows(app) == []


@pytest.mark.parametrize(
    ("trigger", "locale", "field"), [("nope", "ja", "trigger"), ("shipped", "fr", "locale")]
)
def test_an_unknown_trigger_or_locale_is_a_404_naming_it(
    client: Any, brand: NewBrand, trigger: str, locale: str, field: str
) -> None:
    response = client.get(URL.format(trigger=trigger, locale=locale), headers=_auth(brand))
    assert response.status_code == 404
    assert response.get_json()["error"]["details"][0]["loc"] == field


def test_a_body_of_unknown_parts_is_a_400(client: Any, brand: NewBrand) -> None:
    response = client.put(
        URL.format(trigger="shipped", locale="ja"), json={"html": "x"}, headers=_auth(brand)
    )
    assert response.status_code == 400


def test_another_brands_key_sees_only_its_own_templates(
    client: Any, brand: NewBrand, make_brand: Any
) -> None:
    other = make_brand("other")
    client.put(
        URL.format(trigger="shipped", locale="ja"),
        json={"subject.txt": "acme only"},
        headers=_auth(brand),
    )
    seen = client.get(URL.format(trigger="shipped", locale="ja"), headers=_auth(other))
    assert seen.get_json()["parts"]["subject.txt"]["own"] is False


def test_the_templates_are_in_the_openapi_document(client: Any) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    operations = paths["/api/v1/settings/templates/{trigger}/{locale}"]
    assert set(operations) >= {"get", "put"}
    assert "422" in operations["put"]["responses"]


def test_an_api_change_can_be_undone_in_the_console(
    app: Flask, client: Any, brand: NewBrand
) -> None:
    client.put(
        URL.format(trigger="shipped", locale="ja"),
        json={"subject.txt": "from the api"},
        headers=_auth(brand),
    )
    merchant = sign_in(app, brand)
    history = merchant.client.get("/merchant/settings/history").get_data(as_text=True)
    entry = history.split('action="/merchant/settings/history/')[1].split('"')[0]
    assert merchant.post(f"/merchant/settings/history/{entry}", {}).status_code == 302
    assert _rows(app) == []


def test_cli_list_names_the_parts_a_brand_words_itself(runner: Any, brand: NewBrand) -> None:
    runner.invoke(
        settings_command,
        ["templates", "set", "--brand", "acme", "shipped", "en", "--part", "txt"],
        input="Our text",
    )
    lines = runner.invoke(settings_command, ["templates", "list", "--brand", "acme"]).output
    assert "shipped\ten\ttxt" in lines.splitlines()
    assert "shipped\tja\t-" in lines.splitlines()


def test_cli_set_of_a_bad_template_changes_nothing(
    app: Flask, runner: Any, brand: NewBrand
) -> None:
    result = runner.invoke(
        settings_command,
        ["templates", "set", "--brand", "acme", "shipped", "en", "--part", "txt"],
        input="{% if %}",
    )
    assert result.exit_code != 0 and "txt:" in result.output
    assert _rows(app) == []


def test_export_and_import_carry_the_templates(
    app: Flask, runner: Any, brand: NewBrand, tmp_path: Path
) -> None:
    runner.invoke(
        settings_command,
        ["templates", "set", "--brand", "acme", "shipped", "en", "--part", "txt"],
        input="Our text",
    )
    exported = tmp_path / "acme.yaml"
    runner.invoke(
        settings_command, ["export", "--brand", "acme", "--format", "yaml", "-o", exported]
    )
    document = yaml.safe_load(exported.read_text(encoding="utf-8"))
    assert document["templates"] == {"shipped": {"en": {"txt": "Our text"}}}
    document["templates"] = {"delivered": {"ja": {"subject.txt": "届きました"}}}
    exported.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(settings_command, ["import", "--brand", "acme", str(exported)])
    assert result.exit_code == 0, result.output
    assert [r[1:] for r in _rows(app)] == [("delivered", "ja", "subject.txt", "届きました")]


def test_import_of_a_bad_template_changes_nothing_and_names_it(
    app: Flask, runner: Any, brand: NewBrand, tmp_path: Path, settings_of: Any
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "returns": {"window_days": 45},
                "templates": {"shipped": {"en": {"txt": "{{ broken"}}},
            }
        ),
        encoding="utf-8",
    )
    result = runner.invoke(settings_command, ["import", "--brand", "acme", str(bad)])
    assert result.exit_code != 0 and "shipped.en.txt" in result.output
    assert settings_of(brand.brand_id)["returns"]["window_days"] == 30
    assert _rows(app) == []
