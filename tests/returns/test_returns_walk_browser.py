"""The whole return in a real browser, as a customer and the warehouse live it: look up, choose an
item, a reason that needs a photo and another product in exchange, a convenience store near home,
the label and status page, the warehouse's signed receipt, and the store credit paid; in ja and en,
at phone and desktop widths, without axe findings on any page."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
import requests
from flask import Flask
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlmodel import Session, select

from postpurchase.inbox import process_pending
from postpurchase.models import Brand, InventoryLevel, Order, OrderLine, ReturnRequest
from postpurchase.returns import dropoffs
from postpurchase.returns.dropoffs import parse_dropoffs
from postpurchase.returns.execution import execute_due
from tests.browser import click_to_new_page, settled
from tests.conftest import sign
from tests.returns.conftest import DELIVERED
from tests.returns.test_returns_dropoffs import SAMPLE

WMS_URL = "https://wms.example/returns"
#: Per language: the words each step of the walk must show.
WORDS = {
    "ja": {
        "status": "返品の状況",
        "store": "に荷物をお持ち込みください",
        "received": "受領済み",
        "paid": "お支払いしました",
        "exchange": "代わりにお届けする商品",
    },
    "en": {
        "status": "Your return",
        "store": "Take the parcel to",
        "received": "Received",
        "paid": "paid on",
        "exchange": "We send you instead",
    },
}


def _jpeg(path: Any) -> str:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 40, 40)).save(out, format="JPEG")
    path.write_bytes(out.getvalue())
    return str(path)


@pytest.fixture
def walk_shop(shop: Any, write: Any) -> Any:
    """The returns shop, plus a stole (apparel, ¥3,600, in stock) to exchange the T-shirt for,
    convenience-store drop-off with the sample points, a 10 % bonus and the brand's WMS webhook."""

    def build(s: Session) -> None:
        brand = s.get_one(Brand, shop.brand_id)
        brand.settings = {
            **(brand.settings or {}),
            "returns": {
                "methods": ["convenience_store", "printed_label"],
                "exchange": {"other_products": True, "price_band_percent": 20},
                "credit_bonus_percent": 10,
                "wms_webhook_url": WMS_URL,
            },
        }
        s.add(brand)
        catalogue = Order(
            brand_id=shop.brand_id,
            external_id="o-900",
            number="#900",
            placed_at=DELIVERED - timedelta(days=30),
        )
        s.add(catalogue)
        s.flush()
        s.add(
            OrderLine(
                brand_id=shop.brand_id,
                order_id=catalogue.id,
                line_key="1",
                sku="STOLE-01",
                name="ストール",
                category="apparel",
                unit_price=3600,
            )
        )
        s.add(InventoryLevel(brand_id=shop.brand_id, sku="STOLE-01", fc_code="TKY1", available=3))
        rows = parse_dropoffs(SAMPLE.read_text(encoding="utf-8"))
        dropoffs.import_dropoffs(session=s, brand_id=shop.brand_id, rows=rows)

    write(build)
    return shop


def _wms_reports_receipt(app: Flask, brand: Any, rma_number: str) -> None:
    """What the warehouse does: post a signed ``return.received`` to the intake."""
    body = json.dumps(
        {
            "id": f"evt-{rma_number}",
            "type": "return.received",
            "occurred_at": "2026-11-24T11:20:00+09:00",
            "data": {
                "rma_number": rma_number,
                "order_id": "o-1001",
                "received_at": "2026-11-24T11:18:00+09:00",
                "lines": [{"sku": "TEE-M", "variant": "M", "quantity": 1, "grade": "B"}],
            },
        }
    ).encode()
    answer = app.test_client().post(
        "/webhooks/wms",
        data=body,
        headers={
            "Authorization": f"Bearer {brand.api_key}",
            "Content-Type": "application/json",
            "X-Postpurchase-Signature": sign(brand.signing_secret, body),
        },
    )
    assert answer.status_code == 202, answer.get_data(as_text=True)
    process_pending(app)


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_customer_walks_from_lookup_to_store_credit_for_an_exchange(
    app: Flask,
    brand: Any,
    browser: Any,
    live_server: str,
    shoot: Any,
    axe: Any,
    walk_shop: Any,
    write: Any,
    clock: Any,
    tmp_path: Any,
    lang: str,
) -> None:
    shop, words = walk_shop, WORDS[lang]
    browser.get(f"{live_server}/acme/returns?lang={lang}")
    shoot(f"1-lookup-{lang}")
    assert axe() == []
    browser.find_element(By.ID, "order_number").send_keys("1001")
    browser.find_element(By.ID, "email_or_postal").send_keys("hanako@example.jp")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()

    Select(browser.find_element(By.ID, f"quantity-{shop.tee}")).select_by_value("1")
    Select(browser.find_element(By.ID, f"reason-{shop.tee}")).select_by_value("damaged")
    browser.find_element(By.CSS_SELECTOR, "input[name=resolution][value=exchange]").click()
    Select(browser.find_element(By.ID, f"exchange-{shop.tee}")).select_by_value("STOLE-01")
    browser.find_element(By.ID, f"photo-{shop.tee}").send_keys(_jpeg(tmp_path / "tear.jpg"))
    shoot(f"2-choose-{lang}")
    assert axe() == []
    browser.find_element(By.CSS_SELECTOR, "button[name=step][value=preview]").click()
    WebDriverWait(browser, 20).until(
        settled(lambda b: b.find_element(By.ID, "money").is_displayed())
    )

    # ¥3,980 back + 10 % bonus (¥398) − the stole's ¥3,600 = ¥778 of store credit.
    assert "778" in browser.find_element(By.ID, "money").text
    # The photo chosen before the preview is kept: nothing to choose again before the request goes.
    assert "tear.jpg" in browser.find_element(By.ID, f"kept-{shop.tee}").text
    shoot(f"3-preview-{lang}")
    assert axe() == []
    browser.find_element(By.CSS_SELECTOR, "button[name=step][value=submit]").click()
    WebDriverWait(browser, 20).until(lambda b: "/returns/r/" in b.current_url)
    status_url = browser.current_url
    assert words["status"] in browser.find_element(By.TAG_NAME, "main").text
    shoot(f"4-method-{lang}")
    assert axe() == []

    nearest = browser.find_elements(By.CSS_SELECTOR, "input[name='dropoff-convenience_store']")
    assert nearest, "the nearest convenience stores are listed"
    browser.find_element(By.CSS_SELECTOR, "input[name=method][value=convenience_store]").click()
    click_to_new_page(browser, "#method button[type=submit]")
    WebDriverWait(browser, 20).until(
        settled(lambda b: words["store"] in b.find_element(By.ID, "method").text)
    )
    # The status page names what is sent instead, under the resolution that allows it.
    assert "ストール" in browser.find_element(By.TAG_NAME, "main").text
    assert words["exchange"] in browser.find_element(By.TAG_NAME, "main").text
    shoot(f"5-label-{lang}")
    assert axe() == []
    label = browser.find_element(By.CSS_SELECTOR, "a[href*='/label.pdf']").get_attribute("href")
    response = requests.get(label, timeout=30)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")

    rma_number = write(lambda s: s.exec(select(ReturnRequest.rma_number)).one())
    clock.advance(days=4)
    _wms_reports_receipt(app, brand, rma_number)
    browser.get(status_url)
    assert words["received"] in browser.find_element(By.TAG_NAME, "main").text
    shoot(f"6-received-{lang}")
    assert axe() == []

    assert execute_due(app) == 1
    browser.get(status_url)
    payouts = browser.find_element(By.ID, "payouts").text
    assert "778" in payouts and words["paid"] in payouts
    shoot(f"7-credit-{lang}")
    assert axe() == []
