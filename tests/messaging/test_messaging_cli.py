"""``postpurchase messages``: preview, send-due, log, and the local SMTP sink's mailbox."""

from __future__ import annotations

from postpurchase import signals
from postpurchase.messaging import sink
from postpurchase.messaging.channels import Envelope, Result
from postpurchase.messaging.channels.email import SmtpChannel
from postpurchase.messaging.cli import messages
from postpurchase.models import Channel
from tests.messaging.conftest import NOW, free_port


def test_preview_command_prints_subject_and_text(runner, brand) -> None:
    result = runner.invoke(messages, ["preview", "--brand", "acme", "--trigger", "arriving_tomorrow"])
    assert result.exit_code == 0 and "午前中" in result.output and result.output.startswith("Subject: 明日")


def test_send_due_and_log_commands(runner, make_shop, session, inbox) -> None:
    shop = make_shop()
    signals.shipment_created.send(shop.brand.id, session=session, shipment_id=shop.shipment.id, now=NOW)
    session.commit()
    assert "sent 1" in runner.invoke(messages, ["send-due", "--now", NOW.isoformat()]).output
    log = runner.invoke(messages, ["log", "--brand", "acme", "--order", shop.order.number]).output
    assert "shipped" in log and "sent" in log and "hanako@example.jp" in log


def test_sink_stores_each_message_id_once_and_lists_it(tmp_path) -> None:
    port = free_port()
    controller, handler = sink.start(tmp_path / "mail", port=port)
    envelope = Envelope(message_id=1, brand_slug="acme", channel=Channel.email, recipient="a@example.jp",
                        subject="テスト", text="本文です", idempotency_key="k", headers={"Message-ID": "<k@acme.example>"},
                        sender_name="Acme", sender_email="hello@acme.example")
    try:
        outcomes = SmtpChannel(host="127.0.0.1", port=port).send_many([envelope, envelope])
    finally:
        controller.stop()
    [caught] = sink.list_messages(tmp_path / "mail")
    assert [o.result for o in outcomes] == [Result.sent, Result.sent] and handler.duplicates == 1
    assert (caught.to, caught.subject, caught.text.strip()) == ("a@example.jp", "テスト", "本文です")
