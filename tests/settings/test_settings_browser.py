"""In a real browser: the return window changed in the console is what the customer portal
obeys, a template edit changes the live preview, and every settings page is photographed."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from postpurchase.accounts import add_merchant_user
from postpurchase.brands import NewBrand
from postpurchase.db import get_db
from postpurchase.settings.forms import PAGES
from tests.returns.conftest import shop, write  # noqa: F401  (fixtures: a delivered order)
from tests.settings.conftest import EMAIL, PASSWORD

ENDED = "The return period has ended."


def _sign_in(browser: Any, live_server: str, app: Flask, brand: NewBrand) -> None:
    with app.app_context():
        s = get_db(app).session()
        add_merchant_user(session=s, brand_id=brand.brand_id, email=EMAIL, password=PASSWORD)
        s.commit()
        s.close()
    browser.get(f"{live_server}/merchant/login?lang=en")
    browser.find_element(By.NAME, "email").send_keys(EMAIL)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    # /merchant/login itself contains "/merchant/": wait until the sign-in's answer has landed, or
    # it replaces the next page asked for
    WebDriverWait(browser, 10).until(lambda b: "/merchant/login" not in b.current_url)


def _portal_page(browser: Any, live_server: str) -> str:
    browser.get(f"{live_server}/acme/returns?lang=en")
    browser.find_element(By.NAME, "order_number").send_keys("1001")
    browser.find_element(By.NAME, "email_or_postal").send_keys("hanako@example.jp")
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    WebDriverWait(browser, 10).until(expected_conditions.url_contains("/returns/order/"))
    return browser.page_source


def test_the_portal_obeys_the_return_window_set_in_the_console(
    browser: Any,
    live_server: str,
    app: Flask,
    brand: NewBrand,
    shop: Any,  # noqa: F811
) -> None:
    assert ENDED not in _portal_page(browser, live_server)  # delivered 3 days ago, 30-day window
    _sign_in(browser, live_server, app, brand)
    browser.get(f"{live_server}/merchant/settings/returns?lang=en")
    field = browser.find_element(By.NAME, "returns.window_days")
    field.clear()
    field.send_keys("2")
    browser.find_element(By.CSS_SELECTOR, "main form.card button[type=submit]").click()
    WebDriverWait(browser, 10).until(expected_conditions.url_contains("saved=1"))
    assert ENDED in _portal_page(browser, live_server)


def test_editing_a_template_changes_the_live_preview(
    browser: Any, live_server: str, app: Flask, brand: NewBrand
) -> None:
    _sign_in(browser, live_server, app, brand)
    browser.get(f"{live_server}/merchant/settings/templates?trigger=shipped&locale=en&lang=en")
    subject = browser.find_element(By.NAME, "subject.txt")
    subject.clear()
    subject.send_keys("Your parcel from {{ brand.name }} is on its way")
    WebDriverWait(browser, 10).until(
        expected_conditions.text_to_be_present_in_element(
            (By.ID, "preview-subject"), "Your parcel from Acme is on its way"
        )
    )


@pytest.mark.slow
def test_every_settings_page_at_phone_and_desktop_width(
    browser: Any, live_server: str, app: Flask, brand: NewBrand, shoot: Any, axe: Any
) -> None:
    _sign_in(browser, live_server, app, brand)
    # One change, so the history page has a row to show.
    browser.get(f"{live_server}/merchant/settings/returns")
    field = browser.find_element(By.NAME, "returns.window_days")
    field.clear()
    field.send_keys("45")
    browser.find_element(By.CSS_SELECTOR, "main form.card button[type=submit]").click()
    WebDriverWait(browser, 10).until(expected_conditions.url_contains("saved=1"))
    pages = [("index", "/"), *((p.slug, f"/{p.slug}") for p in PAGES)]
    pages += [("templates", "/templates"), ("history", "/history")]
    problems = {}
    for name, path in pages:
        for lang in ("ja", "en"):
            browser.get(f"{live_server}/merchant/settings{path}?lang={lang}")
            assert "500" not in browser.title
            if lang == "ja":
                shoot(f"settings-{name}")
            if found := axe():
                problems[f"{path}?lang={lang}"] = found
    assert problems == {}
