"""The fulfilment-network page in a real browser, ja and en, at phone and desktop widths, without
serious accessibility violations."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.insights.test_insights_pages import PERIOD, _sign_in
from tests.insights.test_network import network  # noqa: F401


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_network_page_at_phone_and_desktop_widths(
    app,
    client,
    browser: Any,
    live_server: str,
    network: int,  # noqa: F811
    shoot: Any,
    axe: Any,
    lang: str,
) -> None:
    _sign_in(app, client, network)  # creates the user the browser signs in as
    browser.get(f"{live_server}/merchant/login?lang={lang}")
    browser.find_element(By.ID, "email").send_keys("ops@acme.example")
    browser.find_element(By.ID, "password").send_keys("pw")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(browser, 10).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "nav.console"))
    )
    browser.get(
        f"{live_server}/merchant/insights/network?start={PERIOD['start']}&end={PERIOD['end']}&lang={lang}"
    )
    assert browser.find_element(By.ID, "split-table")
    assert all(path.stat().st_size > 1000 for path in shoot(f"network-{lang}"))
    assert axe() == []
