"""The portal obeys the brand's policy: reasons per category with nothing preselected, food refused
with its reason, follow-up questions, per-customer limits, and the decision shown to the merchant."""

from __future__ import annotations

import re
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlmodel import Session

from postpurchase.demo import demo_settings
from postpurchase.models import ReturnRequest, ReturnResolution
from postpurchase.models.enums import ReturnState
from tests.returns.conftest import DELIVERED, add_delivered_order
from tests.settings.conftest import sign_in

#: The demo shop's return policy: tea is food, skincare is hygiene, apparel has sizes.
DEMO_POLICY = demo_settings()["returns"]


@pytest.fixture
def goods(shop: Any, write: Any) -> dict[str, int]:
    """A second delivered order of the same customer: a soap and a tea."""

    def build(s: Session) -> dict[str, int]:
        order, (soap, tea) = add_delivered_order(
            s,
            shop.brand_id,
            number="1002",
            email="hanako@example.jp",
            lines=[
                {
                    "sku": "SOAP-YUZU",
                    "name": "柚子の石鹸",
                    "category": "skincare",
                    "unit_price": 1320,
                },
                {
                    "sku": "TEA-HOJI-100",
                    "name": "有機ほうじ茶 100g",
                    "category": "tea",
                    "unit_price": 1490,
                },
            ],
        )
        return {"order": order.id, "soap": soap.id, "tea": tea.id}  # type: ignore[dict-item]

    return write(build)


def _form(client: Any, number: str, lang: str = "ja") -> tuple[str, str]:
    response = client.post(
        f"/acme/returns?lang={lang}",
        data={"order_number": number, "email_or_postal": "hanako@example.jp"},
    )
    url = response.headers["Location"]
    return url, client.get(url).get_data(as_text=True)


def _options(page: str, line_id: int) -> list[tuple[str, bool]]:
    """(value, selected) of each option of the line's reason menu."""
    menu = re.search(rf'<select id="reason-{line_id}"[^>]*>(.*?)</select>', page, re.S)
    assert menu is not None, f"no reason menu for line {line_id}"
    return [
        (value, "selected" in rest)
        for value, rest in re.findall(r'<option value="([^"]*)"([^>]*)>', menu.group(1))
    ]


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_tea_is_refused_in_japanese_with_its_reason(client, goods, shop, set_policy) -> None:
    set_policy(shop.brand_id, **DEMO_POLICY)
    _, page = _form(client, "1002")
    assert "食品・飲料はお届け後の返品をお受けできません。" in page
    assert f'id="reason-{goods["tea"]}"' not in page


def test_soap_offers_only_the_shops_faults_and_nothing_preselected(
    client, goods, shop, set_policy
) -> None:
    set_policy(shop.brand_id, **DEMO_POLICY)
    _, page = _form(client, "1002")
    assert _options(page, goods["soap"]) == [
        ("", False),
        ("damaged", False),
        ("wrong_item", False),
    ]
    assert "サイズが小さい" not in page


def test_clothing_offers_size_reasons(client, shop, set_policy) -> None:
    set_policy(shop.brand_id, **DEMO_POLICY)
    _, page = _form(client, "1001")
    values = [value for value, _ in _options(page, shop.tee)]
    assert values[:3] == ["", "size_too_small", "size_too_large"]
    assert not any(selected for _, selected in _options(page, shop.tee))


def test_the_default_policy_asks_no_size_for_items_without_a_category(
    client, shop, set_policy
) -> None:
    set_policy(shop.brand_id, food_returnable=True)
    _, page = _form(client, "1001")
    assert "size_too_small" not in [value for value, _ in _options(page, shop.food)]


def test_a_size_reason_posted_for_soap_is_a_400_naming_the_field(
    client, goods, shop, set_policy
) -> None:
    set_policy(shop.brand_id, **DEMO_POLICY)
    url, page = _form(client, "1002", lang="en")
    response = client.post(
        url,
        data={
            "csrf_token": _csrf(page),
            f"quantity-{goods['soap']}": "1",
            f"reason-{goods['soap']}": "size_too_small",
            "resolution": "refund",
            "step": "preview",
        },
    )
    assert response.status_code == 400
    assert f"reason-{goods['soap']}" in response.get_data(as_text=True)


def test_a_returned_line_without_a_reason_is_a_400(client, shop) -> None:
    url, page = _form(client, "1001", lang="en")
    response = client.post(
        url,
        data={
            "csrf_token": _csrf(page),
            f"quantity-{shop.tee}": "1",
            f"reason-{shop.tee}": "",
            "resolution": "refund",
            "step": "preview",
        },
    )
    assert response.status_code == 400
    assert "choose why you are returning" in response.get_data(as_text=True)


def test_follow_up_questions_of_the_lines_reasons_are_asked(client, shop, set_policy) -> None:
    set_policy(shop.brand_id, questions={"damaged": {"ja": "どこが破損？", "en": "Where?"}})
    _, page = _form(client, "1001")
    assert "どこが破損？" in page


def test_a_customer_over_the_limit_reads_why(client, goods, shop, set_policy, write) -> None:
    set_policy(shop.brand_id, limit_returns=1)

    def earlier_return(s: Session) -> None:
        s.add(
            ReturnRequest(
                brand_id=shop.brand_id,
                order_id=goods["order"],
                state=ReturnState.refunded,
                resolution=ReturnResolution.refund,
                rma_number="R-1002-AAAA",
                currency="JPY",
                created_at=DELIVERED,
                updated_at=DELIVERED,
            )
        )

    write(earlier_return)
    _, page = _form(client, "1001", lang="en")
    assert "You have reached the number of returns this shop accepts for now." in page
    assert f'id="reason-{shop.tee}"' not in page


def test_the_merchant_queue_shows_why_the_policy_decided(
    client, shop, set_policy, brand, app
) -> None:
    set_policy(shop.brand_id, auto_approve=False, window_days=45)
    url, page = _form(client, "1001", lang="en")
    response = client.post(
        url,
        data={
            "csrf_token": _csrf(page),
            f"quantity-{shop.tee}": "1",
            f"reason-{shop.tee}": "size_too_small",
            "resolution": "refund",
        },
    )
    assert response.status_code == 302
    merchant = sign_in(app, brand)
    queue = merchant.client.get("/merchant/returns/queue/?lang=en").get_data(as_text=True)
    assert "Waits for your approval" in queue
    assert "Window of 45 days" in queue


@pytest.mark.parametrize("number", ["1002", "1001"])
def test_the_demo_policy_reads_well_on_a_phone(
    browser: Any,
    live_server: str,
    shoot: Any,
    axe: Any,
    goods: dict[str, int],
    shop: Any,
    set_policy: Any,
    number: str,
) -> None:
    set_policy(shop.brand_id, **DEMO_POLICY)
    browser.get(f"{live_server}/acme/returns?lang=ja")
    browser.find_element(By.ID, "order_number").send_keys(number)
    browser.find_element(By.ID, "email_or_postal").send_keys("hanako@example.jp")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    # Wait for the order's form, not the lookup page that is going away.
    WebDriverWait(browser, 20).until(lambda b: "/returns/order/" in b.current_url)
    page = browser.find_element(By.TAG_NAME, "main").text
    if number == "1002":
        assert "食品・飲料はお届け後の返品をお受けできません。" in page
        assert "サイズが小さい" not in page and "サイズが大きい" not in page
    else:
        assert "サイズが小さい" in page
    shoot(f"policy-{number}-ja")
    assert axe() == []
