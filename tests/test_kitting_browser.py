"""The kit on the console's shipment page and the kits insights page in a real browser, ja and en,
at phone and desktop widths, without serious accessibility violations."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from postpurchase.models import Shipment
from tests.insights import test_insights_kits
from tests.intake.intake_helpers import example, process
from tests.settings.conftest import EMAIL, PASSWORD, sign_in
from tests.test_kitting import GIFT, WELCOME, _configure, _rows

kitted = test_insights_kits.kitted  # the fixture, used here too


def _browser_sign_in(browser: Any, live_server: str, lang: str) -> None:
    browser.get(f"{live_server}/merchant/login?lang={lang}")
    browser.find_element(By.ID, "email").send_keys(EMAIL)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(browser, 10).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "nav.console"))
    )


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_kit_on_the_shipment_page(
    app, brand, post_event, browser: Any, live_server: str, shoot: Any, axe: Any, lang: str
) -> None:
    _configure(app, brand.brand_id, None, [WELCOME, GIFT])
    post_event(example("order.created"))
    post_event(example("shipment.created"))
    process(app)
    shipment = _rows(app, Shipment)[0]
    sign_in(app, brand)
    _browser_sign_in(browser, live_server, lang)
    browser.get(f"{live_server}/merchant/shipments/{shipment.id}?lang={lang}")
    assert browser.find_element(By.ID, "kit-title")
    assert all(path.stat().st_size > 1000 for path in shoot(f"shipment-kit-{lang}"))
    assert axe() == []


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_kits_insights_page(
    app, kitted, browser: Any, live_server: str, shoot: Any, axe: Any, lang: str
) -> None:
    sign_in(app, kitted)
    _browser_sign_in(browser, live_server, lang)
    browser.get(f"{live_server}/merchant/insights/kits?start=2026-11-01&end=2026-11-30&lang={lang}")
    assert browser.find_element(By.ID, "kits-table")
    assert all(path.stat().st_size > 1000 for path in shoot(f"kits-{lang}"))
    assert axe() == []
