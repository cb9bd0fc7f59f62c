"""Parcels still on their way: a slow month is noticed before its slow parcels are delivered."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta

import numpy as np
from sqlmodel import select

from carriers.status import Status
from postpurchase.brands import get_brand
from postpurchase.edd import service
from postpurchase.edd.backtest import AsOf, Setting, fit, walk_forward
from postpurchase.edd.calendar import CarrierCalendar
from postpurchase.edd.model import Route, km_quantile
from postpurchase.models import (
    FulfillmentCentre,
    Order,
    Shipment,
    TransitModelState,
)
from tests.edd.conftest import delivered_row

JP = CarrierCalendar(country="JP")
SETTING = Setting(calendar=JP, timezone="Asia/Tokyo")
NOW = datetime(2026, 11, 1, tzinfo=UTC)
OSAKA = Route("yamato", "standard", "TOKYO", "Osaka", "530")
USUAL_DAYS = (1, 2, 2, 2, 2, 3, 3, 4, 5)


def test_kaplan_meier_quantile_without_waiting_parcels_is_the_plain_quantile():
    scores = np.arange(1, 101) / 100
    assert km_quantile(scores, np.zeros(0), 0.9) == 0.9


def test_parcels_waiting_beyond_a_score_raise_the_quantile():
    scores = np.arange(1, 101) / 100
    waiting = np.full(30, 0.5)  # thirty parcels known to score above 0.5, not arrived yet
    assert km_quantile(scores, waiting, 0.9) > 0.9


def test_quantile_that_the_waiting_parcels_hide_is_unknown():
    assert km_quantile(np.array([0.1, 0.2]), np.full(10, 0.3), 0.5) is None


def _usual(n: int, *, until: datetime) -> list:
    """``n`` parcels ordered every 6 hours up to ``until``, usually 2 business days, sometimes 1 to 5."""
    rng = random.Random(3)
    start = until - timedelta(hours=6 * n)
    return [
        delivered_row(
            f"u{i}", ordered=start + timedelta(hours=6 * i), business_days=rng.choice(USUAL_DAYS)
        )
        for i in range(n)
    ]


def _usual_then_slow():
    """Usual parcels until ten days ago, then 50 orders that are still on their way."""
    usual = _usual(300, until=NOW - timedelta(days=10))
    slow = [
        dataclasses.replace(
            delivered_row(
                f"s{i}", ordered=NOW - timedelta(days=10) + timedelta(hours=4 * i), business_days=12
            ),
            delivered_at=None,
        )
        for i in range(50)
    ]
    return usual, slow


def test_parcels_in_flight_longer_than_usual_push_the_promise_out():
    usual, slow = _usual_then_slow()
    blind = fit(usual, setting=SETTING, now=NOW).estimate(
        OSAKA, date(2026, 11, 2), JP, promise_level=0.9
    )
    seeing = fit(usual, setting=SETTING, now=NOW, waiting=slow).estimate(
        OSAKA, date(2026, 11, 2), JP, promise_level=0.9
    )
    assert seeing.promise_date > blind.promise_date


def test_strict_walk_forward_never_reads_rows_that_are_not_delivered_yet():
    usual, slow = _usual_then_slow()
    test = [delivered_row("t1", ordered=NOW + timedelta(hours=1), business_days=2)]
    slow_delivered_later = [
        dataclasses.replace(r, delivered_at=NOW + timedelta(days=20)) for r in slow
    ]

    def promise(rows, **flag):
        return walk_forward(
            rows, test, mode=AsOf.ordered, setting=SETTING, promise_level=0.9, **flag
        )[0].estimate.promise_date

    assert promise(usual) == promise(usual + slow_delivered_later)
    assert promise(usual + slow_delivered_later, use_in_flight=True) > promise(usual)


def test_refit_reads_the_brands_parcels_still_in_transit(app, make_brand):
    created = make_brand("slowco")
    handover_now = datetime(2026, 11, 18, 1, tzinfo=UTC)
    with app.app_context():
        from postpurchase.db import get_db

        session = get_db(app).session()
        fc = FulfillmentCentre(
            brand_id=created.brand_id, code="TOKYO", region="Tokyo", postal_code="135-0061"
        )
        session.add(fc)
        session.flush()
        for i in range(60):  # handed over 3-5 business days ago and still moving: usually 2
            order = Order(
                brand_id=created.brand_id,
                external_id=f"o{i}",
                number=f"#{i}",
                placed_at=handover_now - timedelta(days=5, hours=i),
            )
            session.add(order)
            session.flush()
            session.add(
                Shipment(
                    brand_id=created.brand_id,
                    order_id=order.id,
                    external_id=f"s{i}",
                    fc_id=fc.id,
                    carrier_code="yamato",
                    service="standard",
                    status=Status.in_transit,
                    shipped_at=handover_now - timedelta(days=4, hours=i),
                    destination_postal_code="530-0001",
                    destination_region="Osaka",
                    destination_country="JP",
                )
            )
        session.flush()
        brand = get_brand(session=session, slug="slowco")
        usual = _usual(320, until=handover_now - timedelta(days=12))
        service.fit_brand(session=session, brand=brand, now=handover_now, extra=usual)
        stored = session.exec(
            select(TransitModelState).where(TransitModelState.as_of == "shipped")
        ).one()
        assert stored.payload["scale"] > 1.0
        assert stored.payload["calibration"]["waiting"]
        session.rollback()
        session.close()
