"""An experiment may target a rule segment, a persona or a micro-segment; others are not in it."""

from __future__ import annotations

import pytest
from sqlmodel import select

from postpurchase.experiments import operations
from postpurchase.messaging import current_settings
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.triggers import enqueue
from postpurchase.models import CustomerProfile, OutboxState
from postpurchase.models.experiments import ExperimentExposure
from postpurchase.profiles import refresh_profiles
from tests.messaging.conftest import NOW
from tests.messaging.helpers import only

MARKETING = {"email": {"marketing": True}}
HOLD_ALL = [{"key": "control", "weight": 0.01}, {"key": "quiet", "weight": 100, "holdout": True}]


def _enqueue_in(session, shop, audience: dict) -> None:
    experiment = operations.create(
        session=session,
        brand_id=shop.brand.id,
        actor="test",
        name="Targeted",
        trigger=Trigger.review_request,
        variants=HOLD_ALL,
        audience=audience,
    )
    operations.start(session=session, experiment=experiment, actor="test", now=NOW)
    enqueue(
        session=session,
        messaging=current_settings(),
        brand=shop.brand,
        trigger=Trigger.review_request,
        order=shop.order,
        shipment=shop.shipment,
        now=NOW,
    )


def _persona(session, shop, key: str) -> None:
    refresh_profiles(
        session=session, brand_id=shop.brand.id, customer_ids=[shop.customer.id], now=NOW
    )
    profile = session.exec(select(CustomerProfile)).one()
    profile.persona = key
    session.add(profile)
    session.flush()


def test_a_customer_of_the_targeted_persona_enters_the_experiment(make_shop, session) -> None:
    shop = make_shop(consent=MARKETING)
    _persona(session, shop, "p2")
    _enqueue_in(session, shop, {"persona": "p2"})
    assert only(session, Trigger.review_request).reason == {
        "why": "experiment_holdout",
        "args": {"variant": "quiet"},
    }


def test_a_customer_outside_the_micro_segment_gets_the_usual_message(make_shop, session) -> None:
    shop = make_shop(consent=MARKETING)
    _persona(session, shop, "p1")
    _enqueue_in(session, shop, {"micro_segment": "p2/*/*"})
    assert only(session, Trigger.review_request).state == OutboxState.pending
    assert session.exec(select(ExperimentExposure)).all() == []


def test_an_experiment_can_target_a_rule_segment_by_name(make_shop, session) -> None:
    shop = make_shop(consent=MARKETING)
    shop.configure(rules=[{"name": "newcomers", "when": {"first_order": True}}])
    _enqueue_in(session, shop, {"rule": "newcomers"})
    assert only(session, Trigger.review_request).reason == {
        "why": "experiment_holdout",
        "args": {"variant": "quiet"},
    }


def test_an_unknown_audience_condition_names_the_field(session, brand) -> None:
    with pytest.raises(operations.ExperimentError) as error:
        operations.create(
            session=session,
            brand_id=brand.brand_id,
            actor="test",
            name="Typo",
            trigger=Trigger.review_request,
            variants=HOLD_ALL,
            audience={"personna": "p1"},
        )
    assert error.value.field == "audience.personna"


def test_the_console_form_targets_a_micro_segment(app, client, brand) -> None:
    from tests.messaging.test_experiments import _sign_in

    csrf = _sign_in(app, client, brand.brand_id)
    created = client.post(
        "/merchant/experiments/",
        data={
            "csrf_token": csrf,
            "name": "Late parcels",
            "trigger": "review_request",
            "key": "B",
            "share": "50",
            "segment": "p1/delayed/*",
            "repeat_days": "30",
        },
    )
    assert created.status_code == 302
    assert "p1/delayed/*" in client.get(created.headers["Location"]).text


def test_an_experiment_on_a_persona_says_who_they_are_in_the_brands_words(
    app, client, brand
) -> None:
    from postpurchase.db import get_db
    from postpurchase.models import Brand
    from postpurchase.personas.operations import fit_personas
    from postpurchase.profiles import refresh_brand_profiles
    from tests.conftest import PINNED_NOW
    from tests.messaging.test_experiments import _sign_in
    from tests.personas.population import seed_population

    with app.app_context():
        s = get_db(app).session()
        row = s.get(Brand, brand.brand_id)
        row.settings = {**(row.settings or {}), "category_names": {"tea": {"ja": "お茶"}}}
        s.add(row)
        seed_population(s, brand.brand_id)
        refresh_brand_profiles(session=s, brand_id=brand.brand_id, now=PINNED_NOW)
        fit_personas(session=s, brand_id=brand.brand_id, actor="test", now=PINNED_NOW)
        s.commit()
        s.close()
    csrf = _sign_in(app, client, brand.brand_id)
    created = client.post(
        "/merchant/experiments/",
        data={
            "csrf_token": csrf,
            "name": "Tea lovers",
            "trigger": "review_request",
            "key": "B",
            "share": "50",
            "segment": "p1/delayed/*",
            "repeat_days": "30",
        },
    )
    page = client.get(created.headers["Location"] + "?lang=ja").text
    # p1 is the population's largest kind: the tea drinkers.
    assert "対象: p1/delayed/*（お茶をくり返し購入、返品なし、LINEを好む）" in page
