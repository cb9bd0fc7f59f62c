"""``postpurchase messages``: preview, send-due, log, and the local SMTP sink's mailbox."""

from __future__ import annotations

from datetime import timedelta

from postpurchase import signals
from postpurchase.messaging import sink
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.channels import Envelope, Result
from postpurchase.messaging.channels.email import SmtpChannel
from postpurchase.messaging.cli import messages
from postpurchase.models import Channel, OutboxState
from tests.messaging.conftest import NOW, free_port
from tests.messaging.helpers import failed_while_smtp_was_down
from tests.messaging.helpers import messages as rows


def test_preview_command_prints_subject_and_text(runner, brand) -> None:
    result = runner.invoke(
        messages, ["preview", "--brand", "acme", "--trigger", "arriving_tomorrow"]
    )
    assert (
        result.exit_code == 0
        and "午前中" in result.output
        and result.output.startswith("Subject: 明日")
    )


def test_send_due_and_log_commands(runner, make_shop, session, inbox) -> None:
    shop = make_shop()
    signals.shipment_created.send(
        shop.brand.id, session=session, shipment_id=shop.shipment.id, now=NOW
    )
    session.commit()
    assert "sent 1" in runner.invoke(messages, ["send-due", "--now", NOW.isoformat()]).output
    log = runner.invoke(messages, ["log", "--brand", "acme", "--order", shop.order.number]).output
    assert "shipped" in log and "sent" in log and "hanako@example.jp" in log


def test_sink_stores_each_message_id_once_and_lists_it(tmp_path) -> None:
    port = free_port()
    controller, handler = sink.start(tmp_path / "mail", port=port)
    envelope = Envelope(
        message_id=1,
        brand_slug="acme",
        channel=Channel.email,
        recipient="a@example.jp",
        subject="テスト",
        text="本文です",
        idempotency_key="k",
        headers={"Message-ID": "<k@acme.example>"},
        sender_name="Acme",
        sender_email="hello@acme.example",
    )
    try:
        outcomes = SmtpChannel(host="127.0.0.1", port=port).send_many([envelope, envelope])
    finally:
        controller.stop()
    [caught] = sink.list_messages(tmp_path / "mail")
    assert [o.result for o in outcomes] == [Result.sent, Result.sent] and handler.duplicates == 1
    assert (caught.to, caught.subject, caught.text.strip()) == (
        "a@example.jp",
        "テスト",
        "本文です",
    )


def test_retry_command_sends_failed_messages_again(app, runner, make_shop, session, inbox) -> None:
    assert {m.state for m in failed_while_smtp_was_down(app, make_shop, session)} == {
        OutboxState.failed
    }
    result = runner.invoke(messages, ["retry", "--brand", "acme", "--state", "failed"])
    assert result.exit_code == 0 and "retried 2 failed" in result.output
    assert "sent 2" in runner.invoke(messages, ["send-due"]).output
    assert {m.state for m in rows(session, Trigger.shipped)} == {OutboxState.sent} and len(
        inbox.messages
    ) == 2


def test_retry_command_dry_run_changes_nothing(app, runner, make_shop, session) -> None:
    failed_while_smtp_was_down(app, make_shop, session)
    result = runner.invoke(messages, ["retry", "--brand", "acme", "--dry-run"])
    assert "would retry 2 failed" in result.output
    assert {m.state for m in rows(session, Trigger.shipped)} == {OutboxState.failed}


def test_retry_command_since_leaves_older_messages(app, runner, make_shop, session) -> None:
    failed_while_smtp_was_down(app, make_shop, session)
    result = runner.invoke(
        messages, ["retry", "--brand", "acme", "--since", (NOW + timedelta(minutes=1)).isoformat()]
    )
    assert "retried 0 failed" in result.output


def test_retry_command_warns_that_unknown_messages_may_arrive_twice(
    app, runner, make_shop, session
) -> None:
    [message] = failed_while_smtp_was_down(app, make_shop, session, count=1)
    message.state = OutboxState.unknown
    session.add(message)
    session.commit()
    result = runner.invoke(messages, ["retry", "--brand", "acme", "--state", "unknown"])
    assert "retried 1 unknown" in result.output and "second copy" in result.output
    assert rows(session, Trigger.shipped)[0].state == OutboxState.pending


def test_retry_command_rejects_a_bad_since(runner, brand) -> None:
    result = runner.invoke(messages, ["retry", "--brand", "acme", "--since", "yesterday"])
    assert result.exit_code == 2 and "--since" in result.output


def test_retry_command_leaves_a_failed_message_its_fallback_channel_carried(
    app, runner, make_shop, session
) -> None:
    from postpurchase.messaging.triggers import enqueue_fallback

    [message] = failed_while_smtp_was_down(app, make_shop, session, count=1)
    message.payload = {
        **message.payload,
        "fallback": ["sms"],
        "recipients": {**message.payload["recipients"], "sms": "+819012345678"},
    }
    session.add(message)
    enqueue_fallback(session=session, message=message, now=NOW)
    session.commit()
    result = runner.invoke(messages, ["retry", "--brand", "acme"])
    assert "retried 0 failed · left 1 sent on a fallback channel" in result.output
    assert rows(session, Trigger.shipped)[0].state == OutboxState.failed
