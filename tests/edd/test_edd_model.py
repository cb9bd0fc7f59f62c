"""The transit model: shrinkage on thin routes, calibrated promises, the walk-forward rule."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from postpurchase.edd.backtest import AsOf, Setting, fit, redact, walk_forward
from postpurchase.edd.calendar import CarrierCalendar
from postpurchase.edd.model import Route, TransitModel
from tests.edd.conftest import local_date

JP = CarrierCalendar(country="JP")
SETTING = Setting(calendar=JP, timezone="Asia/Tokyo")
NOW = datetime(2026, 11, 1, tzinfo=UTC)
OSAKA_530 = Route("yamato", "standard", "TOKYO", "Osaka", "530")
OSAKA_531 = Route("yamato", "standard", "TOKYO", "Osaka", "531")


def _median_days(model: TransitModel, route: Route) -> int:
    return model.estimate(route, date(2026, 11, 2), JP).predicted_business_days


def test_thin_postal_prefix_is_shrunk_towards_its_region(history):
    rows = history(300, days=2) + history(3, days=8, prefix="thin", postal_code="531-0001")
    model = fit(rows, setting=SETTING, now=NOW)
    assert _median_days(model, OSAKA_530) == 2
    assert _median_days(model, OSAKA_531) == 2
    pmf, basis = model.distribution(OSAKA_531)
    assert basis.level == "postal_prefix" and basis.sample_size == 3
    assert pmf[8] > 0.02  # the thin route's own parcels still widen its distribution


def test_well_observed_postal_prefix_speaks_for_itself(history):
    rows = history(300, days=2) + history(300, days=8, prefix="thick", postal_code="531-0001")
    model = fit(rows, setting=SETTING, now=NOW)
    assert _median_days(model, OSAKA_531) == 8
    assert _median_days(model, OSAKA_530) == 2


def test_unknown_route_falls_back_to_the_deepest_known_level(history):
    model = fit(history(200, days=3), setting=SETTING, now=NOW)
    _, basis = model.distribution(Route("yamato", "standard", "TOKYO", "Hokkaido", "060"))
    assert basis.level == "origin" and basis.sample_size == 200
    _, basis = model.distribution(Route("sagawa", "standard"))
    assert basis.level == "all"


def test_missing_region_is_inferred_from_the_postal_prefix(history):
    model = fit(
        history(100, days=3, region="Osaka", postal_code="530-0001"), setting=SETTING, now=NOW
    )
    _, basis = model.distribution(Route("yamato", "standard", "TOKYO", "", "530"))
    assert basis.level == "postal_prefix" and basis.key[-2] == "Osaka"


def test_model_without_history_uses_the_default_business_days():
    model = fit([], setting=SETTING, now=NOW)
    estimate = model.estimate(OSAKA_530, date(2026, 11, 2), JP)
    assert estimate.predicted_business_days == 2
    assert estimate.basis.sample_size == 0


def test_serialised_model_predicts_the_same_dates(history):
    model = fit(
        history(200, days=lambda rng: rng.choice([1, 2, 2, 3, 5])), setting=SETTING, now=NOW
    )
    again = TransitModel.from_dict(model.to_dict())
    for route in (OSAKA_530, OSAKA_531, Route("x", "y")):
        assert again.estimate(route, date(2026, 11, 2), JP) == model.estimate(
            route, date(2026, 11, 2), JP
        )


def test_elapsed_business_days_move_the_estimate_later(history):
    model = fit(
        history(200, days=lambda rng: rng.choice([1, 2, 2, 3, 6])), setting=SETTING, now=NOW
    )
    fresh = model.estimate(OSAKA_530, date(2026, 11, 2), JP)
    late = model.estimate(OSAKA_530, date(2026, 11, 2), JP, elapsed=4)
    assert fresh.predicted_date < late.predicted_date
    assert late.window_start >= JP.add_business_days(date(2026, 11, 2), 4)


def test_window_and_promise_are_ordered(history):
    model = fit(
        history(200, days=lambda rng: rng.choice([1, 2, 2, 3, 6])), setting=SETTING, now=NOW
    )
    e = model.estimate(OSAKA_530, date(2026, 11, 2), JP, promise_level=0.95)
    assert e.window_start <= e.predicted_date <= e.window_end
    assert e.predicted_date <= e.promise_date


def test_promise_level_holds_on_unseen_parcels(history):
    def transit(rng):
        return rng.choice([1, 1, 2, 2, 2, 3, 3, 4, 5, 7])

    rows = history(1600, days=transit, seed=11)
    train, test = rows[:800], rows[800:]
    predictions = walk_forward(train, test, mode=AsOf.ordered, setting=SETTING, promise_level=0.8)
    actual = {r.shipment_id: local_date(r.delivered_at) for r in test}
    on_time = sum(
        actual[p.query.shipment_id] <= p.estimate.promise_date for p in predictions
    ) / len(predictions)
    assert on_time == pytest.approx(0.8, abs=0.05)


def test_query_as_of_order_carries_neither_handover_nor_delivery(history):
    row = history(1)[0]
    query = redact(row, AsOf.ordered)
    assert query is not None and query.shipped_at is None and query.as_of == row.ordered_at
    assert not hasattr(query, "delivered_at")
    shipped = redact(row, AsOf.shipped)
    assert shipped is not None and shipped.as_of == row.shipped_at


@pytest.mark.parametrize("mode", list(AsOf))
def test_walk_forward_never_reads_a_delivery_after_the_as_of_time(history, mode):
    """Poison every delivery after a moment; predictions made before it must not move."""
    train = history(400, days=lambda rng: rng.choice([1, 2, 3]), seed=3)
    test = history(
        400,
        days=lambda rng: rng.choice([1, 2, 3]),
        seed=5,
        prefix="t",
        start=train[-1].ordered_at + timedelta(hours=6),
    )
    moment = test[200].ordered_at
    poisoned = [
        dataclasses.replace(
            r,
            delivered_at=r.delivered_at + timedelta(days=40),
            shipped_at=r.shipped_at + timedelta(days=30)
            if r.ordered_at >= moment
            else r.shipped_at,
        )
        if r.delivered_at >= moment
        else r
        for r in test
    ]
    clean = walk_forward(train, test, mode=mode, setting=SETTING, promise_level=0.9)
    dirty = walk_forward(train, poisoned, mode=mode, setting=SETTING, promise_level=0.9)
    before = {p.query.shipment_id: p.estimate for p in clean if p.query.as_of < moment}
    assert len(before) >= 150
    assert all(
        before[p.query.shipment_id] == p.estimate for p in dirty if p.query.shipment_id in before
    )
    # The poison is strong enough to be seen once it is in the past.
    later = {p.query.shipment_id: p.estimate for p in clean}
    assert any(later[p.query.shipment_id] != p.estimate for p in dirty)


def test_as_of_order_ignores_the_rows_own_handover_and_delivery(history):
    train = history(300, days=2, seed=3)
    test = history(20, days=2, prefix="t", start=train[-1].ordered_at + timedelta(hours=6))
    changed = [
        dataclasses.replace(
            r,
            shipped_at=r.shipped_at + timedelta(days=9),
            delivered_at=r.delivered_at + timedelta(days=30),
        )
        for r in test[:1]
    ] + test[1:]
    first = walk_forward(train, test, mode=AsOf.ordered, setting=SETTING, promise_level=0.9)[0]
    again = walk_forward(train, changed, mode=AsOf.ordered, setting=SETTING, promise_level=0.9)[0]
    assert first.estimate == again.estimate
