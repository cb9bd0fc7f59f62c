"""The outbox sender over a real local SMTP server: delivery, retries, fallbacks and crashes."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import responses
from sqlmodel import select

from carriers.status import Status
from postpurchase import signals
from postpurchase.messaging import outbox
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.outbox import send_due
from postpurchase.messaging.sink import SinkHandler
from postpurchase.models import OutboxState, Suppression
from tests.messaging.conftest import NOW, free_port
from tests.messaging.helpers import messages, only

TWILIO = {
    "TWILIO_ACCOUNT_SID": "AC123",
    "TWILIO_AUTH_TOKEN": "secret-token",
    "TWILIO_FROM": "+815012345678",
}


def _shipped(shop, session) -> None:
    signals.shipment_created.send(
        shop.brand.id, session=session, shipment_id=shop.shipment.id, now=NOW
    )
    session.commit()


def test_email_goes_out_over_smtp_with_html_and_plain_text(app, make_shop, session, inbox) -> None:
    shop = make_shop()
    _shipped(shop, session)
    report = send_due(app, now=NOW)
    assert report.sent == 1
    [email] = inbox.messages
    assert email["To"] == "hanako@example.jp" and "hello@acme.example" in email["From"]
    assert email.get_body(("plain",)).get_content().startswith("山田 花子 様")
    assert "11月25日(水)" in email.get_body(("html",)).get_content()
    assert email["Message-ID"] == only(session, Trigger.shipped).provider_id
    assert only(session, Trigger.shipped).state == OutboxState.sent


def test_email_has_one_click_unsubscribe_headers_and_tracked_links(
    app, make_shop, session, inbox
) -> None:
    shop = make_shop()
    _shipped(shop, session)
    send_due(app, now=NOW)
    [email] = inbox.messages
    assert email["List-Unsubscribe"].startswith("<https://pp.example/acme/unsubscribe/")
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = email.get_body(("html",)).get_content()
    assert 'src="https://pp.example/m/o/' in html and 'href="https://pp.example/m/c/' in html


def test_smtp_server_down_is_retried_with_backoff(app, make_shop, session) -> None:
    shop = make_shop()
    _shipped(shop, session)
    report = send_due(app, now=NOW)
    message = only(session, Trigger.shipped)
    assert report.retried == 1 and message.state == OutboxState.pending and message.attempts == 1
    assert message.due_at == NOW + timedelta(minutes=1)


def test_retry_after_the_server_is_back_delivers_once(
    app, make_shop, session, inbox, smtp_port
) -> None:
    shop = make_shop()
    _shipped(shop, session)
    app.config["SMTP_PORT"] = free_port()  # nobody listens there
    send_due(app, now=NOW)
    app.config["SMTP_PORT"] = smtp_port
    assert send_due(app, now=NOW + timedelta(seconds=30)).sent == 0
    assert send_due(app, now=NOW + timedelta(minutes=1)).sent == 1
    assert len(inbox.messages) == 1


@responses.activate
def test_hard_bounce_suppresses_the_address_and_falls_back_to_sms(
    app, app_config, make_shop, session, inbox
) -> None:
    app.config.update(TWILIO)
    responses.post(
        "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json",
        status=201,
        json={"sid": "SM0001", "status": "queued"},
    )
    shop = make_shop()
    shop.configure(triggers={"shipped": {"channels": ["email", "sms"]}})
    inbox.reject["hanako@example.jp"] = "550 5.1.1 No such user"
    _shipped(shop, session)
    report = send_due(app, now=NOW)
    email_row, sms_row = messages(session, Trigger.shipped)
    assert (email_row.state, sms_row.state, sms_row.provider_id) == (
        OutboxState.failed,
        OutboxState.sent,
        "SM0001",
    )
    assert report.fallbacks == 1 and sms_row.recipient == "+819012345678"
    bounce = session.exec(select(Suppression)).one()
    assert (bounce.address, bounce.reason, bounce.purpose) == (
        "hanako@example.jp",
        "hard_bounce",
        "all",
    )
    signals.shipment_status_changed.send(
        shop.shipment.id,
        session=session,
        brand_id=shop.brand.id,
        previous=Status.in_transit,
        current=Status.delivered,
        occurred_at=NOW,
        now=NOW,
    )
    delivered = only(session, Trigger.delivered)
    assert (delivered.channel, delivered.state) == (
        "sms",
        OutboxState.pending,
    )  # email is skipped from now on


def test_stale_message_is_suppressed_instead_of_sent(app, make_shop, session, inbox) -> None:
    shop = make_shop()
    shop.shipment.status = Status.out_for_delivery
    signals.shipment_status_changed.send(
        shop.shipment.id,
        session=session,
        brand_id=shop.brand.id,
        previous=Status.in_transit,
        current=Status.out_for_delivery,
        occurred_at=NOW,
        now=NOW,
    )
    shop.shipment.status = Status.delivered
    session.add(shop.shipment)
    session.commit()
    report = send_due(app, now=NOW)
    message = only(session, Trigger.out_for_delivery)
    assert report.suppressed == 1 and message.state == OutboxState.suppressed
    assert message.reason == {"why": "parcel_already", "args": {"status": "delivered"}}
    assert inbox.messages == []


def _crash(monkeypatch) -> None:
    def crash(*args, **kwargs):
        raise SystemExit("sender killed between send and record")

    monkeypatch.setattr(outbox, "record", crash)


def test_crash_after_smtp_accept_is_reported_unknown_and_not_sent_again(
    app, make_shop, session, inbox, monkeypatch
) -> None:
    shop = make_shop()
    _shipped(shop, session)
    _crash(monkeypatch)
    with pytest.raises(SystemExit):
        send_due(app, now=NOW)
    monkeypatch.undo()
    assert only(session, Trigger.shipped).state == OutboxState.sending
    assert send_due(app, now=NOW + timedelta(minutes=1)).claimed == 0  # lease still held
    report = send_due(app, now=NOW + outbox.LEASE + timedelta(seconds=1))
    message = only(session, Trigger.shipped)
    assert (
        report.unknown == 1
        and message.state == OutboxState.unknown
        and "may or may not" in message.error
    )
    assert len(inbox.messages) == 1


def test_crash_with_a_message_id_deduplicating_server_sends_again_without_duplicate(
    app, make_shop, session, smtp_port, tmp_path, monkeypatch
) -> None:
    from aiosmtpd.controller import Controller

    sink = SinkHandler(tmp_path / "mail")
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        app.config["SMTP_IDEMPOTENT"] = "1"
        shop = make_shop()
        _shipped(shop, session)
        _crash(monkeypatch)
        with pytest.raises(SystemExit):
            send_due(app, now=NOW)
        monkeypatch.undo()
        report = send_due(app, now=NOW + outbox.LEASE + timedelta(seconds=1))
    finally:
        controller.stop()
    assert report.sent == 1 and only(session, Trigger.shipped).state == OutboxState.sent
    assert (sink.received, sink.duplicates, len(list((tmp_path / "mail").glob("*.eml")))) == (
        2,
        1,
        1,
    )


@responses.activate
def test_crash_on_line_push_resends_with_the_same_retry_key(
    app, make_shop, session, monkeypatch
) -> None:
    app.config["LINE_CHANNEL_TOKEN"] = "line-token"
    push = "https://api.line.me/v2/bot/message/push"
    responses.post(
        push, status=200, json={"sentMessages": [{"id": "461230966842064897", "quoteToken": "q"}]}
    )
    responses.post(
        push,
        status=409,
        json={"message": "The retry key is already accepted"},
        headers={"x-line-accepted-request-id": "req-1"},
    )
    shop = make_shop(line_user_id="U4af4980629")
    shop.configure(sender={}, triggers={"shipped": {"channels": ["line"]}})
    _shipped(shop, session)
    _crash(monkeypatch)
    with pytest.raises(SystemExit):
        send_due(app, now=NOW)
    monkeypatch.undo()
    send_due(app, now=NOW + outbox.LEASE + timedelta(seconds=1))
    first, second = (call.request for call in responses.calls)
    assert first.headers["X-Line-Retry-Key"] == second.headers["X-Line-Retry-Key"]
    assert only(session, Trigger.shipped).state == OutboxState.sent
    assert json.loads(first.body)["to"] == "U4af4980629"


def test_sms_answer_lost_is_reported_unknown(app, make_shop, session) -> None:
    import requests

    app.config.update(TWILIO)
    shop = make_shop(email=None)
    _shipped(shop, session)
    with responses.RequestsMock() as mock:
        mock.post(
            "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json",
            body=requests.ReadTimeout("read timed out"),
        )
        report = send_due(app, now=NOW)
    assert report.unknown == 1 and only(session, Trigger.shipped).state == OutboxState.unknown


def test_a_message_is_written_without_wording_and_rendered_when_sent(
    app, make_shop, session, inbox
) -> None:
    shop = make_shop()
    _shipped(shop, session)
    assert only(session, Trigger.shipped).body_text == ""
    shop.shipment.predicted_date = date(
        2026, 11, 30
    )  # predicted again after the message was written
    session.commit()
    send_due(app, now=NOW)
    [email] = inbox.messages
    assert "11月30日(月)" in email.get_body(("plain",)).get_content()


def test_a_sent_message_keeps_the_content_it_was_sent_with(app, make_shop, session, inbox) -> None:
    shop = make_shop()
    _shipped(shop, session)
    send_due(app, now=NOW)
    sent = inbox.messages[0].get_body(("plain",)).get_content().replace("\r\n", "\n").strip()
    session.refresh(shop.shipment)
    quoted = shop.shipment.predicted_date
    shop.shipment.predicted_date = quoted + timedelta(days=2)
    session.commit()
    message = only(session, Trigger.shipped)
    assert message.body_text.strip() == sent
    assert message.payload["context"]["shipment"]["predicted_date"] == quoted.isoformat()


def test_a_message_that_cannot_be_rendered_fails_alone(app, make_shop, session, inbox) -> None:
    broken, fine = make_shop(), make_shop()
    broken.configure(triggers={"delivered": {"template": "no_such_template"}})
    _shipped(fine, session)
    broken.shipment.status = Status.delivered
    signals.shipment_status_changed.send(
        broken.shipment.id,
        session=session,
        brand_id=broken.brand.id,
        previous=Status.in_transit,
        current=Status.delivered,
        occurred_at=NOW,
        now=NOW,
    )
    session.commit()
    report = send_due(app, now=NOW)
    failed = only(session, Trigger.delivered)
    assert report.sent == 1 and report.failed == 1 and len(inbox.messages) == 1
    assert failed.state == OutboxState.failed and "no_such_template" in failed.error


# -- retry horizon, handover and database errors ----------------------------------------------------


def _every_minute(app, clock, minutes: int) -> None:
    for _ in range(minutes):
        send_due(app, now=clock.now, sleep=lambda _s: None)
        clock.advance(minutes=1)


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [outbox.backoff(n, 60, 1800).total_seconds() / 60 for n in (1, 2, 5, 6, 40)] == [
        1,
        2,
        16,
        30,
        30,
    ]


def test_smtp_down_for_an_hour_then_every_due_message_is_sent_exactly_once(
    app, make_shop, session, clock, smtp_port
) -> None:
    from aiosmtpd.controller import Controller

    from tests.messaging.conftest import Inbox

    shops = [make_shop() for _ in range(5)]
    for shop in shops:
        _shipped(shop, session)
    _every_minute(app, clock, 60)  # nobody listens on smtp_port: connection refused
    down = messages(session, Trigger.shipped)
    assert {m.state for m in down} == {OutboxState.pending} and all(m.attempts >= 6 for m in down)
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        _every_minute(app, clock, 31)  # the longest wait between attempts is 30 minutes
    finally:
        controller.stop()
    assert {m.state for m in messages(session, Trigger.shipped)} == {OutboxState.sent}
    ids = sorted(email["Message-ID"] for email in handler.messages)
    assert ids == sorted(
        m.provider_id for m in messages(session, Trigger.shipped)
    )  # one each, no duplicate


def test_temporary_failures_stop_at_the_retry_horizon_as_failed(
    app, make_shop, session, clock
) -> None:
    shop = make_shop()
    shop.configure(retry_max_hours=2)
    _shipped(shop, session)
    clock.advance(hours=1)
    send_due(app, now=clock.now)  # pretend the first try was an hour ago: still inside the horizon
    _every_minute(app, clock, 59)
    assert only(session, Trigger.shipped).state == OutboxState.pending
    _every_minute(app, clock, 62)
    message = only(session, Trigger.shipped)
    assert message.state == OutboxState.failed and message.reason["why"] == "gave_up"
    assert message.error.startswith("Gave up retrying: SMTP before data")


def test_a_message_past_its_triggers_staleness_is_stale_not_sent(
    app, make_shop, session, clock, smtp_port
) -> None:
    shop = make_shop()
    shop.shipment.status = Status.out_for_delivery
    signals.shipment_status_changed.send(
        shop.shipment.id,
        session=session,
        brand_id=shop.brand.id,
        previous=Status.in_transit,
        current=Status.out_for_delivery,
        occurred_at=NOW,
        now=NOW,
    )
    session.commit()
    _every_minute(app, clock, 5 * 60)  # out-for-delivery news is worth nothing after 4 hours
    message = only(session, Trigger.out_for_delivery)
    assert message.state == OutboxState.stale and message.reason == {
        "why": "too_late",
        "args": {"limit": "4"},
    }


def _locked(*args, **kwargs):
    import sqlite3

    from sqlalchemy.exc import OperationalError

    raise OperationalError(
        "UPDATE outboxmessage ...", {}, sqlite3.OperationalError("database is locked")
    )


def test_a_database_error_before_the_handover_leaves_the_message_to_send_again(
    app, make_shop, session, inbox, monkeypatch
) -> None:
    shop = make_shop()
    _shipped(shop, session)
    monkeypatch.setattr(outbox, "prepare", _locked)
    with pytest.raises(Exception, match="database is locked"):
        send_due(app, now=NOW, sleep=lambda _s: None)
    monkeypatch.undo()
    assert only(session, Trigger.shipped).handed_over_at is None
    report = send_due(app, now=NOW + outbox.LEASE + timedelta(seconds=1))
    assert (
        report.unknown == 0
        and report.sent == 1
        and only(session, Trigger.shipped).state == OutboxState.sent
    )
    assert len(inbox.messages) == 1


def test_a_handover_that_cannot_be_recorded_is_not_sent_and_retried(
    app, make_shop, session, inbox, monkeypatch
) -> None:
    shop = make_shop()
    _shipped(shop, session)
    monkeypatch.setattr(outbox, "mark_handed_over", _locked)
    report = send_due(app, now=NOW, sleep=lambda _s: None)
    message = only(session, Trigger.shipped)
    assert report.retried == 1 and message.state == OutboxState.pending and inbox.messages == []
    assert message.reason["why"] == "database_busy" and "database is locked" in message.error


def test_a_crash_after_the_handover_is_unknown_only_for_the_handed_over_rows(
    app, make_shop, session, inbox, monkeypatch
) -> None:
    shops = [make_shop() for _ in range(3)]
    for shop in shops:
        _shipped(shop, session)
    app.config["MESSAGES_HANDOVER_SLICE"] = 1
    from postpurchase.messaging.channels.email import SmtpChannel

    real = SmtpChannel.send
    sent: list[int] = []

    def send_then_die(self, envelope):
        if sent:
            raise SystemExit("sender killed while handing over the second message")
        sent.append(envelope.message_id)
        return real(self, envelope)

    monkeypatch.setattr(SmtpChannel, "send", send_then_die)
    with pytest.raises(SystemExit):
        send_due(app, now=NOW, workers=1)
    monkeypatch.undo()
    send_due(app, now=NOW + outbox.LEASE + timedelta(seconds=1))
    states = [m.state for m in messages(session, Trigger.shipped)]
    assert states == [
        OutboxState.unknown,
        OutboxState.unknown,
        OutboxState.sent,
    ]  # the third was never handed over
    assert len(inbox.messages) == 2


def test_a_database_lock_while_recording_the_answer_is_retried(
    app, make_shop, session, inbox, monkeypatch
) -> None:
    shop = make_shop()
    _shipped(shop, session)
    real, calls, waits = outbox._record, [], []

    def locked_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            _locked()
        return real(*args, **kwargs)

    monkeypatch.setattr(outbox, "_record", locked_once)
    report = send_due(app, now=NOW, sleep=waits.append)
    assert report.sent == 1 and len(calls) == 2 and len(waits) == 1 and waits[0] <= 5
    assert only(session, Trigger.shipped).state == OutboxState.sent and len(inbox.messages) == 1


def test_only_transient_database_errors_are_retried() -> None:
    import sqlite3

    from sqlalchemy.exc import IntegrityError, OperationalError

    from postpurchase.db import is_transient_db_error

    def operational(text: str) -> OperationalError:
        return OperationalError("SELECT 1", {}, sqlite3.OperationalError(text))

    assert is_transient_db_error(operational("database is locked"))
    assert not is_transient_db_error(operational("no such table: outboxmessage"))
    assert not is_transient_db_error(IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE")))
