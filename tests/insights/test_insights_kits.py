"""Kits compared: NPS, return rate and repeat purchase of parcels with and without each kit."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from carriers.status import Status
from postpurchase.clock import utcnow
from postpurchase.insights.figures import refresh_rollup
from postpurchase.insights.kits import KitFigures, compare_kits
from postpurchase.models import (
    Customer,
    Feedback,
    Order,
    OrderKit,
    ReturnRequest,
    Shipment,
)
from tests.insights.conftest import MONDAY, NOVEMBER
from tests.settings.conftest import sign_in


@pytest.fixture
def kitted(app, brand):
    """Hanako's first order (welcome kit, scored 10) and her second 18 days later (no kit, scored 5);
    Taro's order (welcome kit, returned, no later order); a guest order (no kit, scored 9)."""
    from postpurchase.db import get_db

    b = brand.brand_id
    with app.app_context(), get_db(app).session() as s:
        hanako, taro = (
            Customer(brand_id=b, external_id="c1"),
            Customer(brand_id=b, external_id="c2"),
        )
        s.add_all([hanako, taro])
        s.flush()

        def order(number: int, customer, days: int, kits: list[str] | None, score=None):
            row = Order(
                brand_id=b,
                external_id=f"o{number}",
                number=f"#{number}",
                customer_id=customer.id if customer else None,
                placed_at=MONDAY + timedelta(days=days),
            )
            s.add(row)
            s.flush()
            parcel = Shipment(
                brand_id=b,
                order_id=row.id,
                external_id=f"s{number}",
                carrier_code="yamato",
                status=Status.delivered,
                shipped_at=row.placed_at,
                delivered_at=row.placed_at + timedelta(days=1),
            )
            s.add(parcel)
            s.flush()
            if kits is not None:
                s.add(OrderKit(brand_id=b, order_id=row.id, kits=kits, decided_at=row.placed_at))
            if score is not None:
                s.add(Feedback(brand_id=b, order_id=row.id, shipment_id=parcel.id, nps_score=score))
            return row

        order(1, hanako, 0, ["welcome"], score=10)
        order(2, hanako, 18, [], score=5)
        taros = order(3, taro, 1, ["welcome"])
        s.add(ReturnRequest(brand_id=b, order_id=taros.id, rma_number="R1", created_at=MONDAY))
        order(4, None, 2, None, score=9)
        s.flush()
        refresh_rollup(session=s, brand_id=b, now=utcnow())
        s.commit()
    return brand


def test_each_kit_is_compared_with_the_parcels_without_it(app, kitted) -> None:
    from postpurchase.db import get_db

    with app.app_context(), get_db(app).session() as s:
        (welcome,) = compare_kits(session=s, brand_id=kitted.brand_id, kits=["welcome"], **NOVEMBER)
    assert welcome.kit == "welcome"
    assert welcome.with_kit == KitFigures(
        orders=2,
        shipments=2,
        nps=100.0,
        nps_responses=1,
        return_rate=0.5,
        repeat_purchase_rate=0.5,
    )
    assert welcome.without_kit == KitFigures(
        orders=2,
        shipments=2,
        nps=0.0,
        nps_responses=2,
        return_rate=0.0,
        repeat_purchase_rate=0.0,  # the guest order has no customer to come back
    )


def test_a_kit_no_order_got_yet_still_gets_a_row(app, kitted) -> None:
    from postpurchase.db import get_db

    with app.app_context(), get_db(app).session() as s:
        rows = compare_kits(
            session=s, brand_id=kitted.brand_id, kits=["gift", "welcome"], **NOVEMBER
        )
    assert [(r.kit, r.with_kit.orders, r.without_kit.orders) for r in rows] == [
        ("gift", 0, 4),
        ("welcome", 2, 2),
    ]
    assert rows[0].with_kit.nps is None and rows[0].with_kit.return_rate is None


def test_the_page_and_its_csv_show_the_comparison(app, kitted) -> None:
    merchant = sign_in(app, kitted)
    query = "?start=2026-11-01&end=2026-11-30"
    page = merchant.client.get(
        "/merchant/insights/kits" + query, headers={"Accept-Language": "en"}
    ).get_data(as_text=True)
    assert 'data-kit="welcome" data-group="with"' in page and "+100" in page
    response = merchant.client.get("/merchant/insights/kits.csv" + query)
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert lines == [
        ["kit", "group", "orders", "shipments", "nps", "nps_responses", "return_rate",
         "repeat_purchase_rate"],
        ["welcome", "with", "2", "2", "100.0", "1", "0.5", "0.5"],
        ["welcome", "without", "2", "2", "0.0", "2", "0.0", "0.0"],
    ]  # fmt: skip


def test_a_bad_period_is_a_400_naming_start(app, brand) -> None:
    merchant = sign_in(app, brand)
    response = merchant.client.get("/merchant/insights/kits?start=2026-12-01&end=2026-11-01")
    assert response.status_code == 400 and "start" in response.get_data(as_text=True)
