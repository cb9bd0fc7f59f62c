"""Predictions in the service: at hand-over, order time and every tracking transition, driven
through the signals; the checkout API and the per-shipment basis API."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from carriers.status import Status
from postpurchase import signals
from postpurchase.brands import get_brand
from postpurchase.db import get_db
from postpurchase.edd import customs, service
from postpurchase.edd.backtest import AsOf
from postpurchase.edd.calendar import CarrierCalendar
from postpurchase.models import (
    DeliveryPrediction,
    FulfillmentCentre,
    Order,
    OrderLine,
    RateLimitWindow,
    Shipment,
    TimeSlot,
    TrackingEvent,
    TransitModelState,
)
from tests.sql import recorded

# Wednesday 2026-11-18, 10:00 in Tokyo.
HANDOVER = datetime(2026, 11, 18, 1, 0, tzinfo=UTC)


@pytest.fixture
def acme(app, make_brand, history):
    """A brand with a Tokyo centre (cut-off 15:00) and a model fitted on 2-business-day parcels."""
    created = make_brand("acme", settings={"edd": {"promise_level": 0.9}})
    with app.app_context():
        session = get_db(app).session()
        session.add(
            FulfillmentCentre(
                brand_id=created.brand_id,
                code="TOKYO",
                region="Tokyo",
                postal_code="135-0061",
                cutoff_time="15:00",
            )
        )
        session.flush()
        brand = get_brand(session=session, slug="acme")
        service.fit_brand(
            session=session,
            brand=brand,
            now=HANDOVER - timedelta(days=1),
            extra=history(400, days=2, start=datetime(2026, 8, 1, 1, tzinfo=UTC)),
        )
        session.commit()
        session.close()
    return created


@pytest.fixture
def parcel(app, acme):
    """``parcel(**fields)`` commits an order and a shipment to Osaka 530; returns the shipment id."""

    def make(**fields):
        with app.app_context():
            session = get_db(app).session()
            fc = session.exec(select(FulfillmentCentre)).one()
            order = Order(
                brand_id=acme.brand_id,
                external_id=f"o{fields.get('external_id', '1')}",
                number="#1",
                placed_at=fields.pop("placed_at", HANDOVER - timedelta(hours=20)),
            )
            session.add(order)
            session.flush()
            values = {
                "brand_id": acme.brand_id,
                "order_id": order.id,
                "external_id": "s1",
                "fc_id": fc.id,
                "carrier_code": "yamato",
                "service": "standard",
                "status": Status.in_transit,
                "shipped_at": HANDOVER,
                "destination_postal_code": "530-0001",
                "destination_region": "Osaka",
                "destination_country": "JP",
            }
            values.update(fields)
            shipment = Shipment(**values)
            session.add(shipment)
            session.commit()
            shipment_id = shipment.id
            session.close()
        return shipment_id

    return make


@pytest.fixture
def changes():
    seen = []

    def receiver(sender, **kwargs):
        seen.append(
            (sender, kwargs["previous_date"], kwargs["predicted_date"], kwargs["promised_date"])
        )

    signals.shipment_prediction_changed.connect(receiver)
    yield seen
    signals.shipment_prediction_changed.disconnect(receiver)


def _handover(session, shipment_id, now=HANDOVER):
    signals.shipment_created.send(
        session.get(Shipment, shipment_id).brand_id,
        session=session,
        shipment_id=shipment_id,
        now=now,
    )


def _transition(session, shipment_id, status, now, **fields):
    shipment = session.get(Shipment, shipment_id)
    previous = shipment.status
    shipment.status = status
    for key, value in fields.items():
        setattr(shipment, key, value)
    session.add(shipment)
    signals.shipment_status_changed.send(
        shipment_id,
        session=session,
        brand_id=shipment.brand_id,
        previous=previous,
        current=status,
        occurred_at=now,
        now=now,
    )
    return session.get(Shipment, shipment_id)


def test_handover_predicts_two_business_days_and_sets_the_promise(session, parcel, changes):
    shipment_id = parcel()
    _handover(session, shipment_id)
    shipment = session.get(Shipment, shipment_id)
    assert shipment.predicted_date == date(2026, 11, 20)
    assert shipment.window_start <= shipment.predicted_date <= shipment.window_end
    assert shipment.promised_date >= shipment.predicted_date
    assert changes == [(shipment_id, None, date(2026, 11, 20), shipment.promised_date)]
    stored = session.exec(select(DeliveryPrediction)).one()
    assert stored.trigger == "handover" and stored.as_of == "shipped"
    assert stored.basis["sample_size"] == 400 and stored.basis["route"]["origin"] == "TOKYO"


def test_out_for_delivery_means_today_and_the_promise_stays(session, parcel):
    shipment_id = parcel()
    _handover(session, shipment_id)
    promised = session.get(Shipment, shipment_id).promised_date
    later = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)  # Tuesday 09:30 in Tokyo, two days late
    shipment = _transition(session, shipment_id, Status.out_for_delivery, later)
    assert (
        shipment.predicted_date
        == shipment.window_start
        == shipment.window_end
        == date(2026, 11, 24)
    )
    assert shipment.promised_date == promised


def test_failed_attempt_moves_to_the_next_delivery_day(session, parcel):
    shipment_id = parcel(time_slot=TimeSlot.h18_20)
    friday = datetime(2026, 11, 20, 10, tzinfo=UTC)  # 19:00 Friday in Tokyo
    shipment = _transition(session, shipment_id, Status.attempt_fail, friday)
    assert shipment.predicted_date == date(2026, 11, 24)  # Monday 23rd is a holiday
    stored = session.exec(select(DeliveryPrediction)).one()
    assert stored.basis["time_slot"] == "18-20"


def test_failed_attempt_respects_a_later_requested_date(session, parcel):
    shipment_id = parcel(requested_date=date(2026, 11, 27))
    shipment = _transition(
        session, shipment_id, Status.attempt_fail, datetime(2026, 11, 20, 3, tzinfo=UTC)
    )
    assert shipment.predicted_date == date(2026, 11, 27)


def test_requested_date_is_never_undercut_at_handover(session, parcel):
    shipment_id = parcel(requested_date=date(2026, 11, 26))
    _handover(session, shipment_id)
    shipment = session.get(Shipment, shipment_id)
    assert shipment.predicted_date == shipment.window_start == date(2026, 11, 26)
    assert shipment.promised_date >= date(2026, 11, 26)


def test_in_transit_after_the_usual_days_predicts_no_earlier_than_today(session, parcel, changes):
    shipment_id = parcel()
    _handover(session, shipment_id)
    late = datetime(2026, 11, 26, 1, tzinfo=UTC)  # Thursday, four business days after hand-over
    shipment = _transition(session, shipment_id, Status.in_transit, late)
    assert shipment.predicted_date >= date(2026, 11, 26)
    assert len(changes) == 2 and changes[1][1] == date(2026, 11, 20)


def test_delivery_sets_the_delivered_date(session, parcel):
    shipment_id = parcel()
    moment = datetime(2026, 11, 19, 5, tzinfo=UTC)
    shipment = _transition(session, shipment_id, Status.delivered, moment, delivered_at=moment)
    assert shipment.predicted_date == date(2026, 11, 19)


#: A JP→US parcel: the same route from the Tokyo centre, to a New York address.
TO_NEW_YORK = {
    "destination_country": "US",
    "destination_postal_code": "10001",
    "destination_region": "NY",
}


def test_jp_to_us_prediction_does_not_skip_japans_holiday(session, parcel):
    friday = datetime(2026, 11, 20, 1, tzinfo=UTC)
    shipment_id = parcel(shipped_at=friday, **TO_NEW_YORK)
    _handover(session, shipment_id, now=friday)
    stored = session.exec(select(DeliveryPrediction)).one()
    skipped = {item["date"] for item in stored.basis["calendar_days_skipped"]}
    assert "2026-11-23" not in skipped  # Labor Thanksgiving Day is Japan's, not the lane's
    assert stored.basis["destination_country"] == "US"
    assert session.get(Shipment, shipment_id).predicted_date == date(2026, 11, 24)


def test_jp_to_us_prediction_skips_us_thanksgiving(session, parcel):
    wednesday = datetime(2026, 11, 25, 1, tzinfo=UTC)
    shipment_id = parcel(shipped_at=wednesday, **TO_NEW_YORK)
    _handover(session, shipment_id, now=wednesday)
    stored = session.exec(select(DeliveryPrediction)).one()
    skipped = {item["date"]: item["reason"] for item in stored.basis["calendar_days_skipped"]}
    assert "Thanksgiving" in skipped["2026-11-26"]
    assert session.get(Shipment, shipment_id).predicted_date == date(2026, 11, 30)


def test_customs_hold_is_a_state_that_delays_the_prediction_past_release(session, parcel):
    wednesday = datetime(2026, 11, 25, 1, tzinfo=UTC)
    shipment_id = parcel(shipped_at=wednesday - timedelta(days=2), **TO_NEW_YORK)
    shipment = _transition(session, shipment_id, Status.held_at_customs, wednesday)
    # Released two US business days on (Thanksgiving skipped: Fri 27, Mon 30), delivered a day later.
    assert shipment.predicted_date == date(2026, 12, 1)
    stored = session.exec(select(DeliveryPrediction)).one()
    assert stored.status == "held_at_customs"
    assert stored.basis["customs"]["earliest_release"] == "2026-11-30"


def _cleared_through_customs(session, brand_id, count, *, days=4):
    """``count`` past JP→US parcels whose customs stage took ``days`` US business days: export
    cleared on Monday 19 October 2026 (10:00 in Tokyo), import cleared ``days`` later."""
    us = CarrierCalendar(country="US")
    entered = datetime(2026, 10, 19, 1, tzinfo=UTC)
    cleared = datetime.combine(
        us.add_business_days(date(2026, 10, 19), days), datetime.min.time(), UTC
    ) + timedelta(hours=1)
    for number in range(count):
        past = Shipment(
            brand_id=brand_id,
            external_id=f"past{number}",
            carrier_code="dhl",
            status=Status.delivered,
            **TO_NEW_YORK,
        )
        session.add(past)
        session.flush()
        session.add_all(
            TrackingEvent(brand_id=brand_id, shipment_id=past.id, occurred_at=moment, status=status)
            for moment, status in (
                (entered, Status.export_cleared),
                (cleared, Status.import_cleared),
            )
        )
    session.commit()  # the ``parcel`` factory writes from a session of its own


def test_customs_stage_is_learnt_from_the_lanes_past_parcels(session, parcel, acme):
    _cleared_through_customs(session, acme.brand_id, customs.MIN_PARCELS)
    wednesday = datetime(2026, 11, 25, 1, tzinfo=UTC)
    shipment_id = parcel(shipped_at=wednesday - timedelta(days=2), **TO_NEW_YORK)
    shipment = _transition(session, shipment_id, Status.held_at_customs, wednesday)
    stored = session.exec(select(DeliveryPrediction)).one()
    assert stored.basis["customs"]["source"] == "learnt"
    assert stored.basis["customs"]["release_business_days"] == 4
    # Four US business days from Wednesday, Thanksgiving skipped: Fri 27, Mon 30, Tue 1, Wed 2.
    assert stored.basis["customs"]["earliest_release"] == "2026-12-02"
    assert shipment.predicted_date == date(2026, 12, 3)


def test_customs_stage_keeps_the_stated_prior_with_too_few_past_parcels(session, parcel, acme):
    _cleared_through_customs(session, acme.brand_id, customs.MIN_PARCELS - 1)
    wednesday = datetime(2026, 11, 25, 1, tzinfo=UTC)
    shipment_id = parcel(shipped_at=wednesday - timedelta(days=2), **TO_NEW_YORK)
    _transition(session, shipment_id, Status.held_at_customs, wednesday)
    basis = session.exec(select(DeliveryPrediction)).one().basis["customs"]
    assert (basis["source"], basis["parcels"]) == ("prior", customs.MIN_PARCELS - 1)
    assert basis["release_business_days"] == customs.PRIOR_BUSINESS_DAYS
    assert basis["earliest_release"] == "2026-11-30"


def test_customs_stage_counts_from_the_day_customs_first_had_the_parcel(session, parcel, acme):
    _cleared_through_customs(session, acme.brand_id, customs.MIN_PARCELS)
    monday = datetime(2026, 11, 23, 1, tzinfo=UTC)
    shipment_id = parcel(shipped_at=monday - timedelta(days=3), **TO_NEW_YORK)
    session.add(
        TrackingEvent(
            brand_id=acme.brand_id,
            shipment_id=shipment_id,
            occurred_at=monday,
            status=Status.export_cleared,
        )
    )
    _transition(session, shipment_id, Status.held_at_customs, monday + timedelta(days=2))
    basis = session.exec(select(DeliveryPrediction)).one().basis["customs"]
    # Four US business days from Monday: Tue 24, Wed 25, Fri 27, Mon 30.
    assert (basis["entered"], basis["earliest_release"]) == ("2026-11-23", "2026-11-30")


def test_exception_makes_no_prediction(session, parcel):
    shipment_id = parcel()
    _transition(session, shipment_id, Status.exception, HANDOVER)
    assert session.exec(select(DeliveryPrediction)).all() == []


def test_unchanged_date_emits_no_change(session, parcel, changes):
    shipment_id = parcel()
    _handover(session, shipment_id)
    _transition(session, shipment_id, Status.in_transit, HANDOVER + timedelta(hours=1))
    assert len(changes) == 1
    assert len(session.exec(select(DeliveryPrediction)).all()) == 2


def test_order_time_prediction_counts_from_the_cutoff(session, parcel):
    """A parcel announced before it is handed over is predicted from its order's time."""
    after_cutoff = datetime(2026, 11, 18, 7, tzinfo=UTC)  # 16:00 Wednesday in Tokyo
    shipment_id = parcel(shipped_at=None, status=Status.pending, placed_at=after_cutoff)
    _handover(session, shipment_id, now=after_cutoff)
    stored = session.exec(select(DeliveryPrediction)).one()
    assert stored.trigger == "handover" and stored.as_of == "ordered"
    assert stored.basis["anchor_date"] == "2026-11-19"


def _add_line(session, shipment_id, *, category, price=5000):
    order_id = session.get(Shipment, shipment_id).order_id
    session.add(
        OrderLine(
            brand_id=session.get(Shipment, shipment_id).brand_id,
            order_id=order_id,
            line_key="1",
            sku="SKU-1",
            category=category,
            quantity=1,
            unit_price=price,
        )
    )
    session.flush()


def test_history_rows_carry_the_parcels_cost_weight_and_main_category(session, parcel):
    shipment_id = parcel(
        status=Status.delivered,
        delivered_at=HANDOVER + timedelta(days=1),
        cost_amount=1500,
        weight_g=12000,
    )
    _add_line(session, shipment_id, category="sofa", price=90000)
    row = service.shipment_history(
        session=session, brand_id=session.get(Shipment, shipment_id).brand_id
    )[0]
    assert (row.cost, row.weight_g, row.category) == (1500.0, 12000.0, "sofa")


def test_a_slow_category_in_the_order_moves_the_prediction_and_is_recorded(
    session, parcel, history
):
    brand = get_brand(session=session, slug="acme")
    slow = history(
        150, days=6, category="sofa", prefix="sofa", start=datetime(2026, 8, 1, 4, tzinfo=UTC)
    )
    quick = history(
        450, days=2, category="tea", prefix="tea", start=datetime(2026, 8, 1, 1, tzinfo=UTC)
    )
    service.fit_brand(
        session=session, brand=brand, now=HANDOVER - timedelta(days=1), extra=slow + quick
    )
    session.commit()
    shipment_id = parcel()
    _add_line(session, shipment_id, category="sofa")
    _handover(session, shipment_id)
    stored = session.exec(select(DeliveryPrediction)).one()
    assert stored.basis["order_features"]["category"] == "sofa"
    assert stored.basis["factors"]["category"] > 1.5
    assert session.get(Shipment, shipment_id).predicted_date > date(
        2026, 11, 20
    )  # tea would arrive on the 20th


def test_daily_refit_stores_both_models(app, acme, parcel):
    parcel(status=Status.delivered, delivered_at=HANDOVER + timedelta(days=1))
    service.refit_all(app)
    with app.app_context():
        session = get_db(app).session()
        states = session.exec(select(TransitModelState)).all()
        assert {s.as_of for s in states} == {"ordered", "shipped"}
        session.close()


# Checkout API ----------------------------------------------------------------------------------

CHECKOUT_NOW = datetime(2026, 11, 18, 5, 30, tzinfo=UTC)  # 14:30 Wednesday in Tokyo


def test_checkout_estimate_has_dates_countdown_and_basis(app, session, acme):
    answer = service.checkout_estimate(
        session=session,
        models=service.models_of(app),
        brand_slug="acme",
        postal_code="530-0001",
        carrier="yamato",
        service="standard",
        fc_code="TOKYO",
        now=CHECKOUT_NOW,
    )
    assert answer["dispatch_date"] == "2026-11-18"
    assert answer["predicted_date"] == "2026-11-20"
    assert answer["cutoff"]["seconds_left"] == 30 * 60
    assert answer["basis"]["route"]["region"] == "Osaka"
    assert "400" in answer["basis"]["text"]
    assert answer["window_start"] <= answer["predicted_date"] <= answer["promise_date"]


def test_checkout_after_cutoff_dispatches_next_business_day(app, session, acme):
    answer = service.checkout_estimate(
        session=session,
        models=service.models_of(app),
        brand_slug="acme",
        postal_code="5300001",
        carrier="yamato",
        now=CHECKOUT_NOW + timedelta(hours=1),
    )
    assert answer["dispatch_date"] == "2026-11-19"
    assert answer["cutoff"]["at"].startswith("2026-11-19T15:00")


def test_checkout_api_answers_json(client, acme):
    response = client.get(
        "/api/v1/edd?brand=acme&postal_code=530-0001&service=standard&fc=TOKYO&carrier=yamato"
    )
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) >= {
        "predicted_date",
        "window_start",
        "window_end",
        "promise_date",
        "cutoff",
        "basis",
    }


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("postal_code=530-0001", 400, "missing_brand"),
        ("brand=acme", 400, "missing_postal_code"),
        ("brand=acme&postal_code=ab", 400, "invalid_postal_code"),
        ("brand=nobody&postal_code=530-0001", 404, "unknown_brand"),
        ("brand=acme&postal_code=530-0001&fc=OSAKA", 404, "unknown_fc"),
    ],
)
def test_checkout_api_rejects_bad_input(client, acme, query, status, code):
    response = client.get(f"/api/v1/edd?{query}")
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_anonymous_checkout_estimates_store_no_prediction(client, acme, session):
    for _ in range(3):
        assert client.get("/api/v1/edd?brand=acme&postal_code=530-0001").status_code == 200
    assert session.exec(select(DeliveryPrediction)).all() == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("brand=acme&postal_code=530-0001&carrier=pigeon", "carrier"),
        ("brand=acme&postal_code=" + "1" * 40, "postal_code"),
        ("brand=acme&postal_code=%E4%B8%80%E4%BA%8C%E4%B8%89", "postal_code"),
        ("brand=ACME%00&postal_code=530-0001", "brand"),
        ("brand=acme&postal_code=530-0001&region=" + "x" * 65, "region"),
    ],
)
def test_checkout_api_bounds_its_inputs(client, acme, query, field):
    response = client.get(f"/api/v1/edd?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["details"][0]["loc"] == f"query.{field}"


def test_checkout_api_is_rate_limited_per_address(app, client, acme, clock):
    app.config["EDD_REQUESTS_PER_MINUTE"] = 3
    clock.now = clock.now.replace(second=10)
    answers = [
        client.get("/api/v1/edd?brand=acme&postal_code=530-0001").status_code for _ in range(4)
    ]
    assert answers == [200, 200, 200, 429]
    refused = client.get("/api/v1/edd?brand=acme&postal_code=530-0001")
    assert refused.headers["Retry-After"] == "50"
    other = client.get(
        "/api/v1/edd?brand=acme&postal_code=530-0001", environ_base={"REMOTE_ADDR": "10.0.0.9"}
    )
    assert other.status_code == 200
    clock.advance(minutes=1)
    assert client.get("/api/v1/edd?brand=acme&postal_code=530-0001").status_code == 200


def test_rate_counters_of_past_windows_are_dropped(app, client, acme, clock, session):
    client.get("/api/v1/edd?brand=acme&postal_code=530-0001")
    clock.advance(minutes=5)
    client.get(
        "/api/v1/edd?brand=acme&postal_code=530-0001", environ_base={"REMOTE_ADDR": "10.0.0.9"}
    )
    assert len(session.exec(select(RateLimitWindow)).all()) == 1


# Shipment basis API ----------------------------------------------------------------------------


def test_shipment_edd_shows_route_sample_size_and_skipped_days(client, session, acme, parcel):
    friday = datetime(2026, 11, 20, 1, tzinfo=UTC)
    shipment_id = parcel(shipped_at=friday)
    _handover(session, shipment_id, now=friday)
    session.commit()
    response = client.get(
        f"/api/v1/shipments/{shipment_id}/edd", headers={"Authorization": f"Bearer {acme.api_key}"}
    )
    assert response.status_code == 200
    basis = response.get_json()["basis"]
    assert basis["route"]["origin"] == "TOKYO" and basis["sample_size"] == 400
    skipped = {item["date"]: item["reason"] for item in basis["calendar_days_skipped"]}
    assert skipped == {
        "2026-11-21": "weekend",
        "2026-11-22": "weekend",
        "2026-11-23": "Labor Thanksgiving Day",
    }
    assert response.get_json()["predicted_date"] == "2026-11-25"


@pytest.mark.parametrize(
    ("language", "opening"), [("en", "Usually 2 business days from TOKYO"), ("ja", "TOKYO")]
)
def test_the_explanation_is_written_when_read_in_the_readers_language(
    client, session, acme, parcel, language, opening
):
    """A prediction stores the facts it rests on; the sentence is written for whoever reads them."""
    from postpurchase.models import DeliveryPrediction

    friday = datetime(2026, 11, 20, 1, tzinfo=UTC)
    shipment_id = parcel(shipped_at=friday)
    _handover(session, shipment_id, now=friday)
    session.commit()
    stored = session.exec(
        select(DeliveryPrediction).where(DeliveryPrediction.shipment_id == shipment_id)
    ).one()
    assert "text" not in stored.basis and stored.basis["sample_size"] == 400
    answer = client.get(
        f"/api/v1/shipments/{shipment_id}/edd?lang={language}",
        headers={"Authorization": f"Bearer {acme.api_key}"},
    ).get_json()
    assert opening in answer["basis"]["text"] and "400" in answer["basis"]["text"]
    assert answer["predictions"][0]["basis"]["text"] == answer["basis"]["text"]
    if language == "ja":
        assert "営業日" in answer["basis"]["text"]


def test_shipment_edd_names_ids_like_every_other_shipment_answer(client, session, acme, parcel):
    shipment_id = parcel()
    session.commit()
    answer = client.get(
        f"/api/v1/shipments/{shipment_id}/edd", headers={"Authorization": f"Bearer {acme.api_key}"}
    ).get_json()
    public = client.get(
        f"/api/v1/shipments/{shipment_id}", headers={"Authorization": f"Bearer {acme.api_key}"}
    ).get_json()
    assert (answer["id"], answer["shipment_id"]) == (public["id"], public["shipment_id"])
    assert isinstance(answer["shipment_id"], str)


def test_shipment_edd_needs_the_brands_key(client, session, acme, parcel, make_brand):
    shipment_id = parcel()
    other = make_brand("other")
    assert client.get(f"/api/v1/shipments/{shipment_id}/edd").status_code == 401
    response = client.get(
        f"/api/v1/shipments/{shipment_id}/edd", headers={"Authorization": f"Bearer {other.api_key}"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("locale", "sentence"),
    [
        ("en", "For this order's product category and shipping cost, about 1.9× as long as usual."),
        ("ja", "この注文の商品カテゴリ、送料から、通常の約1.9倍の日数を見込んでいます。"),
    ],
)
def test_explanation_names_the_order_features_that_stretch_the_estimate(app, locale, sentence):
    basis = {
        "sample_size": 120,
        "typical_business_days": 2,
        "recent_sample_size": 40,
        "recent_days": 60,
        "factors": {"category": 1.5, "cost": 1.25, "weekday": 1.02},
    }
    with app.test_request_context(headers={"Accept-Language": locale}):
        text = service.describe(basis, origin="TOKYO", destination="Osaka")
    assert text.endswith(sentence)


def test_the_stored_model_version_is_read_once_per_unit_of_work(app, session, acme):
    brand = get_brand(session=session, slug="acme")
    models = service.models_of(app)
    with recorded(
        session.get_bind(), starting="SELECT", containing="FROM transitmodelstate"
    ) as reads:
        first = service.load_model(session=session, brand=brand, mode=AsOf.shipped, models=models)
        again = service.load_model(session=session, brand=brand, mode=AsOf.shipped, models=models)
    assert again[1] == first[1] is not None
    assert len([read for read in reads if "payload" not in read.sql]) == 1  # payload: per version


def test_storing_a_model_replaces_the_version_read_earlier_in_the_session(app, session, acme):
    brand = get_brand(session=session, slug="acme")
    models = service.models_of(app)
    before = service.load_model(session=session, brand=brand, mode=AsOf.shipped, models=models)
    service.fit_brand(session=session, brand=brand, now=HANDOVER)
    after = service.load_model(session=session, brand=brand, mode=AsOf.shipped, models=models)
    assert (before[1], after[1]) == (HANDOVER - timedelta(days=1), HANDOVER)


@pytest.mark.parametrize(
    ("locale", "days", "opening"),
    [
        ("en", 1, "Usually 1 business day from TOKYO to Osaka"),
        ("en", 3, "Usually 3 business days from TOKYO to Osaka"),
        ("ja", 1, "TOKYOからOsakaまでは通常1営業日です"),
    ],
)
def test_the_explanation_counts_business_days_in_the_readers_grammar(app, locale, days, opening):
    basis = {
        "sample_size": 9,
        "typical_business_days": days,
        "recent_sample_size": 2,
        "recent_days": 60,
    }
    with app.test_request_context(headers={"Accept-Language": locale}):
        text = service.describe(basis, origin="TOKYO", destination="Osaka")
        fallback = service.describe({**basis, "sample_size": 0}, origin="", destination="")
    assert text.startswith(opening)
    assert ("1 business day." in fallback) == (locale == "en" and days == 1)
