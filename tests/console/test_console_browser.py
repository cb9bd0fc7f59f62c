"""The console in a real browser: sign in, find a parcel by its tracking number, open it, resolve its
exception; and a screenshot of every console page at phone and desktop widths."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser import settled, sign_in_merchant
from tests.console.conftest import Shop


def _wait_for(browser: Any, by: str, value: str) -> Any:
    """The element once the page that has it loaded (a click does not wait for the next page)."""
    return WebDriverWait(browser, 10).until(ec.presence_of_element_located((by, value)))


def test_a_merchant_finds_a_parcel_by_tracking_number_and_resolves_its_exception(
    browser: Any, live_server: str, shop: Shop, axe: Any
) -> None:
    sign_in_merchant(browser, live_server)
    browser.find_element(By.LINK_TEXT, "Shipments").click()
    _wait_for(browser, By.ID, "q").send_keys("4000-EXCEPTION")
    browser.find_element(By.CSS_SELECTOR, "form[role=search] button[type=submit]").click()
    WebDriverWait(browser, 10).until(ec.url_contains("q=4000-EXCEPTION"))
    _wait_for(browser, By.LINK_TEXT, "4000-EXCEPTION").click()
    assert "Carrier exception" in _wait_for(browser, By.ID, "problem-title").text
    Select(browser.find_element(By.NAME, "resolution")).select_by_value("customer_contacted")
    browser.find_element(By.XPATH, "//button[text()='Resolve']").click()
    # The form's answer replaces the page while the wait reads it.
    WebDriverWait(browser, 10).until(
        settled(ec.text_to_be_present_in_element((By.ID, "main"), "Resolved: Customer contacted"))
    )
    browser.find_element(By.LINK_TEXT, "Exceptions").click()
    WebDriverWait(browser, 10).until(ec.title_contains("Exceptions"))
    assert "4000-EXCEPTION" not in browser.page_source
    assert axe() == []


@pytest.mark.slow
def test_every_console_page_at_phone_and_desktop_widths(
    browser: Any, live_server: str, shop: Shop, shoot: Any, axe: Any
) -> None:
    sign_in_merchant(browser, live_server)
    pages = {
        "dashboard": "/merchant/",
        "shipments": "/merchant/shipments",
        "shipment": f"/merchant/shipments/{shop.parcels['failed']}",
        "exceptions": "/merchant/exceptions",
        "messages": "/merchant/messages/",
        "mailbox": "/merchant/messages/mailbox",
        "returns": "/merchant/returns/queue/",
        "insights": "/merchant/insights",
    }
    problems = {}
    for lang in ("ja", "en"):
        for name, path in pages.items():
            browser.get(f"{live_server}{path}?lang={lang}")
            assert browser.find_element(By.CSS_SELECTOR, "nav.console"), name
            shoot(f"{name}-{lang}")
            found = axe()
            if found:
                problems[f"{name}-{lang}"] = found
    assert problems == {}
