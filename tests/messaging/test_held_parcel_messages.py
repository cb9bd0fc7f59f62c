"""After a missed attempt (不在) or while the carrier holds the parcel (保管中), messages offer the next
slots the carrier can still make, the way to ask for one, and the pickup point with its address and
deadline."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from carriers.status import Status
from postpurchase import signals
from postpurchase.messaging.catalogue import Trigger
from postpurchase.models import Brand, TrackingEvent
from tests.messaging.flex_schema import problems
from tests.messaging.helpers import rendered

# Tuesday 2026-11-24, 16:30 in Tokyo: the 18–20 cut-off (16:00) has passed, 19–21's (17:00) not.
AFTERNOON = datetime(2026, 11, 24, 7, 30, tzinfo=UTC)
LINE_USER = "U" + "4" * 32


def _status(shop, session, current: Status) -> None:
    shop.shipment.status = current
    session.add(shop.shipment)
    signals.shipment_status_changed.send(
        shop.shipment.id,
        session=session,
        brand_id=shop.brand.id,
        previous=Status.out_for_delivery,
        current=current,
        occurred_at=AFTERNOON,
        now=AFTERNOON,
    )


def _waiting(shop, session, location: str) -> None:
    """The pickup scan (保管中) the carrier's answer brought."""
    session.add(
        TrackingEvent(
            brand_id=shop.brand.id,
            shipment_id=shop.shipment.id,
            occurred_at=AFTERNOON,
            status=Status.available_for_pickup,
            description="保管中",
            location=location,
        )
    )


def _held_at_depot(make_shop, session, **fields):
    shop = make_shop(
        carrier_code="yamato",
        sub_status="depot",
        pickup_name="渋谷営業所",
        pickup_address="東京都渋谷区道玄坂1-2-3",
        pickup_deadline=date(2026, 11, 30),
        **fields,
    )
    _waiting(shop, session, "渋谷営業所")
    return shop


def test_failed_attempt_email_lists_the_next_slots_the_carrier_can_still_make(
    make_shop, session, clock
) -> None:
    clock.now = AFTERNOON
    shop = make_shop(carrier_code="yamato")
    _status(shop, session, Status.attempt_fail)
    message = rendered(session, Trigger.attempt_fail)
    offered = [line for line in message.body_text.splitlines() if line.startswith("・")]
    assert offered == [
        "・11月24日(火) 19時〜21時",
        "・11月25日(水) 午前中",
        "・11月25日(水) 14時〜16時",
    ]
    assert "11月24日(火) 19時〜21時" in (message.body_html or "")


def test_failed_attempt_email_in_english_lists_the_slots_in_english(
    make_shop, session, clock
) -> None:
    clock.now = AFTERNOON
    shop = make_shop(carrier_code="yamato", locale="en")
    _status(shop, session, Status.attempt_fail)
    body = rendered(session, Trigger.attempt_fail).body_text
    assert "- Tue, Nov 24, 19:00–21:00" in body
    assert "- Wed, Nov 25, morning (8:00–12:00)" in body


def test_failed_attempt_email_gives_the_parcels_own_redelivery_link(
    make_shop, session, clock
) -> None:
    clock.now = AFTERNOON
    shop = make_shop(carrier_code="yamato")
    _status(shop, session, Status.attempt_fail)
    body = rendered(session, Trigger.attempt_fail).body_text
    assert f"pno={shop.shipment.tracking_number}" in body
    assert "を入力してください" not in body


def test_failed_attempt_with_a_generic_redelivery_form_says_which_number_to_enter(
    make_shop, session, clock
) -> None:
    clock.now = AFTERNOON
    shop = make_shop(carrier_code="sagawa")
    _status(shop, session, Status.attempt_fail)
    body = rendered(session, Trigger.attempt_fail).body_text
    assert f"伝票番号 {shop.shipment.tracking_number} を入力してください" in body
    assert "・11月24日(火) 19時〜21時" in body


def test_a_carrier_without_slots_offers_none(make_shop, session, clock) -> None:
    clock.now = AFTERNOON
    shop = make_shop()  # testpost has no slot grid
    _status(shop, session, Status.attempt_fail)
    assert "次にお届けできる日時" not in rendered(session, Trigger.attempt_fail).body_text


def test_slots_follow_the_brands_own_cutoffs(make_shop, session, clock) -> None:
    clock.now = AFTERNOON
    shop = make_shop(carrier_code="yamato")
    brand = session.get(Brand, shop.brand.id)
    brand.settings = {**brand.settings, "edd": {"slot_cutoffs": {"19-21": "16:00"}}}
    session.add(brand)
    _status(shop, session, Status.attempt_fail)
    body = rendered(session, Trigger.attempt_fail).body_text
    assert "・11月24日(火)" not in body
    assert "・11月25日(水) 午前中" in body


def test_parcel_held_at_the_depot_gives_the_pickup_address_and_deadline(
    make_shop, session, clock
) -> None:
    clock.now = AFTERNOON
    shop = _held_at_depot(make_shop, session)
    _status(shop, session, Status.available_for_pickup)
    message = rendered(session, Trigger.available_for_pickup)
    assert "受け取り場所: 渋谷営業所" in message.body_text
    assert "住所: 東京都渋谷区道玄坂1-2-3" in message.body_text
    assert "お預かり期限: 11月30日(月)" in message.body_text
    assert "東京都渋谷区道玄坂1-2-3" in (message.body_html or "")


def test_parcel_held_at_the_depot_also_offers_a_redelivery_slot(make_shop, session, clock) -> None:
    clock.now = AFTERNOON
    shop = _held_at_depot(make_shop, session)
    _status(shop, session, Status.available_for_pickup)
    body = rendered(session, Trigger.available_for_pickup).body_text
    assert "・11月24日(火) 19時〜21時" in body
    assert f"pno={shop.shipment.tracking_number}" in body


def test_parcel_waiting_at_a_convenience_store_offers_no_redelivery(
    make_shop, session, clock
) -> None:
    clock.now = AFTERNOON
    shop = make_shop(carrier_code="yamato", sub_status="store", pickup_name="ローソン渋谷店")
    _waiting(shop, session, "ローソン渋谷店")
    _status(shop, session, Status.available_for_pickup)
    body = rendered(session, Trigger.available_for_pickup).body_text
    assert "ローソン渋谷店" in body and "次にお届けできる日時" not in body


def test_line_flex_after_a_missed_attempt_shows_the_next_slots(app, make_shop, session, clock):
    app.config["LINE_CHANNEL_TOKEN"] = "token"
    clock.now = AFTERNOON
    shop = make_shop(carrier_code="yamato", line_user_id=LINE_USER)
    _status(shop, session, Status.attempt_fail)
    message = rendered(session, Trigger.attempt_fail)
    assert message.channel == "line"
    flex = message.payload["line_flex"]
    shown = json.dumps(flex, ensure_ascii=False)
    assert "次にお届けできる日時" in shown
    assert "11月24日(火) 19時〜21時\\n11月25日(水) 午前中" in shown
    buttons = [b["action"]["uri"] for b in flex["contents"]["footer"]["contents"]]
    assert any(f"pno={shop.shipment.tracking_number}" in uri for uri in buttons)
    assert problems(flex) == []


def test_line_flex_for_a_parcel_held_at_the_depot_shows_the_pickup_point(
    app, make_shop, session, clock
) -> None:
    app.config["LINE_CHANNEL_TOKEN"] = "token"
    clock.now = AFTERNOON
    shop = _held_at_depot(make_shop, session, line_user_id=LINE_USER, locale="en")
    brand = session.get(Brand, shop.brand.id)
    messaging = {
        **brand.settings["messaging"],
        "triggers": {"available_for_pickup": {"channels": ["line", "email"]}},
    }
    brand.settings = {**brand.settings, "messaging": messaging}
    session.add(brand)
    _status(shop, session, Status.available_for_pickup)
    flex = rendered(session, Trigger.available_for_pickup).payload["line_flex"]
    shown = json.dumps(flex, ensure_ascii=False)
    for text in ("Pickup point", "渋谷営業所", "東京都渋谷区道玄坂1-2-3", "Held until", "Nov 30"):
        assert text in shown
    assert "Next delivery times" in shown and "19:00–21:00" in shown
    assert problems(flex) == []


def test_failed_attempt_names_no_pickup_point_the_carrier_did_not_offer(
    make_shop, session, clock
) -> None:
    clock.now = AFTERNOON
    shop = make_shop(carrier_code="yamato")
    session.add(
        TrackingEvent(
            brand_id=shop.brand.id,
            shipment_id=shop.shipment.id,
            occurred_at=AFTERNOON,
            status=Status.attempt_fail,
            description="ご不在のため持ち戻りました",
            location="渋谷営業所",
        )
    )
    _status(shop, session, Status.attempt_fail)
    assert "お客様ご自身でのお受け取り" not in rendered(session, Trigger.attempt_fail).body_text
