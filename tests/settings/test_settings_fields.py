"""Field errors in the reader's language (console and API), and choice fields as choices."""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from postpurchase.brands import NewBrand
from postpurchase.settings.forms import PAGES, form_values, patch_from_form, widget
from tests.settings.conftest import Merchant


def _form(settings_of: Any, merchant: Merchant, slug: str, **changes: Any) -> dict[str, Any]:
    page = next(p for p in PAGES if p.slug == slug)
    return {**form_values(page, settings_of(merchant.brand.brand_id)), **changes}


def test_a_japanese_settings_page_shows_the_japanese_message(
    merchant: Merchant, settings_of: Any
) -> None:
    form = _form(settings_of, merchant, "returns", **{"returns.window_days": "-3"})
    response = merchant.post("/merchant/settings/returns?lang=ja", form)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "0 以上" in page and "greater than" not in page


def test_an_english_settings_page_shows_the_english_message(
    merchant: Merchant, settings_of: Any
) -> None:
    form = _form(settings_of, merchant, "returns", **{"returns.window_days": "-3"})
    page = merchant.post("/merchant/settings/returns?lang=en", form).get_data(as_text=True)
    assert "Must be 0 or more." in page


def test_a_bad_email_is_named_as_such_in_japanese(merchant: Merchant, settings_of: Any) -> None:
    form = _form(settings_of, merchant, "reports", **{"insights.monthly_to": "not-an-email"})
    page = merchant.post("/merchant/settings/reports?lang=ja", form).get_data(as_text=True)
    assert "メールアドレスを入力してください。" in page


def test_the_api_answers_the_translated_message_and_the_machine_type(
    client: Any, brand: NewBrand
) -> None:
    response = client.put(
        "/api/v1/settings",
        json={"messaging": {"daily_cap": 99}},
        headers={"Authorization": f"Bearer {brand.api_key}", "Accept-Language": "ja"},
    )
    assert response.status_code == 400
    [detail] = response.get_json()["error"]["details"]
    assert detail == {
        "loc": "messaging.daily_cap",
        "msg": "50 以下にしてください。",
        "type": "less_than_equal",
    }


def test_a_single_enum_setting_is_a_choice_of_its_values() -> None:
    w = widget("returns.label_payment")
    assert (w.kind, w.choices) == ("choice", ("chakubarai", "motobarai"))


def test_a_choice_of_two_renders_as_radio_buttons_with_translated_labels(
    merchant: Merchant,
) -> None:
    page = merchant.client.get("/merchant/settings/returns?lang=ja").get_data(as_text=True)
    assert 'type="radio" name="returns.label_payment" value="chakubarai" checked' in page
    assert "着払い（送料はショップ負担）" in page
    assert 'name="returns.label_payment" value="chakubarai"' in page
    assert '<input id="returns-label_payment"' not in page


def test_a_multiple_choice_of_a_fixed_set_has_translated_box_labels(merchant: Merchant) -> None:
    page = merchant.client.get("/merchant/settings/returns?lang=ja").get_data(as_text=True)
    assert 'type="checkbox" name="returns.resolutions" value="store_credit" checked' in page
    assert "> ストアクレジット</label>" in page


def test_a_value_outside_the_choices_is_refused_next_to_the_field(
    merchant: Merchant, settings_of: Any
) -> None:
    form = _form(settings_of, merchant, "returns", **{"returns.label_payment": "cash"})
    response = merchant.post("/merchant/settings/returns?lang=en", form)
    assert response.status_code == 400
    assert "Choose one of the options." in response.get_data(as_text=True)


def test_a_chosen_value_is_saved(merchant: Merchant, settings_of: Any) -> None:
    form = _form(settings_of, merchant, "returns", **{"returns.label_payment": "motobarai"})
    assert merchant.post("/merchant/settings/returns", form).status_code == 302
    assert settings_of(merchant.brand.brand_id)["returns"]["label_payment"] == "motobarai"


def test_an_optional_yes_no_offers_the_default_as_a_third_option(app: Any) -> None:
    w = widget("messaging.triggers.shipped.enabled")
    assert w.options() == ("", "true", "false")
    page = next(p for p in PAGES if p.slug == "triggers")
    with app.test_request_context():
        patch, errors = patch_from_form(page, MultiDict())
    assert errors == {} and patch["messaging"]["triggers"]["shipped"]["enabled"] is None
