"""After delivery the tracking page (and its JSON twin) suggests what goes with the order: in stock,
priced in the brand's currency, linked to the shop; nothing before delivery."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from postpurchase.db import get_db
from postpurchase.lookup import order_link_path
from postpurchase.models import Brand, InventoryLevel, Shipment
from tests.sql import recorded
from tests.web.parcel_states import BRAND_SETTINGS, install_logo, seed_state

TILE = (
    "data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' width='160' height='160'>"
    "<rect width='160' height='160' fill='%236b8e23'/></svg>"
)
CATALOG = [
    {
        "sku": "KYUSU-1",
        "name": "常滑焼 急須",
        "accessory_for": ["TEA-01"],
        "price": 6800,
        "image_url": TILE,
        "url": "https://shop.example/products/kyusu",
    },
    {"sku": "TEA-02", "name": "八女煎茶", "categories": ["tea"], "price": 1980, "image_url": TILE},
    {"sku": "TEA-03", "name": "宇治抹茶", "categories": ["tea"], "price": 2800},
]
SETTINGS: dict[str, Any] = {
    **BRAND_SETTINGS,
    "messaging": {**BRAND_SETTINGS["messaging"], "catalog": CATALOG},
}


@pytest.fixture
def seeded(app: Any, make_brand: Any) -> Any:
    """``seeded(state)`` → (page path, API headers, our shipment id); TEA-03 is sold out."""
    brand = make_brand("acme", name="Acme Tea", settings=SETTINGS)
    install_logo(app, "acme")

    def make(state: str) -> tuple[str, dict[str, str], int | None]:
        with app.app_context():
            session = get_db(app).session()
            order_id = seed_state(session, brand.brand_id, state)
            for sku, available in (("KYUSU-1", 3), ("TEA-02", 40), ("TEA-03", 0)):
                session.add(
                    InventoryLevel(
                        brand_id=brand.brand_id, sku=sku, fc_code="TKY", available=available
                    )
                )
            shipment = session.exec(select(Shipment).where(Shipment.order_id == order_id)).first()
            session.commit()
            shipment_id = shipment.id if shipment else None
            session.close()
        path = order_link_path(app.config["SECRET_KEY"], "acme", brand.brand_id, order_id)
        return path, {"Authorization": f"Bearer {brand.api_key}"}, shipment_id

    return make


def _recommendations(page: str) -> str:
    start = page.index('<section class="card recommendations"')
    return page[start : page.index("</section>", start)]


def test_delivered_order_suggests_items_in_stock_with_price_and_shop_link(client, seeded) -> None:
    path, _, _ = seeded("delivered_door")
    section = _recommendations(client.get(f"{path}?lang=ja").get_data(as_text=True))
    assert 'href="https://shop.example/products/kyusu"' in section
    assert "常滑焼 急須" in section and "￥6,800" in section
    assert "八女煎茶" in section and 'href="https://shop.acme.example/"' in section
    assert "宇治抹茶" not in section


def test_prices_follow_the_pages_locale(client, seeded) -> None:
    path, _, _ = seeded("delivered_door")
    section = _recommendations(client.get(f"{path}?lang=en").get_data(as_text=True))
    assert "¥6,800" in section


def test_parcel_on_its_way_suggests_nothing(client, seeded) -> None:
    path, _, _ = seeded("in_transit")
    assert "recommendations" not in client.get(f"{path}?lang=en").get_data(as_text=True)


def test_the_json_twin_lists_the_same_recommendations(client, seeded) -> None:
    _, headers, shipment_id = seeded("delivered_door")
    answer = client.get(f"/api/v1/shipments/{shipment_id}", headers=headers).get_json()
    assert [(r["sku"], r["price"], r["currency"]) for r in answer["recommendations"]] == [
        ("KYUSU-1", 6800, "JPY"),
        ("TEA-02", 1980, "JPY"),
    ]


def test_the_list_of_parcels_reads_the_orders_of_delivered_ones_together(
    app, client, seeded
) -> None:
    """Recommendations need each delivered parcel's order: one read for the page, not one each."""
    _, headers, _ = seeded("delivered_door")
    with app.app_context():
        session = get_db(app).session()
        brand_id = session.exec(select(Brand.id).where(Brand.slug == "acme")).one()
        for state in ("delivered_box", "delivered_safe_place"):
            seed_state(session, brand_id, state)
        session.commit()
        session.close()
    with recorded(get_db(app).engine) as statements:
        answer = client.get("/api/v1/shipments?limit=20", headers=headers).get_json()
    assert len(answer["data"]) == 3
    for parcel in answer["data"]:
        assert [r["sku"] for r in parcel["recommendations"]] == ["KYUSU-1", "TEA-02"]
    order_reads = [s for s in statements if s.sql.startswith('SELECT "order".id, "order".brand_id')]
    assert len(order_reads) == 1, [s.sql[:80] for s in order_reads]


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_recommendations_read_right_and_pass_axe(
    browser: Any, live_server: str, shoot: Any, axe: Any, seeded: Any, locale: str
) -> None:
    path, _, _ = seeded("delivered_door")
    browser.get(f"{live_server}{path}?lang={locale}")
    items = browser.find_elements("css selector", "section.recommendations li")
    assert len(items) == 2
    shoot(f"delivered-recommendations-{locale}")
    assert axe() == []
