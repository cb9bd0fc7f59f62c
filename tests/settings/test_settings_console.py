"""The console's settings pages: messages next to the field, templates, logo, history and undo."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from flask import Flask

from postpurchase.brands import NewBrand
from postpurchase.settings.forms import PAGES, form_values
from tests.settings.conftest import Merchant

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _returns_form(settings_of: Any, merchant: Merchant, **changes: Any) -> dict[str, Any]:
    page = next(p for p in PAGES if p.slug == "returns")
    return {**form_values(page, settings_of(merchant.brand.brand_id)), **changes}


def test_every_settings_page_shows_a_form(merchant: Merchant) -> None:
    for page in PAGES:
        response = merchant.client.get(f"/merchant/settings/{page.slug}")
        assert response.status_code == 200, page.slug
        assert b'name="csrf_token"' in response.data


def test_a_bad_value_is_shown_next_to_its_field_and_nothing_is_saved(
    merchant: Merchant, settings_of: Any
) -> None:
    form = _returns_form(settings_of, merchant, **{"returns.window_days": "-3"})
    response = merchant.post("/merchant/settings/returns", form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="returns-window_days-error"' in page
    assert 'value="-3"' in page
    assert settings_of(merchant.brand.brand_id)["returns"]["window_days"] == 30


def test_a_form_without_its_token_is_refused(merchant: Merchant, settings_of: Any) -> None:
    form = _returns_form(settings_of, merchant, **{"returns.window_days": "45"})
    response = merchant.client.post("/merchant/settings/returns", data=form)
    assert response.status_code == 400
    assert settings_of(merchant.brand.brand_id)["returns"]["window_days"] == 30


def test_history_shows_the_change_and_undo_reverts_it(merchant: Merchant, settings_of: Any) -> None:
    merchant.post(
        "/merchant/settings/returns",
        _returns_form(settings_of, merchant, **{"returns.window_days": "45"}),
    )
    page = merchant.client.get("/merchant/settings/history").get_data(as_text=True)
    assert "returns.window_days" in page and "user:ops@acme.example" in page
    action = page.split('action="/merchant/settings/history/')[1].split('"')[0]
    response = merchant.post(f"/merchant/settings/history/{action}", {})
    assert response.status_code == 302
    assert settings_of(merchant.brand.brand_id)["returns"]["window_days"] == 30


def test_the_template_preview_renders_the_draft_with_sample_data(merchant: Merchant) -> None:
    response = merchant.post(
        "/merchant/settings/templates",
        {
            "trigger": "shipped",
            "locale": "en",
            "channel": "email",
            "subject.txt": "Parcel news for {{ brand.name }}",
            "txt": "Hello there",
            "short.txt": "",
            "action": "preview",
        },
        headers={"X-Preview": "1"},
    )
    assert response.status_code == 200
    assert "Parcel news for Acme" in response.get_data(as_text=True)


def test_a_template_that_does_not_parse_is_not_saved(merchant: Merchant) -> None:
    response = merchant.post(
        "/merchant/settings/templates",
        {
            "trigger": "shipped",
            "locale": "en",
            "subject.txt": "{{ broken",
            "txt": "x",
            "short.txt": "",
            "action": "save",
        },
    )
    assert response.status_code == 400
    assert 'id="part-1-error"' in response.get_data(as_text=True)


def test_a_saved_template_is_used_and_can_be_undone(app: Flask, merchant: Merchant) -> None:
    form = {
        "trigger": "shipped",
        "locale": "en",
        "channel": "email",
        "subject.txt": "Our own subject",
        "txt": "Our own text",
        "short.txt": "",
    }
    response = merchant.post("/merchant/settings/templates", {**form, "action": "save"})
    assert response.status_code == 302
    page = merchant.client.get("/merchant/settings/templates?trigger=shipped&locale=en")
    assert "Our own subject" in page.get_data(as_text=True)
    history = merchant.client.get("/merchant/settings/history").get_data(as_text=True)
    first = history.split('action="/merchant/settings/history/')[1].split('"')[0]
    assert merchant.post(f"/merchant/settings/history/{first}", {}).status_code == 302
    page = merchant.client.get("/merchant/settings/templates?trigger=shipped&locale=en")
    text = page.get_data(as_text=True)
    assert "Our own subject" in text and "Our own text" not in text  # the newest change undone


def test_a_logo_is_judged_by_its_bytes_not_its_name(merchant: Merchant, settings_of: Any) -> None:
    response = merchant.post(
        "/merchant/settings/branding/logo",
        {"logo": (io.BytesIO(b"<svg onload=alert(1)>"), "logo.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert 'id="logo-error"' in response.get_data(as_text=True)
    assert settings_of(merchant.brand.brand_id)["branding"]["logo"] is None


def test_a_logo_larger_than_the_limit_is_refused(merchant: Merchant) -> None:
    big = PNG + b"\x00" * (512 * 1024)
    response = merchant.post(
        "/merchant/settings/branding/logo",
        {"logo": (io.BytesIO(big), "logo.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400


def test_an_uploaded_logo_is_stored_outside_the_web_root_and_served_to_its_brand(
    app: Flask, merchant: Merchant, make_brand: Any
) -> None:
    merchant.post(
        "/merchant/settings/branding/logo",
        {"logo": (io.BytesIO(PNG), "x.png")},
        content_type="multipart/form-data",
    )
    response = merchant.client.get("/merchant/settings/branding/logo")
    assert response.status_code == 200
    assert response.mimetype == "image/png" and response.data == PNG
    assert list((Path(app.instance_path) / "logos").rglob("*.png"))


def test_another_brands_user_does_not_get_the_logo(
    app: Flask, merchant: Merchant, make_brand: Any
) -> None:
    from tests.settings.conftest import sign_in

    merchant.post(
        "/merchant/settings/branding/logo",
        {"logo": (io.BytesIO(PNG), "x.png")},
        content_type="multipart/form-data",
    )
    other = sign_in(app, make_brand("other"), email="ops@other.example")
    assert other.client.get("/merchant/settings/branding/logo").status_code == 404


def test_the_settings_link_is_on_the_merchant_home(merchant: Merchant, brand: NewBrand) -> None:
    assert b"/merchant/settings/" in merchant.client.get("/merchant/").data


def test_saving_the_shipped_wording_unchanged_records_nothing(merchant: Merchant) -> None:
    page = merchant.client.get("/merchant/settings/templates?trigger=shipped&locale=en")
    assert page.status_code == 200
    form = {"trigger": "shipped", "locale": "en", "subject.txt": "", "txt": "", "short.txt": ""}
    assert (
        merchant.post("/merchant/settings/templates", {**form, "action": "save"}).status_code == 302
    )
    history = merchant.client.get("/merchant/settings/history").get_data(as_text=True)
    assert "templates.shipped" not in history
