"""The status page's method step: the customer picks how to hand the parcel over, and reads how."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import HTTPServer
from typing import Any

import pytest

from postpurchase.models import Brand, Order
from postpurchase.returns import dropoffs
from postpurchase.returns.dropoffs import parse_dropoffs
from tests.returns.test_returns_dropoffs import SAMPLE
from tests.returns.test_returns_methods import FakeEasyPost
from tests.returns.test_returns_portal import _csrf, _returns
from tests.returns.test_returns_status import _status_page


def _enable(write: Any, shop: Any, *methods: str) -> None:
    def change(s: Any) -> None:
        brand = s.get(Brand, shop.brand_id)
        brand.settings = {**(brand.settings or {}), "returns": {"methods": list(methods)}}
        dropoffs.import_dropoffs(
            session=s,
            brand_id=shop.brand_id,
            rows=parse_dropoffs(SAMPLE.read_text(encoding="utf-8")),
        )

    write(change)


def _choose(client: Any, url: str, page: str, **fields: str) -> Any:
    action = re.search(r'action="([^"]+/method[^"]*)"', page).group(1).replace("&amp;", "&")
    return client.post(action, data={"csrf_token": _csrf(page), **fields})


def test_the_nearest_convenience_stores_are_offered(client: Any, shop: Any, write: Any) -> None:
    _enable(write, shop, "convenience_store", "pickup")
    _, page = _status_page(client, shop)
    assert "Drop it off at a convenience store" in page
    first = page.index("ファミリーマート 渋谷神宮前店")
    assert first < page.index("ローソン 恵比寿南店")
    assert "大阪" not in page  # a carrier office, and not offered


def test_a_chosen_dropoff_shows_where_and_by_when(
    app: Any, client: Any, shop: Any, write: Any
) -> None:
    _enable(write, shop, "convenience_store")
    url, page = _status_page(client, shop)
    point = re.search(r'name="dropoff-convenience_store" value="(\d+)"', page).group(1)
    answer = _choose(
        client, url, page, method="convenience_store", **{"dropoff-convenience_store": point}
    )
    assert answer.status_code == 303
    shown = client.get(url).get_data(as_text=True)
    assert re.search(r"Take the parcel to .+ \(東京都渋谷区.+\) by Fri, Dec 4\.", shown)
    (rma,) = _returns(app)
    assert rma.attributes["method"]["kind"] == "convenience_store"


def test_a_pickup_shows_its_date_and_slot(client: Any, shop: Any, write: Any) -> None:
    _enable(write, shop, "pickup")
    url, page = _status_page(client, shop)
    _choose(client, url, page, method="pickup", pickup_date="2026-11-24", pickup_slot="14-16")
    shown = client.get(url).get_data(as_text=True)
    assert "The carrier collects the parcel on Tue, Nov 24, 14:00–16:00." in shown


def test_a_method_not_offered_is_a_400_naming_it(client: Any, shop: Any, write: Any) -> None:
    _enable(write, shop, "pickup")
    url, page = _status_page(client, shop)
    answer = _choose(client, url, page, method="post_office")
    assert answer.status_code == 400
    assert "not offered" in answer.get_data(as_text=True)


def test_an_unknown_method_is_a_400_naming_the_field(client: Any, shop: Any, write: Any) -> None:
    _enable(write, shop, "pickup")
    url, page = _status_page(client, shop)
    answer = _choose(client, url, page, method="teleport")
    assert answer.status_code == 400
    assert "method" in answer.get_data(as_text=True)


def test_the_method_step_reads_in_japanese(client: Any, shop: Any, write: Any) -> None:
    _enable(write, shop, "convenience_store", "pickup")
    _, page = _status_page(client, shop, lang="ja")
    assert "コンビニ" in page and "集荷" in page


@pytest.fixture
def fake_easypost() -> Iterator[str]:
    FakeEasyPost.requests, FakeEasyPost.bought, FakeEasyPost.purchases = [], False, 0
    server = HTTPServer(("127.0.0.1", 0), FakeEasyPost)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v2"
    server.shutdown()


@pytest.fixture
def app_config(app_config: dict[str, Any], fake_easypost: str) -> dict[str, Any]:
    return {
        **app_config,
        "CARRIER_EASYPOST_API_KEY": "EZTK_test",
        "CARRIER_EASYPOST_BASE_URL": fake_easypost,
    }


def test_an_international_return_gets_the_carrier_label_on_its_status_page(
    client: Any, shop: Any, write: Any
) -> None:
    def international(s: Any) -> None:
        brand = s.get(Brand, shop.brand_id)
        brand.settings = {
            "returns": {
                "methods": ["carrier_label"],
                "label_carrier": "easypost",
                "label_service": {"carrier": "USPS"},
            }
        }
        order = s.get(Order, shop.order_id)
        order.shipping_country = "US"

    write(international)
    url, page = _status_page(client, shop)
    _choose(client, url, page, method="carrier_label")
    _choose(client, url, page, method="carrier_label")
    shown = client.get(url).get_data(as_text=True)
    assert "9434600208303110442365" in shown
    assert "easypost-files.s3.us-west-2.amazonaws.com" in shown
    assert FakeEasyPost.purchases == 1
