"""A carrier form that cannot take the parcel's number: the page shows it to copy, in Chromium."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from postpurchase.db import get_db
from postpurchase.lookup import order_link_path
from postpurchase.models import Shipment
from tests.web.parcel_states import BRAND_SETTINGS, install_logo, seed_state


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_sagawa_redelivery_number_can_be_copied_and_passes_axe(
    app: Any,
    make_brand: Any,
    browser: Any,
    live_server: str,
    shoot: Any,
    axe: Any,
    locale: str,
) -> None:
    brand = make_brand("acme", name="Acme Tea", settings=BRAND_SETTINGS)
    install_logo(app, "acme")
    with app.app_context():
        session = get_db(app).session()
        order_id = seed_state(session, brand.brand_id, "attempt_failed")
        shipment = session.exec(select(Shipment).where(Shipment.order_id == order_id)).one()
        shipment.carrier_code = "sagawa"
        session.commit()
        session.close()
    path = order_link_path(app.config["SECRET_KEY"], "acme", brand.brand_id, order_id)
    browser.get(f"{live_server}{path}?lang={locale}")
    number = browser.find_element("css selector", ".copy-number .number")
    assert number.text == "123456789012"
    assert browser.find_element("css selector", "button.copy").is_displayed()
    shoot(f"sagawa-attempt-failed-{locale}")
    assert axe() == []
