"""The segments and customer pages in a real browser, with personas fitted on a seeded population."""

from __future__ import annotations

from typing import Any

from flask import Flask
from selenium.webdriver.common.by import By
from sqlmodel import select

from postpurchase.db import get_db
from postpurchase.models import Brand, Customer, Feedback
from postpurchase.personas.operations import fit_personas
from postpurchase.profiles import refresh_brand_profiles
from tests.browser import sign_in_merchant
from tests.conftest import PINNED_NOW
from tests.console.conftest import Shop
from tests.personas.population import seed_population

NAMES = {"tea": {"ja": "お茶", "en": "tea"}, "apparel": {"ja": "作務衣", "en": "samue"}}
#: A persona's words as the reader sees them, with the brand's category names.
SEEN = {
    "ja": "お茶をくり返し購入、返品なし、LINEを好む",
    "en": "Buys tea again and again, never returns, prefers LINE",
}


def test_segments_and_customer_pages_at_phone_and_desktop_widths(
    app: Flask, browser: Any, live_server: str, shop: Shop, shoot: Any, axe: Any
) -> None:
    with app.app_context():
        s = get_db(app).session()
        brand = s.get(Brand, shop.brand.brand_id)
        assert brand is not None
        brand.settings = {**(brand.settings or {}), "category_names": NAMES}
        s.add(brand)
        seed_population(s, shop.brand.brand_id)
        s.add(
            Feedback(
                brand_id=shop.brand.brand_id,
                order_id=shop.order_id,
                nps_score=5,
                comment="不在で二回も持ち戻られました",
            )
        )
        refresh_brand_profiles(session=s, brand_id=shop.brand.brand_id, now=PINNED_NOW)
        fit_personas(session=s, brand_id=shop.brand.brand_id, actor="test", now=PINNED_NOW)
        s.commit()
        customer_id = s.exec(select(Customer.id).where(Customer.external_id == "c1")).one()
        s.close()
    sign_in_merchant(browser, live_server)
    problems = {}
    for lang in ("ja", "en"):
        for name, path in {
            "segments": "/merchant/segments",
            "customer": f"/merchant/customers/{customer_id}",
        }.items():
            browser.get(f"{live_server}{path}?lang={lang}")
            assert browser.find_element(By.CSS_SELECTOR, "nav.console"), name
            shoot(f"{name}-{lang}")
            if name == "segments":
                personas = browser.find_element(
                    By.CSS_SELECTOR, "[aria-labelledby=personas-heading]"
                )
                assert SEEN[lang] in personas.text
            if found := axe():
                problems[f"{name}-{lang}"] = found
    assert problems == {}
