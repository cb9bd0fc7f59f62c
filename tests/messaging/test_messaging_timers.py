"""Timer triggers: arriving tomorrow, unboxing, review/NPS request and replenishment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlmodel import select

from carriers.status import Status
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.outbox import send_due
from postpurchase.messaging.timers import run_timers
from postpurchase.models import Feedback, OutboxState, TimeSlot
from tests.messaging.conftest import NOW
from tests.messaging.helpers import messages, only, rendered
from tests.sql import another_process_can_write

CARE = {
    "sku": {
        "KETTLE-1": {
            "ja": {
                "title": "はじめてお使いになる前に",
                "body": "一度お湯を沸かして捨ててください。",
            },
            "en": {"title": "Before first use", "body": "Boil once and discard."},
            "video_url": "https://video.example/kettle",
        }
    }
}


def _delivered(shop, session, at: datetime) -> None:
    shop.shipment.status, shop.shipment.delivered_at = Status.delivered, at
    session.add(shop.shipment)
    session.flush()


def test_arriving_tomorrow_gives_slot_and_redelivery_link_from_17_local(
    make_shop, session, messaging
) -> None:
    shop = make_shop(predicted_date=date(2026, 11, 25), time_slot=TimeSlot.morning)
    counts = run_timers(session=session, messaging=messaging, now=NOW)  # 12:00 JST on the 24th
    message = rendered(session, Trigger.arriving_tomorrow)
    assert counts[Trigger.arriving_tomorrow] == 1
    assert message.subject == "明日11月25日(水) 午前中にお届け予定です"
    assert (
        f"https://redeliver.testpost.example/?no={shop.shipment.tracking_number}"
        in message.body_text
    )
    assert message.due_at == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # 17:00 JST


def test_timers_run_twice_enqueue_once(make_shop, session, messaging) -> None:
    make_shop(predicted_date=date(2026, 11, 25))
    run_timers(session=session, messaging=messaging, now=NOW)
    again = run_timers(session=session, messaging=messaging, now=NOW + timedelta(minutes=10))
    assert again[Trigger.arriving_tomorrow] == 0
    assert len(messages(session, Trigger.arriving_tomorrow)) == 1


def test_unboxing_waits_the_configured_hours_and_brings_care_content(
    make_shop, session, messaging
) -> None:
    shop = make_shop()
    shop.configure(care=CARE, triggers={"unboxing": {"delay_hours": 6}})
    _delivered(shop, session, NOW - timedelta(hours=5))
    run_timers(session=session, messaging=messaging, now=NOW)
    assert messages(session, Trigger.unboxing) == []
    run_timers(session=session, messaging=messaging, now=NOW + timedelta(hours=1))
    body = rendered(session, Trigger.unboxing).body_text
    assert "はじめてお使いになる前に" in body and "https://video.example/kettle" in body


def test_unboxing_without_content_for_the_products_is_suppressed(
    make_shop, session, messaging
) -> None:
    shop = make_shop()
    _delivered(shop, session, NOW - timedelta(days=1, hours=1))
    run_timers(session=session, messaging=messaging, now=NOW)
    message = only(session, Trigger.unboxing)
    assert message.state == OutboxState.suppressed
    assert message.reason == {"why": "no_care_content", "args": {}}


def test_review_request_links_to_a_page_that_stores_the_score(
    make_shop, session, messaging, client
) -> None:
    shop = make_shop(consent={"email": {"transactional": True, "marketing": True}})
    _delivered(shop, session, NOW - timedelta(days=7, hours=1))
    run_timers(session=session, messaging=messaging, now=NOW)
    message = rendered(session, Trigger.review_request)
    session.commit()
    url = message.payload["context"]["feedback"]["url"].removeprefix("https://pp.example")
    assert client.get(url + "?score=9").status_code == 200
    assert (
        client.post(url, data={"score": "10", "comment": "早くて助かりました"}).status_code == 200
    )
    session.expire_all()
    feedback = session.exec(select(Feedback)).one()
    assert (feedback.nps_score, feedback.comment, feedback.order_id) == (
        10,
        "早くて助かりました",
        shop.order.id,
    )


def test_feedback_page_refuses_a_forged_token(client, brand) -> None:
    assert client.get("/acme/feedback/not-a-token").status_code == 404


def test_replenishment_reminds_before_the_run_out_from_quantity_and_usage_days(
    make_shop, session, messaging
) -> None:
    shop = make_shop(
        consent={"email": {"marketing": True}},
        lines=[{"sku": "BEANS-200", "name": "コーヒー豆 200g", "category": "beans", "quantity": 2}],
    )
    shop.configure(
        consumables={"sku": {"BEANS-200": 14}}, triggers={"replenishment": {"lead_days": 5}}
    )
    _delivered(
        shop, session, datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
    )  # runs out 2 × 14 days later: 11/29
    run_timers(session=session, messaging=messaging, now=datetime(2026, 11, 23, 3, 0, tzinfo=UTC))
    assert messages(session, Trigger.replenishment) == []
    run_timers(session=session, messaging=messaging, now=NOW)  # 11/24 = 5 days before
    message = rendered(session, Trigger.replenishment)
    assert "11月29日(日)ごろ" in message.body_text


def test_review_request_answered_before_it_is_sent_is_suppressed(
    app, make_shop, session, messaging
) -> None:
    shop = make_shop(consent={"email": {"transactional": True, "marketing": True}})
    _delivered(shop, session, NOW - timedelta(days=7, hours=1))
    run_timers(session=session, messaging=messaging, now=NOW)
    session.add(Feedback(brand_id=shop.brand.id, order_id=shop.order.id, nps_score=9))
    session.commit()
    report = send_due(app, now=NOW)
    message = only(session, Trigger.review_request)
    assert report.suppressed == 1 and message.state == OutboxState.suppressed
    assert message.reason == {"why": "already_answered", "args": {}}


def test_the_timers_job_holds_the_sqlite_write_lock_from_its_first_read(
    app, make_shop, session, monkeypatch
) -> None:
    """A worker's commit between the job's reads and its writes made SQLite refuse the write at
    once ("database is locked": a WAL read transaction cannot become a write), seen in a load run."""
    import pytest

    from postpurchase import messaging
    from postpurchase.db import get_db
    from postpurchase.messaging import timers

    database = get_db(app)
    if not database.is_sqlite:
        pytest.skip("SQLite's locking; PostgreSQL has row locks")
    make_shop(predicted_date=date(2026, 11, 25))
    session.commit()
    others_could_write: list[bool] = []
    real = timers.run_timers

    def run_timers(**kwargs):  # the job's first read, then another process tries to write
        kwargs["session"].exec(select(Feedback.id)).all()
        others_could_write.append(another_process_can_write(database.url))
        return real(**kwargs)

    monkeypatch.setattr(timers, "run_timers", run_timers)
    with app.app_context():
        messaging.timers_job(app)
    assert others_could_write == [False]
