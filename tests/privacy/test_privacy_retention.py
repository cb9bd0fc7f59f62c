"""Retention: inbox bodies and refused requests are purged on time, without breaking deduplication."""

from __future__ import annotations

import pytest
from privacy_helpers import UNTIL_RETURN
from sqlmodel import select

from postpurchase.inbox import move_spooled, process_pending
from postpurchase.inbox.signing import shopify_hmac
from postpurchase.intake.examples import EXAMPLES
from postpurchase.jobs import JOBS
from postpurchase.models import InboxEvent, InboxState, WebhookRejection
from postpurchase.privacy.cli import data
from postpurchase.privacy.retention import purge
from tests.conftest import conformance

ORDER_CREATED = EXAMPLES[UNTIL_RETURN[0]]


def events(db) -> list[InboxEvent]:
    db.rollback()  # a fresh snapshot: the purge committed in sessions of its own
    return list(db.exec(select(InboxEvent).order_by(InboxEvent.id)))


KEPT = ("source", "external_id", "body_sha256", "state", "received_at", "processed_at")


@pytest.fixture
def processed_then_old(app, post_event, clock, db) -> dict[str, object]:
    """One processed event, then the clock moved past RAW_RETENTION_DAYS (30); the event's kept fields."""
    assert post_event(ORDER_CREATED).status_code == 202
    process_pending(app)
    clock.advance(days=31)
    event = events(db)[0]
    return {name: getattr(event, name) for name in KEPT}


def test_a_processed_body_older_than_the_retention_is_emptied_and_its_row_kept(
    app, processed_then_old, db
) -> None:
    assert purge(app).inbox_bodies == 1
    after = events(db)[0]
    assert after.raw_body == b""
    assert {name: getattr(after, name) for name in KEPT} == processed_then_old


def test_a_processed_body_younger_than_the_retention_is_kept(app, post_event, clock, db) -> None:
    post_event(ORDER_CREATED)
    process_pending(app)
    clock.advance(days=29)
    assert purge(app).inbox_bodies == 0
    assert events(db)[0].raw_body


@pytest.mark.parametrize("state", [InboxState.pending, InboxState.failed, InboxState.deferred])
def test_an_event_that_may_still_be_processed_keeps_its_body_whatever_its_age(
    app, post_event, clock, db, state
) -> None:
    post_event(ORDER_CREATED)
    move_spooled(app)
    event = events(db)[0]
    event.state = state
    db.add(event)
    db.commit()
    clock.advance(days=400)
    purge(app)
    assert events(db)[0].raw_body


def test_the_same_event_id_is_still_a_duplicate_after_its_body_is_purged(
    app, processed_then_old, post_event
) -> None:
    purge(app)
    assert post_event(ORDER_CREATED).json["status"] == "duplicate"


def test_the_same_shopify_body_under_another_delivery_id_is_still_a_duplicate_after_purge(
    app, client, brand, clock
) -> None:
    """Shopify resends a body under a new webhook id; only the stored digest can recognise it."""
    body = conformance("commerce_webhooks/shopify_orders_create.json").read_bytes()

    def deliver(webhook_id: str):
        return client.post(
            "/webhooks/shopify/acme",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Webhook-Id": webhook_id,
                "X-Shopify-Hmac-Sha256": shopify_hmac("shpss_test_secret", body),
            },
        )

    first = deliver("delivery-1")
    process_pending(app)
    clock.advance(days=31)
    assert purge(app).inbox_bodies == 1
    assert deliver("delivery-2").json == {"id": first.json["id"], "status": "duplicate"}


def _reject_one(post_event) -> None:
    response = post_event(ORDER_CREATED, headers={"X-Postpurchase-Signature": "t=1,v1=00"})
    assert response.status_code == 401


def rejections(db) -> list[WebhookRejection]:
    db.rollback()
    return list(db.exec(select(WebhookRejection)))


def test_rejection_records_are_deleted_after_rejected_retention_days(
    app, post_event, clock, db
) -> None:
    _reject_one(post_event)
    assert len(rejections(db)) == 1
    clock.advance(days=8)
    assert purge(app).rejection_records == 1
    assert rejections(db) == []


def test_rejection_records_younger_than_their_retention_stay(app, post_event, clock, db) -> None:
    _reject_one(post_event)
    clock.advance(days=6)
    assert purge(app).rejection_records == 0
    assert len(rejections(db)) == 1


def test_rejected_inbox_rows_from_before_verify_first_are_deleted_too(app, clock, db) -> None:
    db.add(
        InboxEvent(
            source="wms",
            external_id="old-1",
            state=InboxState.rejected,
            signature_ok=False,
            raw_body=b"{}",
            body_sha256="0" * 64,
            received_at=clock.now,
        )
    )
    db.commit()
    clock.advance(days=8)
    assert purge(app).rejected_requests == 1
    assert events(db) == []


def test_a_dry_run_counts_and_changes_nothing(app, processed_then_old, db) -> None:
    assert purge(app, dry_run=True).inbox_bodies == 1
    assert events(db)[0].raw_body


def test_the_purge_works_in_batches_and_reports_progress(app, post_event, clock, db) -> None:
    for event_type in UNTIL_RETURN:
        post_event(EXAMPLES[event_type])
    process_pending(app)
    clock.advance(days=31)
    seen: list[tuple[str, int]] = []
    counts = purge(app, batch_size=2, progress=lambda what, done: seen.append((what, done)))
    assert counts.inbox_bodies == len(UNTIL_RETURN) == 6
    assert seen == [("inbox_bodies", 2), ("inbox_bodies", 4), ("inbox_bodies", 6)]
    assert all(event.raw_body == b"" for event in events(db))


def test_the_purge_is_a_scheduled_job(app) -> None:
    assert "privacy.purge" in {spec.id for spec in JOBS}


def test_data_purge_command_prints_counts(app, runner, processed_then_old) -> None:
    result = runner.invoke(data, ["purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would purge 1 inbox bodies, would delete 0 records of refused requests" in result.output
    result = runner.invoke(data, ["purge"])
    assert "purged 1 inbox bodies, deleted 0 records of refused requests" in result.output


def test_the_body_retention_comes_from_the_settings(post_event, clock, app) -> None:
    app.config["RAW_RETENTION_DAYS"] = 90
    post_event(ORDER_CREATED)
    process_pending(app)
    clock.advance(days=31)
    assert purge(app).inbox_bodies == 0
