"""Every parcel state a customer can see, on the tracking page in Chromium, in Japanese and English:
the headline says it, nothing serious fails axe-core, and screenshots at 390 and 1280 px are kept
for a person to look at."""

from __future__ import annotations

from typing import Any

import pytest

from postpurchase.db import get_db
from postpurchase.lookup import order_link_path
from tests.web.parcel_states import BRAND_SETTINGS, STATES, headline, install_logo, seed_state


@pytest.mark.parametrize("locale", ["ja", "en"])
@pytest.mark.parametrize("state", list(STATES))
def test_tracking_page_states_read_right_and_pass_axe(
    app: Any,
    make_brand: Any,
    browser: Any,
    live_server: str,
    shoot: Any,
    axe: Any,
    state: str,
    locale: str,
) -> None:
    brand = make_brand("acme", name="Acme Tea", settings=BRAND_SETTINGS)
    install_logo(app, "acme")
    with app.app_context():
        session = get_db(app).session()
        order_id = seed_state(session, brand.brand_id, state)
        session.commit()
        session.close()
    path = order_link_path(app.config["SECRET_KEY"], "acme", brand.brand_id, order_id)
    browser.get(f"{live_server}{path}?lang={locale}")
    assert browser.find_element("css selector", "html").get_attribute("lang") == locale
    assert browser.find_element("css selector", "h2.headline").text == headline(state, locale)
    shoot(f"{state}-{locale}")
    assert axe() == []
