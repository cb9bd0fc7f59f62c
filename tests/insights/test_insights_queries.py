"""Insights figures on hand-made parcels: cost, days, promise keeping, regions, NPS, brand isolation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from postpurchase.insights import queries
from postpurchase.models import Feedback
from tests.insights.conftest import MONDAY, NOVEMBER


def _methods(session, brand_id: int) -> dict[tuple[str, str], queries.MethodRow]:
    rows = queries.shipping_methods(session=session, brand_id=brand_id, **NOVEMBER)
    return {(row.carrier_code, row.service): row for row in rows}


def test_each_method_counts_its_parcels_and_deliveries(session, brand, add_parcel) -> None:
    add_parcel(brand.brand_id, delivered_at=MONDAY + timedelta(days=1))
    add_parcel(brand.brand_id)
    add_parcel(brand.brand_id, carrier_code="sagawa")
    rows = _methods(session, brand.brand_id)
    assert (rows["yamato", "standard"].parcels, rows["yamato", "standard"].delivered) == (2, 1)
    assert (rows["sagawa", "standard"].parcels, rows["sagawa", "standard"].delivered) == (1, 0)


def test_carrier_and_service_make_separate_methods(session, brand, add_parcel) -> None:
    add_parcel(brand.brand_id, service="standard")
    add_parcel(brand.brand_id, service="cool")
    assert set(_methods(session, brand.brand_id)) == {("yamato", "standard"), ("yamato", "cool")}


def test_cost_mean_and_median_ignore_parcels_without_a_cost(session, brand, add_parcel) -> None:
    for cost in (700, 800, 1500, None):
        add_parcel(brand.brand_id, cost=cost)
    row = _methods(session, brand.brand_id)["yamato", "standard"]
    assert (row.mean_cost, row.median_cost, row.currency) == (1000, 800, "JPY")


def test_costs_in_another_currency_are_left_out_of_the_mean(session, brand, add_parcel) -> None:
    add_parcel(brand.brand_id, cost=1000)
    add_parcel(brand.brand_id, cost=2000, cost_currency="USD")
    assert _methods(session, brand.brand_id)["yamato", "standard"].mean_cost == 1000


def test_delivery_days_are_calendar_days_in_the_brands_timezone(session, brand, add_parcel) -> None:
    # Handed over 23:30 JST on Monday, delivered 00:30 JST on Tuesday: one hour, but one calendar day.
    shipped = datetime(2026, 11, 2, 14, 30, tzinfo=UTC)
    add_parcel(brand.brand_id, shipped_at=shipped, delivered_at=shipped + timedelta(hours=1))
    assert _methods(session, brand.brand_id)["yamato", "standard"].median_days == 1


def test_median_and_p90_delivery_days(session, brand, add_parcel) -> None:
    for days in (1, 1, 1, 2, 2, 2, 2, 3, 3, 5):
        add_parcel(brand.brand_id, delivered_at=MONDAY + timedelta(days=days))
    row = _methods(session, brand.brand_id)["yamato", "standard"]
    assert (row.median_days, row.p90_days) == (2, 3)


def test_on_time_share_compares_the_local_delivery_date_with_the_promise(
    session, brand, add_parcel
) -> None:
    promised = date(2026, 11, 3)
    add_parcel(
        brand.brand_id,
        delivered_at=datetime(2026, 11, 3, 14, 59, tzinfo=UTC),
        promised_date=promised,
    )
    add_parcel(
        brand.brand_id,
        delivered_at=datetime(2026, 11, 3, 15, 0, tzinfo=UTC),
        promised_date=promised,
    )
    add_parcel(
        brand.brand_id, delivered_at=datetime(2026, 11, 2, 5, 0, tzinfo=UTC), promised_date=promised
    )
    add_parcel(
        brand.brand_id, delivered_at=datetime(2026, 11, 2, 5, 0, tzinfo=UTC)
    )  # no promise: not counted
    row = _methods(session, brand.brand_id)["yamato", "standard"]
    assert (row.promised, row.on_time) == (3, 2)
    assert row.on_time_share == 2 / 3


def test_order_spend_counts_an_order_once_however_many_parcels(session, brand, add_parcel) -> None:
    order_id = add_parcel(brand.brand_id, total=9000)
    add_parcel(brand.brand_id, order_id=order_id)
    add_parcel(brand.brand_id, total=3000)
    assert _methods(session, brand.brand_id)["yamato", "standard"].mean_order_total == 6000


def test_only_parcels_handed_over_on_the_periods_local_dates_count(
    session, brand, add_parcel
) -> None:
    add_parcel(
        brand.brand_id, shipped_at=datetime(2026, 10, 31, 15, 0, tzinfo=UTC)
    )  # 1 Nov 00:00 JST
    add_parcel(brand.brand_id, shipped_at=datetime(2026, 10, 31, 14, 59, tzinfo=UTC))  # 31 Oct JST
    add_parcel(brand.brand_id, shipped_at=datetime(2026, 11, 30, 15, 0, tzinfo=UTC))  # 1 Dec JST
    assert _methods(session, brand.brand_id)["yamato", "standard"].parcels == 1


def test_two_brands_never_mix(session, make_brand, add_parcel) -> None:
    acme, other = make_brand("acme"), make_brand("other")
    add_parcel(
        acme.brand_id,
        cost=500,
        delivered_at=MONDAY + timedelta(days=1),
        destination_region="東京都",
    )
    add_parcel(
        other.brand_id,
        cost=5000,
        delivered_at=MONDAY + timedelta(days=4),
        destination_region="東京都",
    )
    row = _methods(session, acme.brand_id)["yamato", "standard"]
    assert (row.parcels, row.mean_cost, row.median_days) == (1, 500, 1)
    regions = queries.delivery_days_by_region(session=session, brand_id=acme.brand_id, **NOVEMBER)
    assert [(r.region, r.delivered, r.median_days) for r in regions] == [("東京都", 1, 1)]


def test_delivery_days_per_region_and_carrier(session, brand, add_parcel) -> None:
    for region, carrier, days in [
        ("東京都", "yamato", 1),
        ("東京都", "yamato", 2),
        ("東京都", "sagawa", 3),
        ("沖縄県", "yamato", 4),
    ]:
        add_parcel(
            brand.brand_id,
            carrier_code=carrier,
            destination_region=region,
            delivered_at=MONDAY + timedelta(days=days),
        )
    add_parcel(brand.brand_id, destination_region="北海道")  # not delivered yet
    regions = queries.delivery_days_by_region(session=session, brand_id=brand.brand_id, **NOVEMBER)
    assert [
        (r.region, r.carrier_code, r.delivered, r.median_days, r.p90_days) for r in regions
    ] == [
        ("東京都", "sagawa", 1, 3, 3),
        ("東京都", "yamato", 2, 1.5, 2),
        ("沖縄県", "yamato", 1, 4, 4),
    ]


def test_nps_is_promoters_minus_detractors_in_percent(session, brand) -> None:
    for score in (10, 9, 9, 8, 3):
        session.add(Feedback(brand_id=brand.brand_id, nps_score=score, created_at=MONDAY))
    session.add(
        Feedback(brand_id=brand.brand_id, nps_score=None, comment="no score", created_at=MONDAY)
    )
    session.commit()
    result = queries.nps(session=session, brand_id=brand.brand_id, **NOVEMBER)
    assert (result.responses, result.promoters, result.passives, result.detractors) == (5, 3, 1, 1)
    assert result.score == 40


def test_nps_is_none_without_scores(session, brand) -> None:
    assert queries.nps(session=session, brand_id=brand.brand_id, **NOVEMBER) is None


def test_percentile_is_nearest_rank() -> None:
    assert queries.percentile([5, 1, 2, 3, 4], 0.9) == 5
    assert queries.percentile([7], 0.9) == 7


def test_return_reasons_count_units_and_their_share(session, brand, add_parcel, add_return) -> None:
    order_id = add_parcel(brand.brand_id)
    add_return(brand.brand_id, order_id, lines=[("size_too_small", 2), ("damaged", 1)])
    add_return(brand.brand_id, order_id, lines=[("size_too_small", 1)])
    rows = queries.return_reasons(session=session, brand_id=brand.brand_id, **NOVEMBER)
    assert [(row.reason_code, row.units, row.share) for row in rows] == [
        ("size_too_small", 3, 0.75),
        ("damaged", 1, 0.25),
    ]


def test_return_reasons_count_returns_requested_on_the_periods_local_dates(
    session, brand, add_parcel, add_return
) -> None:
    order_id = add_parcel(brand.brand_id)
    add_return(
        brand.brand_id,
        order_id,
        lines=[("damaged", 1)],
        created_at=datetime(2026, 10, 31, 15, 0, tzinfo=UTC),
    )
    add_return(
        brand.brand_id,
        order_id,
        lines=[("other", 1)],
        created_at=datetime(2026, 10, 31, 14, 59, tzinfo=UTC),
    )
    add_return(
        brand.brand_id,
        order_id,
        lines=[("other", 1)],
        created_at=datetime(2026, 11, 30, 15, 0, tzinfo=UTC),
    )
    rows = queries.return_reasons(session=session, brand_id=brand.brand_id, **NOVEMBER)
    assert [(row.reason_code, row.units) for row in rows] == [("damaged", 1)]


def test_return_reasons_of_another_brand_are_left_out(
    session, brand, make_brand, add_parcel, add_return
) -> None:
    other = make_brand(slug="other")
    add_return(other.brand_id, add_parcel(other.brand_id), lines=[("damaged", 4)])
    assert queries.return_reasons(session=session, brand_id=brand.brand_id, **NOVEMBER) == []
