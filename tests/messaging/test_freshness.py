"""No stale messages: an event older than its trigger's freshness limit tells no customer.

Backfills and replays are quiet by default; the event's ``notify_late`` (or ``postpurchase inbox
retry --notify-late``) allows them, and the message log says why a message was not sent.
"""

from __future__ import annotations

from datetime import timedelta

from carriers.status import Status
from postpurchase import signals
from postpurchase.intake.cli import inbox
from postpurchase.intake.examples import EXAMPLES, ORDER
from postpurchase.intake.schemas import EventType
from postpurchase.messaging.catalogue import CATALOGUE, Trigger
from postpurchase.messaging.outbox import send_due
from postpurchase.models import OutboxState
from tests.messaging.conftest import NOW
from tests.messaging.helpers import only


def _order(order_id: str, placed_at, *, notify_late: bool | None = None) -> dict:
    """An ``order.created`` envelope (the documented example) for an order placed at ``placed_at``."""
    envelope = {
        **EXAMPLES[EventType.order_created],
        "id": f"evt-{order_id}",
        "occurred_at": placed_at.isoformat(),
        "data": {**ORDER, "order_id": order_id, "placed_at": placed_at.isoformat()},
    }
    if notify_late is not None:
        envelope["notify_late"] = notify_late
    return envelope


def _process(app) -> None:
    from postpurchase.inbox import process_pending

    process_pending(app, now=NOW)


def test_the_freshness_limits_start_at_a_day_for_confirmations_two_for_shipped_three_for_delivered() -> (
    None
):
    hours = {
        t: CATALOGUE[t].stale_after_hours
        for t in (Trigger.order_confirmed, Trigger.shipped, Trigger.delivered)
    }
    assert hours == {Trigger.order_confirmed: 24, Trigger.shipped: 48, Trigger.delivered: 72}


def test_a_backfilled_old_order_sends_no_confirmation_and_the_log_says_why(
    app, post_event, session
) -> None:
    assert post_event(_order("1001", NOW - timedelta(days=20))).status_code == 202
    _process(app)
    message = only(session, Trigger.order_confirmed)
    assert message.state == OutboxState.stale
    assert message.reason == {"why": "backfill", "args": {"hours": "480", "limit": "24"}}
    assert message.error.startswith("The event was 480 h old when it arrived, past the 24 h")


def test_a_backfilled_event_flagged_notify_late_confirms_the_order(
    app, post_event, session, inbox
) -> None:
    post_event(_order("1002", NOW - timedelta(days=20), notify_late=True))
    _process(app)
    message = only(session, Trigger.order_confirmed)
    assert message.state == OutboxState.pending and message.error is None
    send_due(app, now=NOW)
    assert only(session, Trigger.order_confirmed).state == OutboxState.sent


def test_a_fresh_order_is_confirmed(app, post_event, session) -> None:
    post_event(_order("1003", NOW - timedelta(hours=1)))
    _process(app)
    assert only(session, Trigger.order_confirmed).state == OutboxState.pending


def test_replaying_old_events_with_late_notices_allowed_sends_them(
    app, post_event, session
) -> None:
    post_event(_order("1004", NOW - timedelta(days=5)))
    with signals.late_notices_allowed():
        _process(app)
    assert only(session, Trigger.order_confirmed).state == OutboxState.pending


def test_a_delivery_scan_reported_days_late_sends_no_delivered_message(make_shop, session) -> None:
    shop = make_shop(status=Status.delivered, delivered_at=NOW - timedelta(days=4))
    signals.shipment_status_changed.send(
        shop.shipment.id,
        session=session,
        brand_id=shop.brand.id,
        previous=Status.out_for_delivery,
        current=Status.delivered,
        occurred_at=NOW - timedelta(days=4),
        now=NOW,
    )
    message = only(session, Trigger.delivered)
    assert message.state == OutboxState.stale and message.reason == {
        "why": "backfill",
        "args": {"hours": "96", "limit": "72"},
    }


def test_a_late_notice_allowed_at_import_is_not_made_stale_by_the_sender(
    app, make_shop, session, inbox
) -> None:
    shop = make_shop(status=Status.delivered, delivered_at=NOW - timedelta(days=4))
    with signals.late_notices_allowed():
        signals.shipment_status_changed.send(
            shop.shipment.id,
            session=session,
            brand_id=shop.brand.id,
            previous=Status.out_for_delivery,
            current=Status.delivered,
            occurred_at=NOW - timedelta(days=4),
            now=NOW,
        )
    session.commit()
    send_due(app, now=NOW)
    assert only(session, Trigger.delivered).state == OutboxState.sent


def test_inbox_retry_with_notify_late_sends_what_old_events_ask_for(
    post_event, session, runner
) -> None:
    post_event(_order("1005", NOW - timedelta(days=5)))
    result = runner.invoke(inbox, ["retry", "--all-failed", "--notify-late"])
    assert result.exit_code == 0, result.output
    assert only(session, Trigger.order_confirmed).state == OutboxState.pending


def test_inbox_retry_keeps_old_events_quiet_by_default(post_event, session, runner) -> None:
    post_event(_order("1006", NOW - timedelta(days=5)))
    assert runner.invoke(inbox, ["retry", "--all-failed"]).exit_code == 0
    assert only(session, Trigger.order_confirmed).state == OutboxState.stale
