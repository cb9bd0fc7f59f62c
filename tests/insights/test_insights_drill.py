"""Every row of the insights tables links to the console's list of exactly the parcels behind it."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest

from postpurchase.models import Customer, Order
from postpurchase.models.enums import TimeSlot
from tests.insights.conftest import MONDAY
from tests.insights.test_insights_pages import PERIOD, _sign_in

#: The page's tables and the API grouping each of them shows.
TABLES = {
    "methods": "carrier,service",
    "carriers": "carrier",
    "regions": "destination_region",
    "segments": "segment",
    "slots": "time_slot",
}


@pytest.fixture
def committed(app, committed):
    """The package's ``committed``, then the brand's figures rollup rebuilt."""
    from postpurchase.clock import utcnow
    from postpurchase.db import get_db
    from postpurchase.insights.figures import refresh_rollup

    def commit(*rows) -> None:
        committed(*rows)
        with app.app_context():
            s = get_db(app).session()
            for brand_id in {getattr(row, "brand_id", None) for row in rows} - {None}:
                refresh_rollup(session=s, brand_id=brand_id, now=utcnow())
            s.commit()
            s.close()

    return commit


@pytest.fixture
def mixed(brand, make_brand, add_parcel, committed):
    """Parcels of every kind the tables split: a repeat customer, time slots and none, a service
    and a region missing, and another brand's parcel alike in every group."""
    customer = Customer(brand_id=brand.brand_id, external_id="c1")
    committed(customer)
    for days, number in ((0, "#r1"), (2, "#r2")):
        order = Order(
            brand_id=brand.brand_id,
            external_id=number,
            number=number,
            customer_id=customer.id,
            placed_at=MONDAY + timedelta(days=days),
            total_amount=3000,
        )
        committed(order)
        add_parcel(
            brand.brand_id,
            order_id=order.id,
            shipped_at=MONDAY + timedelta(days=days),
            delivered_at=MONDAY + timedelta(days=days + 1),
            destination_region="東京都",
            time_slot=TimeSlot.morning,
        )
    add_parcel(brand.brand_id, destination_region="東京都", time_slot=TimeSlot.h18_20)
    add_parcel(brand.brand_id, carrier_code="sagawa", service="", destination_region=None)
    add_parcel(brand.brand_id, carrier_code="sagawa", service="cool")
    other = make_brand("other")
    add_parcel(other.brand_id, destination_region="東京都", time_slot=TimeSlot.morning)
    return brand


def _links(page: str, table: str) -> list[tuple[dict, str]]:
    body = re.search(rf'<table id="{table}-table">(.*?)</table>', page, re.S).group(1)
    return [
        (json.loads(html.unescape(group)), html.unescape(link))
        for group, link in re.findall(
            r'<tr data-group="([^"]*)"><th scope="row"><a href="([^"]+)"', body
        )
    ]


def _listed(client, link: str) -> int:
    listing = client.get(link)
    assert listing.status_code == 200, listing.get_data(as_text=True)
    return len(re.findall(r"<tr data-status=", listing.get_data(as_text=True)))


@pytest.mark.parametrize("table", TABLES)
def test_each_rows_link_lists_as_many_parcels_as_its_figure_counts(
    app, client, mixed, table
) -> None:
    api = client.get(
        "/api/v1/insights/shipments",
        query_string={"from": PERIOD["start"], "to": PERIOD["end"], "group_by": TABLES[table]},
        headers={"Authorization": f"Bearer {mixed.api_key}"},
    ).get_json()
    counts = {json.dumps(row["group"], sort_keys=True): row["shipments"] for row in api["rows"]}
    _sign_in(app, client, mixed.brand_id)
    page = client.get("/merchant/insights", query_string=PERIOD).get_data(as_text=True)
    links = _links(page, table)
    assert len(links) == len(counts) > 1
    for group, link in links:
        assert _listed(client, link) == counts[json.dumps(group, sort_keys=True)], (group, link)


def test_a_row_without_a_time_slot_lists_only_parcels_without_one(app, client, mixed) -> None:
    _sign_in(app, client, mixed.brand_id)
    link = "/merchant/shipments?ordered_from=2026-11-01&ordered_to=2026-11-30&without=time_slot"
    assert _listed(client, link) == 2


def test_the_segment_filter_keeps_to_the_brands_own_parcels(app, client, mixed) -> None:
    _sign_in(app, client, mixed.brand_id)
    assert _listed(client, "/merchant/shipments?segment=first&time_slot=morning") == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"segment": "vip"}, "segment"),
        ({"time_slot": "noon"}, "time_slot"),
        ({"month": "2026-13"}, "month"),
        ({"week": "2026-11-04"}, "week"),
        ({"without": "colour"}, "without"),
        ({"without": "service", "service": "cool"}, "without"),
    ],
)
def test_a_bad_drill_filter_is_a_400_naming_it(app, client, brand, query, field) -> None:
    _sign_in(app, client, brand.brand_id)
    response = client.get("/merchant/shipments", query_string=query)
    assert response.status_code == 400 and field in response.get_data(as_text=True)
