"""Recommendations: what goes with an order, in stock in the customer's size, and when to say none."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlmodel import Session

from postpurchase.clock import utcnow
from postpurchase.models import (
    Brand,
    Customer,
    InventoryLevel,
    Order,
    OrderLine,
    ReturnLine,
    ReturnRequest,
)
from postpurchase.models.types import id_of
from postpurchase.recommendations import Recommendation, for_order

_ORDER_NUMBERS = itertools.count(1)

CATALOG: list[dict[str, Any]] = [
    {
        "sku": "FILTER-1",
        "name": "ペーパーフィルター",
        "accessory_for": ["KETTLE-1"],
        "price": 550,
        "image_url": "https://cdn.example/filter.jpg",
        "url": "https://shop.example/products/filter",
    },
    {"sku": "SCALE-1", "name": "スケール", "categories": ["coffee"], "price": 3300},
    {
        "sku": "TEE",
        "name": "ロゴTシャツ",
        "categories": ["coffee"],
        "variants": {"S": "TEE-S", "M": "TEE-M", "L": "TEE-L"},
        "size_category": "apparel",
    },
]


@pytest.fixture
def shop(session: Session, brand) -> Brand:
    row = session.get(Brand, brand.brand_id)
    assert row is not None
    row.settings = {
        "messaging": {"catalog": CATALOG},
        "branding": {"shop_url": "https://shop.example/"},
    }
    session.add(row)
    session.flush()
    return row


def _order(
    session: Session, shop: Brand, *lines: dict[str, Any], customer: int | None = None
) -> Order:
    order = Order(
        brand_id=id_of(shop),
        external_id=f"O{next(_ORDER_NUMBERS)}",
        number="#1001",
        customer_id=customer,
        placed_at=utcnow(),
    )
    session.add(order)
    session.flush()
    for i, line in enumerate(lines or ({"sku": "KETTLE-1", "category": "coffee"},)):
        session.add(OrderLine(brand_id=id_of(shop), order_id=id_of(order), line_key=str(i), **line))
    session.flush()
    return order


def _stock(session: Session, shop: Brand, fc: str = "TKY", **levels: int) -> None:
    for key, available in levels.items():
        session.add(
            InventoryLevel(
                brand_id=id_of(shop), sku=key.replace("_", "-"), fc_code=fc, available=available
            )
        )
    session.flush()


def _skus(recommendations: list[Recommendation]) -> list[str]:
    return [r.sku for r in recommendations]


def test_items_that_go_with_the_order_are_offered_with_price_image_and_link(session, shop) -> None:
    order = _order(session, shop)
    _stock(session, shop, FILTER_1=4, SCALE_1=2)
    first, second = for_order(session=session, brand=shop, order=order)
    assert first == Recommendation(
        sku="FILTER-1",
        name="ペーパーフィルター",
        variant=None,
        price=550,
        currency="JPY",
        image_url="https://cdn.example/filter.jpg",
        url="https://shop.example/products/filter",
    )
    assert second.sku == "SCALE-1"


def test_an_item_without_a_product_page_links_to_the_brands_shop(session, shop) -> None:
    order = _order(session, shop)
    _stock(session, shop, SCALE_1=2)
    [scale] = for_order(session=session, brand=shop, order=order)
    assert scale.url == "https://shop.example/"


def test_an_item_out_of_stock_is_never_offered(session, shop) -> None:
    order = _order(session, shop)
    _stock(session, shop, FILTER_1=0, SCALE_1=3)
    assert _skus(for_order(session=session, brand=shop, order=order)) == ["SCALE-1"]


def test_stock_counts_every_fulfilment_centre(session, shop) -> None:
    order = _order(session, shop)
    _stock(session, shop, fc="TKY", FILTER_1=0)
    _stock(session, shop, fc="OSK", FILTER_1=2)
    assert _skus(for_order(session=session, brand=shop, order=order)) == ["FILTER-1"]


def test_an_item_unrelated_to_the_order_is_not_offered(session, shop) -> None:
    order = _order(session, shop, {"sku": "SOCKS", "category": "apparel", "variant": "M"})
    _stock(session, shop, FILTER_1=5, SCALE_1=5)
    assert for_order(session=session, brand=shop, order=order) == []


def test_the_item_just_bought_is_never_offered(session, shop) -> None:
    order = _order(session, shop, {"sku": "SCALE-1", "category": "coffee"})
    _stock(session, shop, SCALE_1=5)
    assert for_order(session=session, brand=shop, order=order) == []


def test_a_sized_item_is_offered_in_the_size_the_customer_bought(session, shop) -> None:
    order = _order(
        session,
        shop,
        {"sku": "KETTLE-1", "category": "coffee"},
        {"sku": "HOODIE-M", "category": "apparel", "variant": "M"},
    )
    _stock(session, shop, TEE_S=3, TEE_M=1)
    [tee] = for_order(session=session, brand=shop, order=order)
    assert (tee.sku, tee.variant) == ("TEE-M", "M")


def test_a_sized_item_sold_out_in_the_customers_size_is_not_offered(session, shop) -> None:
    order = _order(
        session,
        shop,
        {"sku": "KETTLE-1", "category": "coffee"},
        {"sku": "HOODIE-M", "category": "apparel", "variant": "M"},
    )
    _stock(session, shop, TEE_S=3, TEE_L=3, TEE_M=0)
    assert for_order(session=session, brand=shop, order=order) == []


def test_no_sized_item_is_offered_when_the_customers_size_is_unknown(session, shop) -> None:
    order = _order(session, shop)
    _stock(session, shop, TEE_S=3, TEE_M=3, TEE_L=3)
    assert for_order(session=session, brand=shop, order=order) == []


def test_the_size_comes_from_the_customers_earlier_orders(session, shop) -> None:
    customer = Customer(brand_id=id_of(shop), external_id="C1")
    session.add(customer)
    session.flush()
    _order(
        session,
        shop,
        {"sku": "HOODIE-L", "category": "apparel", "variant": "L"},
        customer=customer.id,
    )
    order = _order(session, shop, customer=customer.id)
    _stock(session, shop, TEE_M=3, TEE_L=1)
    assert _skus(for_order(session=session, brand=shop, order=order)) == ["TEE-L"]


def test_the_size_bought_in_this_order_wins_over_an_earlier_one(session, shop) -> None:
    customer = Customer(brand_id=id_of(shop), external_id="C1")
    session.add(customer)
    session.flush()
    _order(
        session,
        shop,
        {"sku": "HOODIE-L", "category": "apparel", "variant": "L"},
        customer=customer.id,
    )
    order = _order(
        session,
        shop,
        {"sku": "KETTLE-1", "category": "coffee"},
        {"sku": "HOODIE-S", "category": "apparel", "variant": "S"},
        customer=customer.id,
    )
    _stock(session, shop, TEE_S=3, TEE_L=3)
    assert _skus(for_order(session=session, brand=shop, order=order)) == ["TEE-S"]


def test_nothing_is_offered_once_a_return_was_opened_for_the_order(session, shop) -> None:
    order = _order(session, shop)
    _stock(session, shop, FILTER_1=5, SCALE_1=5)
    rma = ReturnRequest(brand_id=id_of(shop), order_id=id_of(order), rma_number="RMA-1")
    session.add(rma)
    session.flush()
    session.add(ReturnLine(brand_id=id_of(shop), return_id=id_of(rma), sku="KETTLE-1"))
    session.flush()
    assert for_order(session=session, brand=shop, order=order) == []


@pytest.fixture
def other_brand_id(make_brand) -> int:
    return make_brand("other").brand_id


def test_another_brands_stock_does_not_count(session, other_brand_id, shop) -> None:
    other = session.get(Brand, other_brand_id)
    order = _order(session, shop)
    _stock(session, other, FILTER_1=5, SCALE_1=5)
    assert for_order(session=session, brand=shop, order=order) == []
