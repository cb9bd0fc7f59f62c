"""The tracking page's LINE/SMS opt-in block in Chromium: both languages, phone and desktop widths."""

from __future__ import annotations

from typing import Any

import pytest

from postpurchase.lookup import order_link_path

CHANNELS = {
    "LINE_CHANNEL_TOKEN": "token",
    "LINE_CHANNEL_SECRET": "secret",
    "LINE_BASIC_ID": "@acme",
    "TWILIO_ACCOUNT_SID": "AC123",
    "TWILIO_AUTH_TOKEN": "t",
    "TWILIO_FROM": "+15005550006",
}


@pytest.mark.parametrize(
    ("lang", "line_button"), [("ja", "LINEで配送状況を受け取る"), ("en", "on LINE")]
)
def test_optin_block_reads_well_and_passes_axe(
    app: Any,
    make_shop: Any,
    session: Any,
    browser: Any,
    live_server: str,
    shoot: Any,
    axe: Any,
    lang: str,
    line_button: str,
) -> None:
    app.config.update(CHANNELS)
    shop = make_shop()
    session.commit()
    path = order_link_path(app.config["SECRET_KEY"], shop.brand.slug, shop.brand.id, shop.order.id)
    browser.get(f"{live_server}{path}?lang={lang}")
    block = browser.find_element("css selector", "section.optin")
    assert line_button in block.text
    assert browser.find_element("css selector", "#optin-phone").get_attribute("type") == "tel"
    shoot(f"optin-{lang}")
    assert axe() == []
