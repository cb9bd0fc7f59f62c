"""Respect: quiet hours across midnight, frequency caps, consent, unsubscribe, the law on marketing email."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from carriers.status import Status
from postpurchase import signals
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.outbox import send_due
from postpurchase.messaging.respect import quiet_until
from postpurchase.models import OutboxState, Suppression
from tests.messaging.conftest import NOW
from tests.messaging.helpers import messages, only

JST_2330 = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
JST_0800_NEXT = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)


def _status(shop, session, current: Status, now: datetime = NOW) -> None:
    shop.shipment.status = current
    session.add(shop.shipment)
    signals.shipment_status_changed.send(
        shop.shipment.id,
        session=session,
        brand_id=shop.brand.id,
        previous=Status.in_transit,
        current=current,
        occurred_at=now,
        now=now,
    )
    session.commit()


def test_quiet_hours_span_midnight() -> None:
    assert quiet_until(JST_2330, "Asia/Tokyo", "21:00", "08:00") == JST_0800_NEXT
    assert (
        quiet_until(datetime(2026, 11, 24, 17, 0, tzinfo=UTC), "Asia/Tokyo", "21:00", "08:00")
        == JST_0800_NEXT
    )
    assert (
        quiet_until(datetime(2026, 11, 24, 23, 0, tzinfo=UTC), "Asia/Tokyo", "21:00", "08:00")
        is None
    )
    assert (
        quiet_until(datetime(2026, 11, 24, 11, 59, tzinfo=UTC), "Asia/Tokyo", "21:00", "08:00")
        is None
    )


def test_message_due_at_2330_is_held_and_sent_at_0800_next_morning(
    app, make_shop, session, inbox
) -> None:
    shop = make_shop()
    _status(shop, session, Status.attempt_fail, JST_2330)
    report = send_due(app, now=JST_2330)
    message = only(session, Trigger.attempt_fail)
    assert report.held == 1 and (message.state, message.due_at, message.reason) == (
        OutboxState.held,
        JST_0800_NEXT,
        {"why": "quiet_hours", "args": {}},
    )
    assert send_due(app, now=JST_0800_NEXT - timedelta(minutes=1)).claimed == 0
    assert send_due(app, now=JST_0800_NEXT).sent == 1 and len(inbox.messages) == 1


def test_quiet_hours_use_the_customers_timezone(app, make_shop, session, inbox) -> None:
    shop = make_shop()
    shop.customer.timezone = "Europe/Paris"  # 15:30 there
    _status(shop, session, Status.attempt_fail, JST_2330)
    assert send_due(app, now=JST_2330).sent == 1


def test_daily_cap_holds_non_essential_messages_until_the_next_day(
    app, make_shop, session, inbox
) -> None:
    first = make_shop()
    first.configure(daily_cap=1)
    second = make_shop(customer=first.customer)
    _status(first, session, Status.delivered)
    _status(second, session, Status.delivered)
    report = send_due(app, now=NOW)
    held = [m for m in messages(session, Trigger.delivered) if m.state == OutboxState.held]
    assert (
        report.sent == 1 and len(held) == 1 and held[0].reason == {"why": "daily_cap", "args": {}}
    )
    assert held[0].due_at == JST_0800_NEXT


def test_essential_messages_bypass_the_daily_cap(app, make_shop, session, inbox) -> None:
    first = make_shop()
    first.configure(daily_cap=1)
    second = make_shop(customer=first.customer)
    _status(first, session, Status.delivered)
    _status(second, session, Status.out_for_delivery)
    third = make_shop(customer=first.customer)
    _status(third, session, Status.attempt_fail)
    assert send_due(app, now=NOW).sent == 3


def _review(shop, session, messaging) -> None:
    shop.shipment.status, shop.shipment.delivered_at = Status.delivered, NOW - timedelta(days=8)
    session.add(shop.shipment)
    from postpurchase.messaging.timers import run_timers

    run_timers(session=session, messaging=messaging, now=NOW)
    session.commit()


def test_marketing_message_without_opt_in_is_suppressed(make_shop, session, messaging) -> None:
    shop = make_shop()
    _review(shop, session, messaging)
    message = only(session, Trigger.review_request)
    assert message.state == OutboxState.suppressed and message.reason == {
        "why": "no_consent",
        "args": {"purpose": "marketing", "channel": "email"},
    }
    assert message.error == 'No consent to "marketing" on email.'


def test_marketing_email_carries_the_sender_information_the_law_requires(
    app, make_shop, session, inbox, messaging
) -> None:
    shop = make_shop(consent={"email": {"marketing": True}})
    _review(shop, session, messaging)
    send_due(app, now=NOW)
    text = inbox.messages[0].get_body(("plain",)).get_content()
    assert (
        "送信者: Acme Coffee" in text
        and "住所: 東京都渋谷区1-2-3" in text
        and "03-1234-5678" in text
    )
    assert "配信停止: https://pp.example/acme/unsubscribe/" in text


def test_marketing_email_without_sender_address_is_not_sent(
    app, make_shop, session, inbox, messaging
) -> None:
    shop = make_shop(consent={"email": {"marketing": True}})
    shop.configure(sender={"name": "Acme"})
    _review(shop, session, messaging)
    send_due(app, now=NOW)
    assert (
        "特定電子メール法" in only(session, Trigger.review_request).error and inbox.messages == []
    )


def _unsubscribe_link(app, shop, session, inbox) -> str:
    """Send a delivery update and return the path of its List-Unsubscribe link."""
    _status(shop, session, Status.out_for_delivery)
    send_due(app, now=NOW)
    return inbox.messages[0]["List-Unsubscribe"].strip("<>").removeprefix("https://pp.example")


def test_one_click_unsubscribe_stops_marketing_but_not_delivery_updates(
    app, client, make_shop, session, inbox, messaging
) -> None:
    shop = make_shop(consent={"email": {"marketing": True}})
    link = _unsubscribe_link(app, shop, session, inbox)
    response = client.post(link, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and response.json == {"unsubscribed": True}
    suppression = session.exec(select(Suppression)).one()
    assert (suppression.address, suppression.purpose, suppression.reason) == (
        "hanako@example.jp",
        "marketing",
        "unsubscribe",
    )
    _review(shop, session, messaging)
    assert only(session, Trigger.review_request).state == OutboxState.suppressed
    _status(shop, session, Status.attempt_fail)
    assert only(session, Trigger.attempt_fail).state == OutboxState.pending


def test_unsubscribe_page_can_stop_everything(app, client, make_shop, session, inbox) -> None:
    shop = make_shop()
    link = _unsubscribe_link(app, shop, session, inbox)
    assert "Stop all messages" in client.get(link + "?lang=en").get_data(as_text=True)
    client.post(link, data={"scope": "all"})
    _status(shop, session, Status.attempt_fail)
    assert only(session, Trigger.attempt_fail).state == OutboxState.suppressed


def test_unsubscribe_with_a_forged_token_is_refused(client, brand) -> None:
    assert (
        client.post("/acme/unsubscribe/forged", data={"List-Unsubscribe": "One-Click"}).status_code
        == 404
    )


def test_unsubscribe_page_speaks_japanese(app, client, make_shop, session, inbox) -> None:
    shop = make_shop()
    link = _unsubscribe_link(app, shop, session, inbox)
    assert "お知らせ・レビューのお願いを停止する" in client.get(link + "?lang=ja").get_data(
        as_text=True
    )


def test_an_address_unsubscribed_after_suppressions_were_read_ahead_is_still_suppressed(
    session, brand
) -> None:
    """Reading a batch's suppressions ahead must not hide one added later in the same session."""
    from postpurchase.messaging.operations import unsubscribe
    from postpurchase.messaging.respect import preload_suppressions, suppression_reasons

    addresses = {"email": "hanako@example.jp"}
    preload_suppressions(session=session, brand_id=brand.brand_id, addresses=addresses.values())
    assert (
        suppression_reasons(
            session=session, brand_id=brand.brand_id, addresses=addresses, purpose="marketing"
        )
        == {}
    )
    unsubscribe(
        session=session, brand_id=brand.brand_id, channel="email", address="hanako@example.jp"
    )
    assert suppression_reasons(
        session=session, brand_id=brand.brand_id, addresses=addresses, purpose="marketing"
    ) == {"email": "unsubscribe"}
