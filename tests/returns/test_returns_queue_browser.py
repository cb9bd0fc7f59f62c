"""The returns queue in a real browser: tick returns, approve them in bulk, read the result per row."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from postpurchase.models import ReturnRequest, ReturnState
from postpurchase.web.merchant import add_merchant_user
from tests.browser import sign_in_merchant
from tests.returns.test_returns_queue import _open

#: Per language: the summary the page shows after approving two returns.
DONE = {"ja": "2件完了", "en": "2 done, 0 not done"}


@pytest.fixture
def two_waiting(shop: Any, write: Any) -> list[int]:
    def make(s: Any) -> list[int]:
        add_merchant_user(
            session=s, brand_id=shop.brand_id, email="ops@acme.example", password="pw"
        )
        return [_open(s, shop).id, _open(s, shop, days=1.5).id]

    return write(make)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_merchant_approves_ticked_returns_in_bulk(
    browser: Any,
    live_server: str,
    shoot: Any,
    axe: Any,
    two_waiting: list[int],
    write: Any,
    lang: str,
) -> None:
    sign_in_merchant(browser, live_server, lang=lang)

    browser.get(f"{live_server}/merchant/returns/queue/?lang={lang}")
    shoot(f"queue-{lang}")
    assert axe() == []
    for return_id in two_waiting:
        browser.find_element(By.ID, f"pick-{return_id}").click()
    Select(browser.find_element(By.ID, "action")).select_by_value("approve")
    browser.find_element(By.CSS_SELECTOR, "#bulk button[type=submit]").click()

    results = WebDriverWait(browser, 10).until(
        ec.presence_of_element_located((By.ID, "results-title"))
    )
    assert DONE[lang] in results.text
    assert (
        browser.find_element(By.CSS_SELECTOR, f"tr[data-return='{two_waiting[0]}']").get_attribute(
            "data-state"
        )
        == ReturnState.label_issued
    )
    shoot(f"queue-approved-{lang}")
    assert axe() == []
    states = write(lambda s: [s.get(ReturnRequest, i).state for i in two_waiting])
    assert states == [ReturnState.label_issued, ReturnState.label_issued]
