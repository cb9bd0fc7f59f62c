"""Time slots and lead-time tables in delivery dates; the slot backtest on constructed histories."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from sqlmodel import select

from carriers.parsing import JST
from carriers.slots import find_slot, slot_day
from postpurchase.db import get_db
from postpurchase.edd import service
from postpurchase.edd.cli import edd
from postpurchase.edd.leadtimes import (
    LeadTimeError,
    blend,
    brand_table,
    default_table,
    import_leadtimes,
    lookup,
    parse_leadtimes,
)
from postpurchase.edd.slot_bench import constructed_history, score_slots
from postpurchase.models import FulfillmentCentre, LeadTime, TimeSlot
from tests.edd.conftest import JP
from tests.edd.test_edd_service import CHECKOUT_NOW, acme, parcel  # noqa: F401
from tests.sql import recorded

# Friday 2026-11-20, 10:00 in Tokyo: the parcel is still in transit after the 午前中 cut-off.
LATE_SCAN = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def test_parcel_reaching_the_depot_after_the_slot_cutoff_goes_out_the_next_day():
    morning = find_slot("yamato", "morning")
    assert morning is not None
    assert slot_day(datetime(2026, 11, 20, 6, 59, tzinfo=JST), morning) == date(2026, 11, 20)
    assert slot_day(datetime(2026, 11, 20, 7, 1, tzinfo=JST), morning) == date(2026, 11, 21)


def test_a_late_in_transit_scan_moves_a_morning_slot_but_not_an_evening_one(app, session, parcel):  # noqa: F811
    morning = parcel(time_slot=TimeSlot.morning, last_event_at=LATE_SCAN)
    evening = parcel(time_slot=TimeSlot.h19_21, last_event_at=LATE_SCAN, external_id="s2")
    models = service.models_of(app)
    late = service.predict_for_shipment(
        session=session, models=models, shipment_id=morning, now=LATE_SCAN
    )
    on_time = service.predict_for_shipment(
        session=session, models=models, shipment_id=evening, now=LATE_SCAN
    )
    assert late is not None and on_time is not None
    assert on_time[0] == date(2026, 11, 20)
    assert late[0] > on_time[0]


def test_checkout_offers_each_slot_with_the_first_day_it_can_be_made(app, session, acme):  # noqa: F811
    answer = service.checkout_estimate(
        session=session,
        models=service.models_of(app),
        brand_slug="acme",
        postal_code="530-0001",
        carrier="yamato",
        fc_code="TOKYO",
        now=CHECKOUT_NOW,
    )
    offers = {o["slot"]: o for o in answer["slots"]}
    assert list(offers) == ["morning", "14-16", "16-18", "18-20", "19-21"]
    assert {o["date"] for o in offers.values()} == {answer["predicted_date"]}
    assert offers["19-21"]["from"] == "19:00"
    assert answer["basis"]["lead_time"]["destination"] == "kansai"


def test_a_far_route_cannot_make_the_morning_slot_on_the_predicted_day():
    far = lookup(default_table(), "135-0061", "060-0001")  # Tokyo to Sapporo: next afternoon
    assert far is not None
    assert (far.days, far.earliest_slot) == (1, "14-16")


def test_the_lead_time_table_decides_for_a_new_brand_and_fades_with_deliveries():
    assert blend(model_days=5, sample_size=0, table_days=1) == 1
    assert blend(model_days=5, sample_size=2000, table_days=1) == 5


def test_a_lead_time_csv_with_an_unknown_prefecture_names_the_line():
    text = "origin,destination,days,earliest_slot\n13,27,1,morning\n13,99,1,\n"
    with pytest.raises(LeadTimeError, match="line 3: destination"):
        parse_leadtimes(text)


def test_leadtimes_import_stores_the_brand_table(app, runner, acme, tmp_path):  # noqa: F811
    csv_file = tmp_path / "lt.csv"
    csv_file.write_text("origin,destination,days,earliest_slot\n13,27,2,14-16\n")
    result = runner.invoke(edd, ["leadtimes", "import", "--brand", "acme", str(csv_file)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        session = get_db(app).session()
        rows = session.exec(select(LeadTime)).all()
        session.close()
    assert [(r.origin, r.destination, r.days, r.earliest_slot) for r in rows] == [
        ("13", "27", 2, "14-16")
    ]


def test_slot_awareness_lowers_the_error_on_a_constructed_history():
    parcels = constructed_history(2000, typical=time(10))
    blind, by_route, by_scan = score_slots(parcels, typical=time(10))
    assert by_route.mae_days < blind.mae_days
    assert by_scan.mae_days == 0


def test_a_parcel_leaving_japan_is_not_read_against_the_japanese_lead_times(
    app,
    session,
    acme,  # noqa: F811
    parcel,  # noqa: F811
):
    # Israeli postal codes have seven digits too, like Japanese ones.
    abroad = parcel(destination_country="IL", destination_postal_code="6100000")
    service.predict_for_shipment(session=session, models=service.models_of(app), shipment_id=abroad)
    answer = service.shipment_basis(session=session, brand_id=acme.brand_id, shipment_id=abroad)
    assert answer is not None
    assert "lead_time" not in answer["basis"]


@pytest.fixture
def fresh(app, make_brand):
    """A brand with a Tokyo centre and no delivered parcels yet."""
    created = make_brand("fresh")
    with app.app_context():
        session = get_db(app).session()
        session.add(
            FulfillmentCentre(brand_id=created.brand_id, code="TOKYO", postal_code="135-0061")
        )
        session.commit()
        session.close()
    return created


def _checkout(app, session, brand: str) -> dict:
    return service.checkout_estimate(
        session=session,
        models=service.models_of(app),
        brand_slug=brand,
        postal_code="530-0001",
        carrier="yamato",
        now=CHECKOUT_NOW,
    )


def test_a_new_brand_is_estimated_from_its_own_lead_time_table(app, session, fresh):
    rows = parse_leadtimes("origin,destination,days,earliest_slot\n13,27,3,16-18\n")
    import_leadtimes(session=session, brand_id=fresh.brand_id, rows=rows)
    answer = _checkout(app, session, "fresh")
    assert (
        answer["predicted_date"]
        == JP.add_business_days(date.fromisoformat(answer["dispatch_date"]), 3).isoformat()
    )
    offers = {o["slot"]: o["date"] for o in answer["slots"]}
    assert offers["16-18"] == answer["predicted_date"]
    assert offers["14-16"] > answer["predicted_date"]


def test_a_brand_lead_time_table_is_read_once_per_unit_of_work(session, fresh):
    with recorded(session.get_bind(), starting="SELECT", containing="FROM leadtime") as reads:
        first = brand_table(session=session, brand_id=fresh.brand_id)
        again = brand_table(session=session, brand_id=fresh.brand_id)
    assert again == first == default_table()
    assert len(reads) == 1


def test_importing_a_lead_time_table_replaces_the_one_read_earlier_in_the_session(session, fresh):
    assert brand_table(session=session, brand_id=fresh.brand_id) == default_table()
    rows = parse_leadtimes("origin,destination,days,earliest_slot\n13,27,3,16-18\n")
    import_leadtimes(session=session, brand_id=fresh.brand_id, rows=rows)
    assert brand_table(session=session, brand_id=fresh.brand_id) == rows
