"""``/metrics``: Prometheus text, from this process and from the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from postpurchase import counters
from postpurchase.db import session_scope
from postpurchase.inbox import accept, receive
from postpurchase.inbox.spool import spool_of
from postpurchase.jobs import _run
from tests.intake.intake_helpers import example

TOKEN = "s3cret-scrape"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "METRICS_TOKEN": TOKEN}


def samples(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.data
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.data.decode())
        for sample in family.samples
    }


def test_accepted_events_are_counted_per_source(client, post_event) -> None:
    post_event(example("order.created"))
    post_event(example("order.created"))  # a duplicate is not accepted again
    assert samples(client)[("postpurchase_intake_accepted_total", (("source", "wms"),))] == 1


def stored_in_the_inbox(app, brand, external_id: str, received_at) -> None:
    with session_scope(app) as session:
        receive(
            session=session,
            brand_id=brand.brand_id,
            source="wms",
            external_id=external_id,
            raw_body=external_id.encode(),
            now=received_at,
        )


def test_inbox_depth_and_lag_are_read_from_the_database(app, client, brand, clock) -> None:
    stored_in_the_inbox(app, brand, "e1", clock.now - timedelta(seconds=90))
    found = samples(client)
    assert found[("postpurchase_inbox_pending", ())] == 1
    assert found[("postpurchase_inbox_lag_seconds", ())] == 90


def test_events_waiting_in_the_spool_count_as_pending(app, client, brand, clock) -> None:
    """SQLite: an accepted event waits in the spool until a unit of work moves it."""
    if spool_of(app) is None:
        pytest.skip("the spool exists only for a SQLite file database")
    stored_in_the_inbox(app, brand, "in-inbox", clock.now - timedelta(seconds=30))
    accept(
        app,
        brand_id=brand.brand_id,
        source="wms",
        external_id="spooled",
        raw_body=b"[]",
        now=clock.now - timedelta(seconds=90),
    )
    found = samples(client)
    assert found[("postpurchase_inbox_pending", ())] == 2
    assert found[("postpurchase_inbox_lag_seconds", ())] == 90


def test_queue_depths_are_zero_when_idle(client) -> None:
    found = samples(client)
    for name in (
        "inbox_pending",
        "outbox_pending",
        "shipments_due",
        "inbox_lag_seconds",
        "profiles_stale",
    ):
        assert found[(f"postpurchase_{name}", ())] == 0


def test_carrier_requests_and_failures_are_counted_per_carrier(app, client) -> None:
    with session_scope(app) as session:
        counters.add(
            session=session, name="carrier_requests", labels={"carrier": "yamato"}, amount=3
        )
        counters.add(session=session, name="carrier_requests", labels={"carrier": "yamato"})
        counters.add(session=session, name="carrier_failures", labels={"carrier": "yamato"})
    found = samples(client)
    assert found[("postpurchase_carrier_requests_total", (("carrier", "yamato"),))] == 4
    assert found[("postpurchase_carrier_failures_total", (("carrier", "yamato"),))] == 1


def test_job_runs_and_durations_are_counted_per_job(app, client) -> None:
    def failing(_app):
        raise RuntimeError("boom")

    _run(app, lambda _app: None, "inbox.sweep")
    _run(app, failing, "inbox.sweep")
    found = samples(client)
    assert found[("postpurchase_job_duration_seconds_count", (("job", "inbox.sweep"),))] == 2
    assert found[("postpurchase_job_duration_seconds_sum", (("job", "inbox.sweep"),))] >= 0
    assert found[("postpurchase_job_failures_total", (("job", "inbox.sweep"),))] == 1


def test_metrics_ask_for_the_token_when_one_is_set(client) -> None:
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response.json["error"]["details"] == {"field": "Authorization"}


def test_metrics_refuse_a_wrong_token(client) -> None:
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_metrics_answer_with_the_token(client) -> None:
    assert ("postpurchase_inbox_pending", ()) in samples(client)
