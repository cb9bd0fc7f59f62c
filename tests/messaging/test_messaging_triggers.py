"""Each trigger writes one outbox row, in the caller's session, worded for this customer and parcel."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta

from blinker import Signal

from carriers.status import Status
from postpurchase import signals
from postpurchase.edd import receivers as edd_receivers
from postpurchase.i18n import format_day
from postpurchase.lookup import return_from_token
from postpurchase.messaging import current_settings
from postpurchase.messaging.catalogue import Trigger
from postpurchase.models import (
    OutboxState,
    ReturnRequest,
    ReturnState,
    TimeSlot,
)
from tests.messaging.conftest import NOW
from tests.messaging.helpers import messages, only, rendered, show


@contextmanager
def without_receiver(signal: Signal, receiver: Callable[..., object]) -> Iterator[None]:
    """Run a block as if a feature had not subscribed (to test a later-arriving prediction).

    Receivers run in connection order, so the receiver goes back to its place, not to the end:
    otherwise every later test in the process would see messaging run before the EDD."""
    everyone = list(signal.receivers_for(None))
    signal.disconnect(receiver)
    try:
        yield
    finally:
        for each in everyone:
            signal.disconnect(each)
        for each in everyone:
            signal.connect(each)


def test_new_order_confirms_in_japanese_with_honorific_and_yen(make_shop, session) -> None:
    shop = make_shop()
    signals.order_upserted.send(
        shop.brand.id, session=session, order_id=shop.order.id, created=True, now=NOW
    )
    message = rendered(session, Trigger.order_confirmed)
    assert message.state == OutboxState.pending and message.channel == "email"
    assert message.subject == f"ご注文ありがとうございます(注文番号 {shop.order.number})"
    assert message.body_text.startswith("山田 花子 様")
    assert "￥4,980" in message.body_text or "¥4,980" in message.body_text


def test_order_update_sends_nothing(make_shop, session) -> None:
    shop = make_shop()
    signals.order_upserted.send(
        shop.brand.id, session=session, order_id=shop.order.id, created=False, now=NOW
    )
    assert messages(session) == []


def test_shipped_message_carries_the_predicted_day_time_slot_and_the_brands_tracking_link(
    make_shop, session
) -> None:
    shop = make_shop(time_slot=TimeSlot.morning)
    signals.shipment_created.send(
        shop.brand.id, session=session, shipment_id=shop.shipment.id, now=NOW
    )
    message = rendered(session, Trigger.shipped)
    session.refresh(shop.shipment)  # the hand-over prediction (EDD listens to the same signal)
    predicted = format_day(shop.shipment.predicted_date, "ja")
    assert f"{predicted} 午前中" in message.body_text
    assert "https://pp.example/acme/track/" in message.body_text
    assert "track.testpost.example" not in message.body_text + message.body_html
    assert message.body_html and predicted in message.body_html


def test_prediction_arriving_after_the_shipped_message_is_written_into_it(
    make_shop, session
) -> None:
    shop = make_shop(predicted_date=None)
    with without_receiver(signals.shipment_created, edd_receivers.on_shipment_created):
        signals.shipment_created.send(
            shop.brand.id, session=session, shipment_id=shop.shipment.id, now=NOW
        )
    assert "お届け予定日" not in rendered(session, Trigger.shipped).body_text
    shop.shipment.predicted_date = date(2026, 11, 25)
    session.add(shop.shipment)
    signals.shipment_prediction_changed.send(
        shop.shipment.id,
        session=session,
        brand_id=shop.brand.id,
        previous_date=None,
        predicted_date=date(2026, 11, 25),
        promised_date=date(2026, 11, 26),
        now=NOW,
    )
    assert "お届け予定日: 11月25日(水)" in rendered(session, Trigger.shipped).body_text


def test_unknown_carrier_falls_back_to_our_tracking_page(make_shop, session) -> None:
    shop = make_shop(carrier_code="no-such-carrier")
    signals.shipment_created.send(
        shop.brand.id, session=session, shipment_id=shop.shipment.id, now=NOW
    )
    assert re.search(
        r"https://pp\.example/acme/track/[\w.-]+\s", rendered(session, Trigger.shipped).body_text
    )


def test_same_event_twice_writes_one_message(make_shop, session) -> None:
    shop = make_shop()
    for _ in range(2):
        signals.shipment_created.send(
            shop.brand.id, session=session, shipment_id=shop.shipment.id, now=NOW
        )
    assert len(messages(session, Trigger.shipped)) == 1


def test_prediction_moving_past_the_promise_sends_delayed_once(make_shop, session) -> None:
    shop = make_shop(promised_date=date(2026, 11, 25), predicted_date=date(2026, 11, 27))
    kwargs = {
        "session": session,
        "brand_id": shop.brand.id,
        "promised_date": date(2026, 11, 25),
        "now": NOW,
    }
    signals.shipment_prediction_changed.send(
        shop.shipment.id,
        previous_date=date(2026, 11, 25),
        predicted_date=date(2026, 11, 27),
        **kwargs,
    )
    signals.shipment_prediction_changed.send(
        shop.shipment.id,
        previous_date=date(2026, 11, 27),
        predicted_date=date(2026, 11, 28),
        **kwargs,
    )
    message = rendered(session, Trigger.delayed)
    assert "11月27日(金)" in message.body_text and "11月25日(水)" in message.body_text


def test_prediction_within_the_promise_sends_nothing(make_shop, session) -> None:
    shop = make_shop()
    signals.shipment_prediction_changed.send(
        shop.shipment.id,
        session=session,
        brand_id=shop.brand.id,
        previous_date=date(2026, 11, 24),
        predicted_date=date(2026, 11, 25),
        promised_date=date(2026, 11, 26),
        now=NOW,
    )
    assert messages(session) == []


def _status(shop, session, current: Status) -> None:
    shop.shipment.status = current
    session.add(shop.shipment)
    signals.shipment_status_changed.send(
        shop.shipment.id,
        session=session,
        brand_id=shop.brand.id,
        previous=Status.in_transit,
        current=current,
        occurred_at=NOW,
        now=NOW,
    )


def test_out_for_delivery_says_today_with_the_slot(make_shop, session) -> None:
    shop = make_shop(time_slot=TimeSlot.h14_16)
    _status(shop, session, Status.out_for_delivery)
    assert rendered(session, Trigger.out_for_delivery).subject == "本日お届けします(14時〜16時)"


def test_failed_attempt_gives_the_carriers_redelivery_link(make_shop, session) -> None:
    shop = make_shop()
    _status(shop, session, Status.attempt_fail)
    body = rendered(session, Trigger.attempt_fail).body_text
    assert f"https://redeliver.testpost.example/?no={shop.shipment.tracking_number}" in body


def test_available_for_pickup_says_where_and_until_when(make_shop, session) -> None:
    from postpurchase.models import TrackingEvent

    shop = make_shop()
    session.add(
        TrackingEvent(
            brand_id=shop.brand.id,
            shipment_id=shop.shipment.id,
            occurred_at=NOW,
            status=Status.available_for_pickup,
            location="渋谷営業所",
        )
    )
    _status(shop, session, Status.available_for_pickup)
    body = rendered(session, Trigger.available_for_pickup).body_text
    assert "渋谷営業所" in body and "12月1日(火)" in body


def test_delivered_writes_a_delivered_message(make_shop, session) -> None:
    shop = make_shop()
    _status(shop, session, Status.delivered)
    assert (
        rendered(session, Trigger.delivered).subject
        == f"商品をお届けしました(注文番号 {shop.order.number})"
    )


def test_english_customer_gets_english_wording(make_shop, session) -> None:
    shop = make_shop(locale="en")
    signals.shipment_created.send(
        shop.brand.id, session=session, shipment_id=shop.shipment.id, now=NOW
    )
    message = rendered(session, Trigger.shipped)
    session.refresh(shop.shipment)
    arriving = format_day(shop.shipment.predicted_date, "en")
    assert (
        message.locale == "en" and message.subject == f"Your order has shipped: arriving {arriving}"
    )
    assert message.body_text.startswith("Dear Hanako Yamada,")


def test_trigger_switched_off_by_the_brand_writes_nothing(make_shop, session) -> None:
    shop = make_shop()
    shop.configure(triggers={"shipped": {"enabled": False}})
    signals.shipment_created.send(
        shop.brand.id, session=session, shipment_id=shop.shipment.id, now=NOW
    )
    assert messages(session) == []


def test_brand_delay_and_channel_preference_apply(app, make_shop, session) -> None:
    app.config["LINE_CHANNEL_TOKEN"] = "line-token"
    shop = make_shop(line_user_id="U1234")
    shop.configure(triggers={"shipped": {"delay_minutes": 30, "channels": ["line", "email"]}})
    signals.shipment_created.send(
        shop.brand.id, session=session, shipment_id=shop.shipment.id, now=NOW
    )
    message = only(session, Trigger.shipped)
    assert message.channel == "line" and message.recipient == "U1234"
    assert message.due_at == NOW + timedelta(minutes=30)
    assert message.payload["fallback"] == ["email"]


def test_return_updates_write_one_message_per_state(make_shop, session) -> None:
    shop = make_shop()
    rma = ReturnRequest(
        brand_id=shop.brand.id, order_id=shop.order.id, rma_number="RMA-7", refund_amount=4980
    )
    session.add(rma)
    session.flush()
    for state in (ReturnState.requested, ReturnState.refunded):
        rma.state = state
        signals.return_updated.send(
            rma.id, session=session, brand_id=shop.brand.id, previous=None, current=state, now=NOW
        )
    rows = [show(session, row) for row in messages(session, Trigger.return_update)]
    assert [r.payload["context"]["return"]["state"] for r in rows] == ["requested", "refunded"]
    assert "4,980を返金しました" in rows[1].body_text


def test_return_update_links_to_the_return_status_page_signed(make_shop, session) -> None:
    shop = make_shop()
    rma = ReturnRequest(brand_id=shop.brand.id, order_id=shop.order.id, rma_number="RMA-8")
    session.add(rma)
    session.flush()
    signals.return_updated.send(
        rma.id,
        session=session,
        brand_id=shop.brand.id,
        previous=None,
        current=ReturnState.requested,
        now=NOW,
    )
    (row,) = [show(session, row) for row in messages(session, Trigger.return_update)]
    url = re.search(rf"\S*/{shop.brand.slug}/returns/r/(\S+)", row.body_text)
    assert url is not None, row.body_text
    assert return_from_token(current_settings().secret_key, url[1], shop.brand.id) == rma.id
    assert "/track/" not in row.body_text


def test_no_address_on_any_channel_is_logged_as_suppressed(make_shop, session) -> None:
    shop = make_shop(email=None, phone=None)
    signals.shipment_created.send(
        shop.brand.id, session=session, shipment_id=shop.shipment.id, now=NOW
    )
    message = only(session, Trigger.shipped)
    assert message.state == OutboxState.suppressed
    assert message.reason == {"why": "no_address", "args": {}}


def test_messages_roll_back_with_the_change_that_caused_them(app, make_shop, session) -> None:
    shop = make_shop()
    session.commit()
    shop.shipment.tracking_number = "CHANGED"
    signals.shipment_created.send(
        shop.brand.id, session=session, shipment_id=shop.shipment.id, now=NOW
    )
    session.rollback()
    assert messages(session) == [] and shop.shipment.tracking_number != "CHANGED"


def test_a_document_enqueued_twice_under_one_ref_is_reported_as_a_duplicate(session, brand) -> None:
    """The second call must answer None on both databases: callers build on that answer."""
    from postpurchase.messaging.triggers import enqueue_document
    from postpurchase.models import Brand

    owner = session.get(Brand, brand.brand_id)
    kwargs = {
        "session": session,
        "brand": owner,
        "trigger": "exchange.outbound",
        "ref": "rma-1",
        "url": "https://wms.example/hook",
        "document": {"rma": 1},
        "now": NOW,
    }
    assert enqueue_document(**kwargs) is not None
    assert enqueue_document(**kwargs) is None


def test_a_new_parcels_messages_are_written_without_looking_up_their_keys(
    app, make_shop, session
) -> None:
    """Nothing can refer to a parcel created in this unit of work: the key lookup is skipped, and
    the unique key still keeps a second send of the signal to one row."""
    from postpurchase.db import get_db
    from tests.sql import recorded

    shop = make_shop()
    with recorded(get_db(app).engine, starting="SELECT", containing="idempotency_key") as lookups:
        for _ in range(2):
            signals.shipment_created.send(
                shop.brand.id, session=session, shipment_id=shop.shipment.id, now=NOW
            )
    assert lookups == []
    assert len(messages(session, Trigger.shipped)) == 1
