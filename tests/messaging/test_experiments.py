"""Experiments on a trigger: validation, sticky variants in the outbox, results, API and page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import select

from postpurchase import signals
from postpurchase.db import get_db
from postpurchase.experiments import operations
from postpurchase.experiments.results import results
from postpurchase.messaging import current_settings
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.triggers import enqueue
from postpurchase.models import MessageEvent, Order, OutboxState
from postpurchase.models.experiments import Experiment, ExperimentExposure
from postpurchase.web.merchant import add_merchant_user
from tests.messaging.conftest import NOW
from tests.messaging.helpers import only, rendered

MARKETING = {"email": {"marketing": True}}


def _running(session, brand_id: int, trigger: Trigger, variants: list[dict]) -> Experiment:
    experiment = operations.create(
        session=session,
        brand_id=brand_id,
        actor="test",
        name="Test",
        trigger=trigger,
        variants=variants,
    )
    operations.start(session=session, experiment=experiment, actor="test", now=NOW)
    return experiment


def test_a_transactional_trigger_cannot_be_held_out(session, brand) -> None:
    with pytest.raises(operations.ExperimentError) as error:
        operations.create(
            session=session,
            brand_id=brand.brand_id,
            actor="test",
            name="No shipping news",
            trigger=Trigger.shipped,
            variants=[{"key": "control"}, {"key": "none", "holdout": True}],
        )
    assert error.value.field == "variants[1].holdout"


def test_a_held_out_customer_gets_a_suppressed_row_naming_the_holdout(make_shop, session) -> None:
    shop = make_shop(consent=MARKETING)
    _running(
        session,
        shop.brand.id,
        Trigger.review_request,
        [{"key": "control", "weight": 0.01}, {"key": "quiet", "weight": 100, "holdout": True}],
    )
    enqueue(
        session=session,
        messaging=current_settings(),
        brand=shop.brand,
        trigger=Trigger.review_request,
        order=shop.order,
        shipment=shop.shipment,
        now=NOW,
    )
    message = only(session, Trigger.review_request)
    assert message.state == OutboxState.suppressed
    assert message.reason == {"why": "experiment_holdout", "args": {"variant": "quiet"}}
    exposure = session.exec(select(ExperimentExposure)).one()
    assert (exposure.customer_id, exposure.variant) == (shop.customer.id, "quiet")


def test_a_variant_subject_replaces_the_templates_subject(make_shop, session) -> None:
    shop = make_shop()
    _running(
        session,
        shop.brand.id,
        Trigger.order_confirmed,
        [
            {"key": "control", "weight": 0.01},
            {"key": "short", "weight": 100, "subject": "届きます"},
        ],
    )
    signals.order_upserted.send(
        shop.brand.id, session=session, order_id=shop.order.id, created=True, now=NOW
    )
    message = rendered(session, Trigger.order_confirmed)
    assert message.subject == "届きます"
    assert message.payload["experiment"]["key"] == "short"


def test_no_running_experiment_leaves_the_message_alone(make_shop, session) -> None:
    shop = make_shop()
    experiment = _running(
        session,
        shop.brand.id,
        Trigger.order_confirmed,
        [
            {"key": "control", "weight": 0.01},
            {"key": "short", "weight": 100, "subject": "届きます"},
        ],
    )
    operations.stop(session=session, experiment=experiment, actor="test", now=NOW)
    signals.order_upserted.send(
        shop.brand.id, session=session, order_id=shop.order.id, created=True, now=NOW
    )
    assert rendered(session, Trigger.order_confirmed).subject != "届きます"


def test_results_count_clicks_per_exposed_customer(make_shop, session) -> None:
    shops = [make_shop(email=f"c{n}@example.jp") for n in range(4)]
    experiment = _running(
        session, shops[0].brand.id, Trigger.order_confirmed, [{"key": "A"}, {"key": "B"}]
    )
    for shop in shops:
        signals.order_upserted.send(
            shop.brand.id, session=session, order_id=shop.order.id, created=True, now=NOW
        )
    rows = session.exec(select(ExperimentExposure)).all()
    first = only_message_of(session, rows[0].customer_id)
    session.add(MessageEvent(brand_id=first.brand_id, message_id=first.id, kind="click"))
    session.flush()
    found = results(session=session, experiment=experiment, now=NOW)
    click = next(goal for goal in found.goals if goal.goal == "click")
    totals = {v.variant: (v.sample.n, v.sample.total) for v in click.variants}
    assert sum(n for n, _ in totals.values()) == 4
    assert totals[rows[0].variant][1] == 1
    assert sum(found.exposed.values()) == 4


def only_message_of(session, customer_id: int):
    from postpurchase.models import OutboxMessage

    return session.exec(select(OutboxMessage).where(OutboxMessage.customer_id == customer_id)).one()


def test_repeat_purchase_counts_only_customers_whose_window_has_closed(make_shop, session) -> None:
    shop = make_shop()
    experiment = _running(
        session, shop.brand.id, Trigger.order_confirmed, [{"key": "A"}, {"key": "B"}]
    )
    signals.order_upserted.send(
        shop.brand.id, session=session, order_id=shop.order.id, created=True, now=NOW
    )
    session.add(
        Order(
            brand_id=shop.brand.id,
            external_id="again",
            number="#2000",
            customer_id=shop.customer.id,
            placed_at=NOW + timedelta(days=10),
        )
    )
    session.flush()

    def repeat_n(now):
        found = results(session=session, experiment=experiment, now=now)
        goal = next(goal for goal in found.goals if goal.goal == "repeat_purchase")
        return [(v.sample.n, v.sample.total) for v in goal.variants]

    assert sorted(repeat_n(NOW + timedelta(days=29))) == [(0, 0), (0, 0)]
    assert sorted(repeat_n(NOW + timedelta(days=31))) == [(0, 0), (1, 1.0)]


def test_api_creates_starts_and_reports_an_experiment(client, brand) -> None:
    auth = {"Authorization": f"Bearer {brand.api_key}"}
    created = client.post(
        "/api/v1/experiments",
        json={
            "name": "Shorter subject",
            "trigger": "review_request",
            "variants": [{"key": "control"}, {"key": "quiet", "holdout": True}],
        },
        headers=auth,
    )
    assert created.status_code == 201, created.json
    experiment_id = created.json["id"]
    started = client.post(f"/api/v1/experiments/{experiment_id}/start", headers=auth)
    assert started.json["state"] == "running"
    report = client.get(f"/api/v1/experiments/{experiment_id}", headers=auth).json
    assert {goal["goal"] for goal in report["results"]} == {
        "click",
        "repeat_purchase",
        "nps",
        "return_rate",
        "unsubscribe",
    }
    assert (
        client.get("/api/v1/experiments", headers=auth).json["experiments"][0]["id"]
        == experiment_id
    )


def test_api_holdout_of_a_transactional_trigger_is_a_400_naming_the_field(client, brand) -> None:
    answer = client.post(
        "/api/v1/experiments",
        json={
            "name": "x",
            "trigger": "attempt_fail",
            "variants": [{"key": "control"}, {"key": "none", "holdout": True}],
        },
        headers={"Authorization": f"Bearer {brand.api_key}"},
    )
    assert answer.status_code == 400
    assert answer.json["error"]["details"][0]["loc"] == "body.variants[1].holdout"


def test_the_api_says_what_is_wrong_in_english_whatever_the_language_asked(client, brand) -> None:
    answer = client.post(
        "/api/v1/experiments?lang=ja",
        json={"name": "x", "trigger": "nope", "variants": [{"key": "a"}, {"key": "b"}]},
        headers={"Authorization": f"Bearer {brand.api_key}", "Accept-Language": "ja"},
    )
    assert answer.status_code == 400
    assert answer.json["error"]["details"] == [
        {"loc": "body.trigger", "msg": "unknown trigger 'nope'"}
    ]


def test_another_brands_experiment_is_a_404(client, brand, make_brand, session) -> None:
    other = make_brand("other")
    experiment = operations.create(
        session=session,
        brand_id=other.brand_id,
        actor="test",
        name="Theirs",
        trigger=Trigger.shipped,
        variants=[{"key": "A"}, {"key": "B"}],
    )
    session.commit()
    answer = client.get(
        f"/api/v1/experiments/{experiment.id}", headers={"Authorization": f"Bearer {brand.api_key}"}
    )
    assert answer.status_code == 404


def _sign_in(app, client, brand_id: int) -> str:
    with app.app_context():
        s = get_db(app).session()
        add_merchant_user(session=s, brand_id=brand_id, email="ops@acme.example", password="pw")
        s.commit()
        s.close()
    token = re.search(rb'name="csrf_token" value="([^"]+)"', client.get("/merchant/login").data)
    client.post(
        "/merchant/login",
        data={"csrf_token": token.group(1).decode(), "email": "ops@acme.example", "password": "pw"},
    )
    page = client.get("/merchant/experiments/").data
    return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()


def test_console_creates_starts_and_shows_an_experiment(app, client, brand) -> None:
    csrf = _sign_in(app, client, brand.brand_id)
    created = client.post(
        "/merchant/experiments/",
        data={
            "csrf_token": csrf,
            "name": "Later review",
            "trigger": "review_request",
            "key": "late",
            "share": "50",
            "delay_minutes": "120",
            "repeat_days": "30",
        },
    )
    assert created.status_code == 302
    page = created.headers["Location"]
    client.post(page + "/start", data={"csrf_token": csrf})
    shown = client.get(page)
    assert shown.status_code == 200
    assert "Later review" in shown.text and "mSPRT" in shown.text


def test_console_refuses_a_holdout_of_shipped_naming_the_field(app, client, brand) -> None:
    csrf = _sign_in(app, client, brand.brand_id)
    answer = client.post(
        "/merchant/experiments/",
        data={"csrf_token": csrf, "name": "x", "trigger": "shipped", "holdout": "1"},
    )
    assert answer.status_code == 400
    assert "variants[1].holdout" in answer.text


def test_the_console_says_what_is_wrong_in_the_merchants_language_and_escapes_what_was_sent(
    app, client, brand
) -> None:
    csrf = _sign_in(app, client, brand.brand_id)
    form = {"csrf_token": csrf, "name": "x", "trigger": "<b>nope"}
    ja = client.post("/merchant/experiments/?lang=ja", data=form)
    assert ja.status_code == 400
    assert "不明なトリガーです: &#39;&lt;b&gt;nope&#39;" in ja.text and "<b>nope" not in ja.text
    en = client.post("/merchant/experiments/?lang=en", data=form)
    assert "unknown trigger &#39;&lt;b&gt;nope&#39;" in en.text


def test_the_running_experiment_is_looked_up_once_per_unit_of_work_and_a_start_is_seen(
    app, make_shop, session
) -> None:
    """Every message a batch enqueues asks which experiment runs on its trigger; the answer is
    read once per unit of work, and starting or stopping one in the same session is seen."""
    from tests.sql import recorded

    shop = make_shop(consent=MARKETING)
    brand_id = shop.brand.id
    engine = get_db(app).engine
    with recorded(engine, starting="SELECT", containing="FROM experiment") as reads:
        for _ in range(3):
            assert (
                operations.running(
                    session=session, brand_id=brand_id, trigger=Trigger.review_request
                )
                is None
            )
    assert len(reads) == 1
    started = _running(
        session, brand_id, Trigger.review_request, [{"key": "control"}, {"key": "short"}]
    )
    assert (
        operations.running(session=session, brand_id=brand_id, trigger=Trigger.review_request)
        is started
    )
    operations.stop(session=session, experiment=started, actor="test", now=NOW)
    assert (
        operations.running(session=session, brand_id=brand_id, trigger=Trigger.review_request)
        is None
    )
