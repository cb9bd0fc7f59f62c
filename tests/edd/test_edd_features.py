"""Order features (shipping cost, category) stretch or shorten transit within a route."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import numpy as np

from postpurchase.edd.backtest import AsOf, Setting, fit, redact
from postpurchase.edd.calendar import CarrierCalendar
from postpurchase.edd.features import FeatureEffects, OrderFeatures, fit_effects
from postpurchase.edd.model import ModelParams, Route, TransitModel
from tests.edd.conftest import delivered_row

JP = CarrierCalendar(country="JP")
SETTING = Setting(calendar=JP, timezone="Asia/Tokyo")
NOW = datetime(2026, 11, 1, tzinfo=UTC)
OSAKA = Route("yamato", "standard", "TOKYO", "Osaka", "530")
MONDAY = date(2026, 11, 2)


def _days(model: TransitModel, **features) -> int:
    return model.estimate(
        OSAKA, MONDAY, JP, features=OrderFeatures(**features)
    ).predicted_business_days


def test_a_slow_category_is_predicted_later_on_the_same_route(history):
    rows = history(450, days=2, category="cosmetics") + history(
        150, days=6, category="furniture", prefix="f", start=datetime(2026, 6, 1, 4, tzinfo=UTC)
    )
    model = fit(rows, setting=SETTING, now=NOW)
    assert _days(model, category="cosmetics") == 2
    assert 5 <= _days(model, category="furniture") <= 6  # shrinkage holds it back a little
    basis = model.estimate(OSAKA, MONDAY, JP, features=OrderFeatures(category="furniture")).basis
    assert basis.factors["category"] > 1.5


def test_an_unknown_category_gets_the_route_as_a_whole(history):
    rows = history(300, days=2, category="cosmetics") + history(
        300, days=2, category="books", prefix="b"
    )
    model = fit(rows, setting=SETTING, now=NOW)
    estimate = model.estimate(OSAKA, MONDAY, JP, features=OrderFeatures(category="garden"))
    assert estimate.predicted_business_days == 2 and estimate.basis.factors == {}


def test_a_rare_category_is_shrunk_towards_no_effect(history):
    rows = history(400, days=2, category="cosmetics") + history(
        8, days=10, category="piano", prefix="r"
    )
    model = fit(rows, setting=SETTING, now=NOW)
    slow = model.effects.factors(OrderFeatures(category="piano"))["category"]
    assert 1.0 < slow < 2.0  # eight parcels at 10 days do not make every piano take 10 days
    assert _days(model, category="piano") < 10


def test_dearer_shipping_is_slower_when_the_history_says_so(history):
    rows = history(300, days=2, cost=500.0) + history(
        120, days=5, cost=900.0, prefix="c", start=datetime(2026, 6, 1, 4, tzinfo=UTC)
    )
    model = fit(rows, setting=SETTING, now=NOW)
    assert model.effects.scale(OrderFeatures(cost=900.0)) > 1.5 * model.effects.scale(
        OrderFeatures(cost=500.0)
    )
    assert _days(model, cost=500.0) == 2
    assert 4 <= _days(model, cost=900.0) <= 5


def test_history_without_features_learns_no_effects(history):
    rows = history(300, days=lambda rng: rng.choice([1, 2, 2, 3, 5]))
    model = fit(rows, setting=SETTING, now=NOW)
    plain = fit(
        rows, setting=dataclasses.replace(SETTING, params=ModelParams(effect_strength=0)), now=NOW
    )
    assert model.effects == FeatureEffects()
    assert model.estimate(OSAKA, MONDAY, JP) == plain.estimate(OSAKA, MONDAY, JP)


def test_fit_effects_ignores_a_feature_known_for_too_few_parcels():
    features = [OrderFeatures(category="a" if i < 50 else "") for i in range(400)]
    residuals = np.array([0.8 if i < 50 else 0.0 for i in range(400)])
    assert fit_effects(features, residuals, strength=30, minimum=100).effects == {}
    assert "category" in fit_effects(features, residuals, strength=30, minimum=40).effects


def test_serialised_model_keeps_its_feature_effects(history):
    rows = history(300, days=2, category="cosmetics") + history(
        300, days=5, category="sofa", prefix="s"
    )
    model = fit(rows, setting=SETTING, now=NOW)
    again = TransitModel.from_dict(model.to_dict())
    for category in ("cosmetics", "sofa", ""):
        features = OrderFeatures(category=category)
        assert again.estimate(OSAKA, MONDAY, JP, features=features) == model.estimate(
            OSAKA, MONDAY, JP, features=features
        )


def test_query_as_of_order_carries_the_orders_features(history):
    row = dataclasses.replace(history(1, category="sofa")[0], cost=1200.0)
    query = redact(row, AsOf.ordered)
    assert query.features == OrderFeatures(cost=1200.0, category="sofa")
    assert query.shipped_at is None


def test_a_slow_weekday_is_learned_from_the_day_parcels_start_moving():
    rows = []
    for i in range(500):
        ordered = datetime(2026, 6, 1, 1, tzinfo=UTC) + timedelta(hours=6 * i)
        friday = (ordered + timedelta(hours=9)).weekday() == 4
        rows.append(delivered_row(f"w{i}", ordered=ordered, business_days=5 if friday else 2))
    model = fit(rows, setting=SETTING, now=NOW)
    friday, monday = date(2026, 11, 6), date(2026, 11, 2)
    assert model.estimate(OSAKA, friday, JP).predicted_business_days >= 4
    assert model.estimate(OSAKA, monday, JP).predicted_business_days == 2
    assert model.estimate(OSAKA, friday, JP).basis.factors["weekday"] > 1.5


def test_order_features_to_dict_is_asdict_with_every_field():
    from dataclasses import asdict

    from postpurchase.edd.features import OrderFeatures

    features = OrderFeatures(cost=1200.0, weight_g=850.0, category="shoes", weekday="4")
    assert features.to_dict() == asdict(features)


def test_estimates_do_not_depend_on_what_the_model_estimated_before(history):
    """Parcels of a route share their quantiles while their features give the same factor and
    the same elapsed days; each estimate must equal one from a model that saw no other parcel."""
    rows = history(300, days=2, cost=500.0, category="cosmetics") + history(
        120,
        days=5,
        cost=900.0,
        category="furniture",
        prefix="c",
        start=datetime(2026, 6, 1, 4, tzinfo=UTC),
    )
    payload = fit(rows, setting=SETTING, now=NOW).to_dict()
    asked = [
        (OrderFeatures(cost=500.0, category="cosmetics"), 0, 0.9, (0.1, 0.9)),
        (OrderFeatures(cost=900.0, category="furniture"), 0, 0.9, (0.1, 0.9)),
        (OrderFeatures(cost=900.0, category="cosmetics"), 0, 0.9, (0.1, 0.9)),
        (OrderFeatures(cost=500.0, category="cosmetics"), 3, 0.9, (0.1, 0.9)),
        (OrderFeatures(cost=500.0, category="cosmetics"), 0, 0.99, (0.3, 0.7)),
        (OrderFeatures(category="furniture"), 1, 0.9, (0.1, 0.9)),
    ]
    shared = TransitModel.from_dict(payload)
    for anchor in (MONDAY, MONDAY + timedelta(days=4)):
        for features, elapsed, level, window in asked + asked[::-1]:
            asking = {
                "features": features,
                "elapsed": elapsed,
                "promise_level": level,
                "window": window,
            }
            fresh = TransitModel.from_dict(payload).estimate(OSAKA, anchor, JP, **asking)
            assert shared.estimate(OSAKA, anchor, JP, **asking) == fresh
    assert (
        len({shared.estimate(OSAKA, MONDAY, JP, features=f).predicted_date for f, *_ in asked}) > 1
    )
