"""The method step in a real browser: the customer picks a convenience store near them, then a
pickup, and reads the instructions; in ja and en, at phone and desktop widths, without axe findings."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from postpurchase.models import Brand
from postpurchase.returns import dropoffs
from postpurchase.returns.dropoffs import parse_dropoffs
from tests.browser import click_to_new_page, settled
from tests.returns.test_returns_dropoffs import SAMPLE

WORDS = {
    "ja": {
        "store": "に荷物をお持ち込みください",
        "pickup": "集荷に伺います",
    },
    "en": {
        "store": "Take the parcel to",
        "pickup": "The carrier collects",
    },
}


def _submit_and_wait(browser: Any, expected: str) -> None:
    """Send the method form and wait for the NEW page to say ``expected`` (the old page's text may
    already contain it, and its elements go stale while the next page loads)."""
    click_to_new_page(browser, "#method button[type=submit]")
    WebDriverWait(browser, 20).until(
        settled(lambda b: expected in b.find_element(By.ID, "method").text)
    )


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_customer_chooses_a_convenience_store_then_a_pickup(
    browser: Any, live_server: str, shoot: Any, axe: Any, shop: Any, write: Any, lang: str
) -> None:
    def enable(s: Any) -> None:
        brand = s.get(Brand, shop.brand_id)
        brand.settings = {
            "returns": {"methods": ["convenience_store", "carrier_office", "pickup", "post_office"]}
        }
        rows = parse_dropoffs(SAMPLE.read_text(encoding="utf-8"))
        dropoffs.import_dropoffs(session=s, brand_id=shop.brand_id, rows=rows)

    write(enable)
    words = WORDS[lang]
    browser.get(f"{live_server}/acme/returns?lang={lang}")
    browser.find_element(By.ID, "order_number").send_keys("1001")
    browser.find_element(By.ID, "email_or_postal").send_keys("hanako@example.jp")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    Select(browser.find_element(By.ID, f"quantity-{shop.tee}")).select_by_value("1")
    Select(browser.find_element(By.ID, f"reason-{shop.tee}")).select_by_value("changed_mind")
    browser.find_element(By.CSS_SELECTOR, "button[name=step][value=preview]").click()
    browser.find_element(By.CSS_SELECTOR, "button[name=step][value=submit]").click()
    WebDriverWait(browser, 20).until(lambda b: "/returns/r/" in b.current_url)

    shoot(f"choose-{lang}")
    assert axe() == []
    browser.find_element(By.CSS_SELECTOR, "input[name=method][value=convenience_store]").click()
    _submit_and_wait(browser, words["store"])
    shoot(f"dropoff-{lang}")
    assert axe() == []

    browser.find_element(By.CSS_SELECTOR, "input[name=method][value=pickup]").click()
    Select(browser.find_element(By.NAME, "pickup_slot")).select_by_value("14-16")
    _submit_and_wait(browser, words["pickup"])
    shoot(f"pickup-{lang}")
    assert axe() == []
