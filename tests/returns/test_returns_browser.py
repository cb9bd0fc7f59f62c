"""The customer's return in a real browser: look up, choose, see the money, submit, get the label and status."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser import click_to_new_page

#: Per language: the words the walk expects on each page.
WORDS = {
    "ja": {"preview": "返金・付与される金額", "status": "返品の状況", "deadline": "返送期限"},
    "en": {"preview": "What you get back", "status": "Your return", "deadline": "Hand it over by"},
}


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_customer_returns_with_a_preview_then_gets_label_and_status(
    browser: Any, live_server: str, shoot: Any, axe: Any, shop: Any, set_policy: Any, lang: str
) -> None:
    # The brand's own money knobs, as stored through its settings.
    set_policy(shop.brand_id, fees={"*": {"flat": 480}}, credit_bonus_percent=10)
    words = WORDS[lang]

    browser.get(f"{live_server}/acme/returns?lang={lang}")
    browser.find_element(By.ID, "order_number").send_keys("1001")
    browser.find_element(By.ID, "email_or_postal").send_keys("hanako@example.jp")
    click_to_new_page(browser, "form button[type=submit]")

    Select(browser.find_element(By.ID, f"quantity-{shop.tee}")).select_by_value("2")
    Select(browser.find_element(By.ID, f"reason-{shop.tee}")).select_by_value("changed_mind")
    browser.find_element(By.CSS_SELECTOR, "input[name=resolution][value=store_credit]").click()
    shoot(f"form-{lang}")
    assert axe() == []
    click_to_new_page(browser, "button[name=step][value=preview]")

    money = browser.find_element(By.ID, "money").text
    # 2 × 3,980 − 480 = 7,480; +10 % = 748 → 8,228 of store credit.
    assert words["preview"] in money and "8,228" in money and "480" in money and "748" in money
    shoot(f"preview-{lang}")
    assert axe() == []
    browser.find_element(By.CSS_SELECTOR, "button[name=step][value=submit]").click()

    # Submitting navigates to the status page: wait for it, not the form that is going away.
    WebDriverWait(browser, 20).until(lambda b: "/returns/r/" in b.current_url)
    page = browser.find_element(By.TAG_NAME, "main").text
    assert words["status"] in page and words["deadline"] in page and "8,228" in page
    shoot(f"status-{lang}")
    assert axe() == []
    label = browser.find_element(By.CSS_SELECTOR, "a[href*='/label.pdf']").get_attribute("href")
    response = requests.get(label, timeout=30)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")

    # Looking the order up again lists the return first, linked to its status page.
    browser.get(f"{live_server}/acme/returns?lang={lang}")
    browser.find_element(By.ID, "order_number").send_keys("1001")
    browser.find_element(By.ID, "email_or_postal").send_keys("hanako@example.jp")
    click_to_new_page(browser, "form button[type=submit]")
    click_to_new_page(browser, "#existing a")
    assert words["status"] in browser.find_element(By.TAG_NAME, "main").text
