"""The fulfilment network: the centre × region matrix, the what-if on a hand-computed example, the
stock history kept from ``inventory.updated`` and the order-time advice."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from carriers.status import Status
from postpurchase.clock import utcnow
from postpurchase.db import get_db
from postpurchase.insights.figures import refresh_rollup
from postpurchase.insights.network import (
    MoveRow,
    Prefer,
    Reason,
    Skip,
    SplitRow,
    advise,
    matrix,
    region_for_postal_code,
    what_if,
)
from postpurchase.intake.operations import update_inventory
from postpurchase.intake.schemas import InventoryUpdatedData
from postpurchase.models import (
    FulfillmentCentre,
    InventoryHistory,
    InventoryLevel,
    Order,
    OrderLine,
    Shipment,
)
from tests.insights.conftest import MONDAY, NOVEMBER
from tests.insights.test_insights_pages import PERIOD, _sign_in

TOKYO, OSAKA = "東京都", "大阪府"
BEFORE = datetime(2026, 10, 30, tzinfo=UTC)


def _order(session, brand_id: int, key: str, *, day: int, fc: FulfillmentCentre, region: str,
           days: int | None, cost: int | None, lines: dict[str, int]) -> None:  # fmt: skip
    """One order placed ``day`` days after MONDAY (10:00 in Tokyo), one parcel from ``fc``."""
    placed = MONDAY + timedelta(days=day)
    order = Order(brand_id=brand_id, external_id=key, number=key, placed_at=placed)
    session.add(order)
    session.flush()
    session.add_all(
        OrderLine(brand_id=brand_id, order_id=order.id, line_key=sku, sku=sku, quantity=n)
        for sku, n in lines.items()
    )
    session.add(
        Shipment(
            brand_id=brand_id,
            order_id=order.id,
            external_id=key,
            fc_id=fc.id,
            carrier_code="yamato",
            shipped_at=placed,
            delivered_at=None if days is None else placed + timedelta(days=days),
            status=Status.delivered if days is not None else Status.in_transit,
            cost_amount=cost,
            cost_currency="JPY" if cost is not None else None,
            destination_region=region,
            destination_postal_code="530-0001" if region == OSAKA else "150-0001",
        )
    )
    session.flush()


def _stock(session, brand_id: int, fc: str, sku: str, at: datetime, available: int) -> None:
    session.add(
        InventoryHistory(
            brand_id=brand_id, fc_code=fc, sku=sku, recorded_at=at, available=available
        )
    )
    session.flush()


@pytest.fixture
def network(app, brand):
    """Two centres, two regions, eight orders in November; the expected numbers are worked by hand.

    Cells (median days, mean cost): EAST→東京都 1 d ¥800 (o1, o2); EAST→大阪府 3 d ¥1,100 (o3 ¥1,200,
    o4 ¥1,000, o8 not delivered and unpriced); WEST→大阪府 1 d ¥1,300 (o5); WEST→東京都 3 d ¥1,100
    (o6 2 d ¥900, o7 4 d ¥1,300).
    """
    with app.app_context():
        session = get_db(app).session()
        _build(session, brand.brand_id)
        session.commit()
        session.close()
    return brand.brand_id


def _build(session, brand_id: int) -> None:
    east = FulfillmentCentre(brand_id=brand_id, code="EAST", name="Ichikawa")
    west = FulfillmentCentre(brand_id=brand_id, code="WEST", name="Ibaraki")
    session.add_all([east, west])
    session.flush()
    _order(session, brand_id, "o1", day=0, fc=east, region=TOKYO, days=1, cost=800, lines={"A": 1})
    _order(session, brand_id, "o2", day=1, fc=east, region=TOKYO, days=1, cost=800, lines={"A": 2})
    _order(session, brand_id, "o3", day=2, fc=east, region=OSAKA, days=3, cost=1200, lines={"A": 1})
    _order(session, brand_id, "o4", day=3, fc=east, region=OSAKA, days=3, cost=1000, lines={"B": 1})
    _order(session, brand_id, "o5", day=4, fc=west, region=OSAKA, days=1, cost=1300, lines={"A": 1})
    _order(session, brand_id, "o6", day=5, fc=west, region=TOKYO, days=2, cost=900, lines={"A": 1})
    _order(session, brand_id, "o7", day=7, fc=west, region=TOKYO, days=4, cost=1300, lines={"A": 3})
    _order(
        session, brand_id, "o8", day=8, fc=east, region=OSAKA, days=None, cost=None, lines={"A": 9}
    )
    # EAST: 20 of A until the morning after o5 (0), 10 again from o7's day; 4 of B. WEST: 5 of A,
    # never a record of B.
    _stock(session, brand_id, "EAST", "A", BEFORE, 20)
    _stock(session, brand_id, "EAST", "A", MONDAY + timedelta(days=4, hours=2), 0)
    _stock(session, brand_id, "EAST", "A", MONDAY + timedelta(days=6), 10)
    _stock(session, brand_id, "EAST", "B", BEFORE, 4)
    _stock(session, brand_id, "WEST", "A", BEFORE, 5)
    refresh_rollup(session=session, brand_id=brand_id, now=utcnow())


def test_matrix_has_median_days_and_mean_cost_per_centre_and_region(session, network) -> None:
    grid = matrix(session=session, brand_id=network, **NOVEMBER)
    assert grid.centres == ["EAST", "WEST"]
    assert grid.regions == [TOKYO, OSAKA]  # JIS order: 13 before 27
    figures = {
        key: (cell.shipments, cell.delivered, cell.days, cell.cost)
        for key, cell in grid.cells.items()
    }
    assert figures == {
        ("EAST", TOKYO): (2, 2, 1.0, 800.0),
        ("EAST", OSAKA): (3, 2, 3.0, 1100.0),
        ("WEST", OSAKA): (1, 1, 1.0, 1300.0),
        ("WEST", TOKYO): (2, 2, 3.0, 1100.0),
    }


def test_fastest_what_if_moves_orders_only_to_centres_with_the_stock(session, network) -> None:
    # o3 → WEST (A in stock there); o4 stays (WEST never reported B); o6 stays (EAST had 0 of A);
    # o7 → EAST (10 of A again); o8 stays (WEST had 5 of A, the order wants 9).
    result = what_if(session=session, brand_id=network, prefer=Prefer.fastest, **NOVEMBER)
    assert (result.orders, result.compared, result.moved) == (8, 8, 2)
    assert result.days_saved == 4  # o3: 3 − 1; o7: 3 − 1
    assert result.cost_saved == 100  # o3: 1,100 − 1,300; o7: 1,100 − 800
    assert result.moves == [
        MoveRow("EAST", "WEST", OSAKA, 1, 2.0, -200.0),
        MoveRow("WEST", "EAST", TOKYO, 1, 2.0, 300.0),
    ]


def test_fastest_what_if_reports_the_stock_split_that_would_have_done_it(session, network) -> None:
    result = what_if(session=session, brand_id=network, prefer=Prefer.fastest, **NOVEMBER)
    # Actual: A from EAST 1+2+1+9, from WEST 1+1+3. What-if: o3 to WEST, o7 to EAST.
    assert result.split == [
        SplitRow("A", "EAST", 13, 15),
        SplitRow("A", "WEST", 5, 3),
        SplitRow("B", "EAST", 1, 1),
    ]


def test_cheapest_what_if_trades_days_for_cost(session, network) -> None:
    # 大阪府 is cheaper from EAST (¥1,100 against ¥1,300): o5 moves there (EAST still had 20 of A
    # when it was ordered), o3 stays; 東京都 is cheaper from EAST: o7 moves as before.
    result = what_if(session=session, brand_id=network, prefer=Prefer.cheapest, **NOVEMBER)
    assert result.moved == 2
    assert result.days_saved == 0  # o5: 1 − 3; o7: 3 − 1
    assert result.cost_saved == 500  # o5: 1,300 − 1,100; o7: 1,100 − 800
    assert [(row.from_fc, row.to_fc, row.region) for row in result.moves] == [
        ("WEST", "EAST", OSAKA),
        ("WEST", "EAST", TOKYO),
    ]


def test_a_tie_keeps_the_centre_that_shipped(session, network) -> None:
    # ALPHA serves 東京都 exactly as EAST does (1 day, ¥800) and has plenty of A: EAST's own orders
    # stay (the actual centre wins a tie), WEST's go to ALPHA (the lower code among the best).
    alpha = FulfillmentCentre(brand_id=network, code="ALPHA")
    session.add(alpha)
    session.flush()
    _order(session, network, "o9", day=9, fc=alpha, region=TOKYO, days=1, cost=800, lines={"A": 1})
    _stock(session, network, "ALPHA", "A", BEFORE, 50)
    refresh_rollup(session=session, brand_id=network, now=utcnow())
    result = what_if(session=session, brand_id=network, **NOVEMBER)
    assert [(row.from_fc, row.to_fc, row.region, row.orders) for row in result.moves] == [
        ("WEST", "ALPHA", TOKYO, 2),
        ("EAST", "WEST", OSAKA, 1),
    ]


def test_what_if_leaves_out_orders_split_over_centres(session, network) -> None:
    order = session.exec(select(Order).where(Order.external_id == "o1")).one()
    west = session.exec(select(FulfillmentCentre).where(FulfillmentCentre.code == "WEST")).one()
    session.add(
        Shipment(
            brand_id=network,
            order_id=order.id,
            external_id="o1",
            parcel_index=1,
            fc_id=west.id,
            carrier_code="yamato",
            destination_region=TOKYO,
        )
    )
    session.flush()
    refresh_rollup(session=session, brand_id=network, now=utcnow())
    result = what_if(session=session, brand_id=network, **NOVEMBER)
    assert (result.compared, result.skipped) == (7, {Skip.several_centres: 1})


def test_inventory_updates_are_kept_as_history(session, brand) -> None:
    for hour, available in ((1, 7), (3, 2)):
        update_inventory(
            session=session,
            brand_id=brand.brand_id,
            data=InventoryUpdatedData(fc_code="EAST", items=[{"sku": "A", "available": available}]),
            occurred_at=MONDAY + timedelta(hours=hour),
            now=utcnow(),
        )
    history = session.exec(select(InventoryHistory).order_by(InventoryHistory.recorded_at)).all()
    assert [(row.fc_code, row.sku, row.available) for row in history] == [
        ("EAST", "A", 7),
        ("EAST", "A", 2),
    ]
    assert history[0].recorded_at == MONDAY + timedelta(hours=1)


def test_advice_picks_the_fastest_centre_with_the_lines_in_stock(session, network, clock) -> None:
    session.add_all(
        [
            InventoryLevel(brand_id=network, fc_code="EAST", sku="A", available=0),
            InventoryLevel(brand_id=network, fc_code="WEST", sku="A", available=4),
        ]
    )
    session.flush()
    clock.now = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    advice = advise(
        session=session, brand_id=network, region=TOKYO, lines={"A": 2}, today=clock.now.date()
    )
    assert advice.choice is not None
    assert (advice.choice.fc_code, advice.choice.days, advice.choice.cost) == ("WEST", 3.0, 1100.0)
    assert advice.choice.reasons == [Reason.in_stock, Reason.fastest]
    (east,) = advice.alternatives
    assert (east.fc_code, east.in_stock, east.days) == ("EAST", False, 1.0)
    assert east.reasons == [Reason.out_of_stock]
    assert east.missing[0].available == 0


def test_advice_has_no_choice_when_no_centre_has_the_stock(session, network, clock) -> None:
    clock.now = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    advice = advise(
        session=session, brand_id=network, region=OSAKA, lines={"A": 1}, today=clock.now.date()
    )
    assert advice.choice is None
    assert {option.fc_code: option.reasons for option in advice.alternatives} == {
        "EAST": [Reason.no_stock_record],
        "WEST": [Reason.no_stock_record],
    }


def test_region_of_a_postal_code_follows_the_brands_own_parcels(session, network) -> None:
    assert region_for_postal_code(session=session, brand_id=network, postal_code="5300011") == OSAKA
    # No parcel to 060-xxxx yet: the prefecture of a Japanese postal code.
    assert (
        region_for_postal_code(session=session, brand_id=network, postal_code="060-0001")
        == "北海道"
    )
    assert region_for_postal_code(session=session, brand_id=network, postal_code="ABC") is None


@pytest.fixture
def stocked(app, network):
    """Stock now: EAST is out of A, WEST has 4."""
    with app.app_context():
        session = get_db(app).session()
        session.add_all(
            [
                InventoryLevel(brand_id=network, fc_code="EAST", sku="A", available=0),
                InventoryLevel(brand_id=network, fc_code="WEST", sku="A", available=4),
            ]
        )
        session.commit()
        session.close()
    return network


def _ask(client, brand, **query):
    return client.get(
        "/api/v1/fulfilment/advice",
        query_string=query,
        headers={"Authorization": f"Bearer {brand.api_key}"},
    )


def test_advice_api_names_the_centre_and_its_reasons(client, brand, stocked, clock) -> None:
    clock.now = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    response = _ask(client, brand, destination_postal_code="150-0001", sku="A", quantity="2")
    assert response.status_code == 200
    body = response.json
    assert (body["destination_region"], body["history_from"]) == (
        TOKYO,
        "2026-09-02",
    )  # 90 days up to 30 November
    assert body["centre"]["fc_code"] == "WEST"
    assert body["centre"]["reasons"] == ["in_stock", "fastest"]
    assert (body["centre"]["expected_days"], body["centre"]["expected_cost"]) == (3.0, 1100.0)
    assert [(o["fc_code"], o["reasons"]) for o in body["alternatives"]] == [
        ("EAST", ["out_of_stock"])
    ]


def test_advice_api_sums_repeated_lines_of_one_sku(client, brand, stocked, clock) -> None:
    clock.now = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    response = _ask(
        client, brand, destination_postal_code="150-0001", sku=["A", "A"], quantity=["2", "3"]
    )
    assert response.json["centre"] is None
    (short,) = response.json["alternatives"][0]["missing"]
    assert short == {"sku": "A", "needed": 5, "available": 0}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"sku": "A"}, "destination_postal_code"),
        ({"destination_postal_code": "150-0001"}, "sku"),
        ({"destination_postal_code": "150-0001", "sku": "A", "quantity": "0"}, "quantity"),
        ({"destination_postal_code": "150-0001", "sku": "A", "quantity": "x"}, "quantity"),
        ({"destination_postal_code": "150-0001", "sku": ["A", "B"], "quantity": "1"}, "quantity"),
        ({"destination_postal_code": "150-0001", "sku": "A", "prefer": "slowest"}, "prefer"),
        ({"destination_postal_code": "!!", "sku": "A"}, "destination_postal_code"),
    ],
)
def test_bad_advice_questions_are_a_400_naming_the_field(client, brand, query, field) -> None:
    response = _ask(client, brand, **query)
    assert response.status_code == 400
    assert response.json["error"]["details"][0]["loc"] == f"query.{field}"


def test_a_postal_code_of_no_known_region_is_a_422(client, brand) -> None:
    response = _ask(client, brand, destination_postal_code="ABC-DEF", sku="A")
    assert response.status_code == 422
    assert response.json["error"]["details"][0]["loc"] == "query.destination_postal_code"


def test_advice_reads_only_the_asking_brands_centres(client, make_brand, stocked, clock) -> None:
    other = make_brand("other")
    clock.now = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    response = _ask(client, other, destination_postal_code="150-0001", sku="A")
    assert response.json["centre"] is None
    assert response.json["alternatives"] == []


def test_advice_needs_an_api_key(client) -> None:
    response = client.get("/api/v1/fulfilment/advice?destination_postal_code=150-0001&sku=A")
    assert response.status_code == 401


def test_network_page_shows_the_matrix_and_the_what_if(app, client, network) -> None:
    _sign_in(app, client, network)
    page = client.get("/merchant/insights/network", query_string={**PERIOD, "lang": "en"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-figure="moved">2<' in text
    assert 'data-figure="days_saved">4 days<' in text
    assert 'data-figure="cost_saved">¥100<' in text
    assert '<th scope="row">東京都</th>' in text


def test_network_page_is_in_japanese(app, client, network) -> None:
    _sign_in(app, client, network)
    page = client.get("/merchant/insights/network", query_string={**PERIOD, "lang": "ja"})
    assert "<h1>配送拠点</h1>" in page.get_data(as_text=True)


def test_network_csv_has_the_summary_moves_and_split(app, client, network) -> None:
    _sign_in(app, client, network)
    response = client.get(
        "/merchant/insights/network.csv", query_string={**PERIOD, "prefer": "cheapest"}
    )
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="network-acme-2026-11-01-2026-11-30-cheapest.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    (summary,) = [row for row in rows if row["table"] == "summary"]
    assert (summary["moved"], summary["days_saved"], summary["cost_saved"]) == ("2", "0.0", "500.0")
    assert len([row for row in rows if row["table"] == "matrix"]) == 4
    assert [row["to_fc_code"] for row in rows if row["table"] == "moves"] == ["EAST", "EAST"]
    assert len([row for row in rows if row["table"] == "stock_split"]) == 3


def test_a_bad_prefer_on_the_page_is_a_400_naming_it(app, client, network) -> None:
    _sign_in(app, client, network)
    page = client.get("/merchant/insights/network", query_string={"prefer": "slowest"})
    assert page.status_code == 400
    assert "prefer" in page.get_data(as_text=True)


def test_another_brands_merchant_sees_none_of_the_network(app, client, make_brand, network) -> None:
    other = make_brand("other")
    _sign_in(app, client, other.brand_id, email="ops@other.example")
    page = client.get("/merchant/insights/network", query_string=PERIOD)
    assert "EAST" not in page.get_data(as_text=True)
