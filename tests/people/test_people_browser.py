"""In a real browser: an operator of two brands signs in, switches brand and sees the other brand's
people; the people and audit pages are screenshot at phone and desktop widths."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from postpurchase.db import get_db
from postpurchase.models import Membership, Role
from tests.browser import click_to_new_page
from tests.people.conftest import PASSWORD, Shop


def test_operator_signs_in_switches_brand_and_sees_the_other_brands_people(
    browser: Any, live_server: str, shoot: Any, axe: Any, shop: Shop
) -> None:
    user_id = shop.add_user("op@3pl.example", Role.owner, brand=shop.acme)
    with shop.app.app_context():
        s = get_db(shop.app).session()
        s.add(Membership(brand_id=shop.other.brand_id, user_id=user_id, role=Role.staff))
        s.commit()
        s.close()
    browser.delete_all_cookies()
    browser.get(f"{live_server}/merchant/login?lang=ja")
    browser.find_element(By.ID, "email").send_keys("op@3pl.example")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    # the sign-in answer must land before the next page is asked for, or it replaces that page
    WebDriverWait(browser, 20).until(lambda b: "/merchant/login" not in b.current_url)

    browser.get(f"{live_server}/merchant/people")
    assert "viewer@acme.example" in browser.page_source
    shoot("people-owner")
    assert axe() == []

    Select(browser.find_element(By.ID, "brand-switcher")).select_by_visible_text("Other Tea")
    click_to_new_page(browser, ".brand-switcher button")
    assert browser.current_url.endswith("/merchant/people")
    assert "owner@other.example" in browser.page_source
    assert "viewer@acme.example" not in browser.page_source
    shoot("people-staff-other-brand")

    browser.get(f"{live_server}/merchant/audit")
    assert "op@3pl.example" in browser.page_source
    shoot("audit")
    assert axe() == []
