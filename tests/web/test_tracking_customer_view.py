"""The tracking page and its JSON twin say one thing about a parcel (issue 13's contradictions)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from sqlmodel import select

from carriers.status import Handover
from postpurchase.db import get_db
from postpurchase.lookup import order_link_path
from postpurchase.models import Shipment
from tests.web.parcel_states import BRAND_SETTINGS, STATES, install_logo, seed_state


@pytest.fixture
def seeded(app: Any, make_brand: Any) -> Any:
    """``seeded(state, carrier=None)`` → (page path, API headers, our shipment id or None)."""
    brand = make_brand("acme", name="Acme Tea", settings=BRAND_SETTINGS)
    install_logo(app, "acme")

    def make(state: str, carrier: str | None = None) -> tuple[str, dict[str, str], int | None]:
        with app.app_context():
            session = get_db(app).session()
            order_id = seed_state(session, brand.brand_id, state)
            shipment = session.exec(select(Shipment).where(Shipment.order_id == order_id)).first()
            if shipment is not None and carrier:
                shipment.carrier_code = carrier
            session.commit()
            shipment_id = shipment.id if shipment else None
            session.close()
        path = order_link_path(app.config["SECRET_KEY"], "acme", brand.brand_id, order_id)
        return path, {"Authorization": f"Bearer {brand.api_key}"}, shipment_id

    return make


def _card(client: Any, path: str, lang: str = "ja") -> str:
    page = client.get(f"{path}?lang={lang}").get_data(as_text=True)
    return page[page.index('<section class="card parcel"') : page.index("</section>")]


def _customer(client: Any, headers: dict[str, str], shipment_id: int | None) -> dict[str, Any]:
    return client.get(f"/api/v1/shipments/{shipment_id}", headers=headers).get_json()["customer"]


def test_returned_parcel_shows_no_delivery_date(client, seeded) -> None:
    path, headers, shipment_id = seeded("returned")
    card = _card(client, path)
    assert "11月21日" not in card.split("配送履歴")[0]
    assert "お届け予定" not in card
    assert _customer(client, headers, shipment_id)["expected"] is None


def test_pickup_parcel_shows_store_not_hand_delivery_or_a_date(client, seeded) -> None:
    path, headers, shipment_id = seeded("at_pickup_point")
    card = _card(client, path)
    assert "対面受け取り" not in card and "お届け予定" not in card
    assert "渋谷区 ローソン 渋谷店" in card.split("配送履歴")[0]
    pickup = _customer(client, headers, shipment_id)["pickup"]
    assert pickup == {
        "place": "convenience_store",
        "location": "渋谷区 ローソン 渋谷店",
        "until": "2026-11-27",
        "address": None,
    }


def test_the_pickup_point_the_carrier_named_is_shown_with_its_deadline(app, client, seeded) -> None:
    _, headers, shipment_id = seeded("at_pickup_point")
    with app.app_context():
        session = get_db(app).session()
        shipment = session.get(Shipment, shipment_id)
        shipment.pickup_name, shipment.pickup_address = "ローソン 道玄坂店", "東京都渋谷区道玄坂1-1"
        shipment.pickup_deadline = date(2026, 11, 25)
        session.commit()
        session.close()
    assert _customer(client, headers, shipment_id)["pickup"] == {
        "place": "convenience_store",
        "location": "ローソン 道玄坂店",
        "until": "2026-11-25",
        "address": "東京都渋谷区道玄坂1-1",
    }


def test_a_stored_place_wins_over_the_scan_words(app, client, seeded) -> None:
    _, headers, shipment_id = seeded("delivered_door")
    with app.app_context():
        session = get_db(app).session()
        session.get(Shipment, shipment_id).delivered_to = Handover.locker
        session.commit()
        session.close()
    assert _customer(client, headers, shipment_id)["handover"] == "locker"


def test_failed_attempt_does_not_promise_leave_at_door(client, seeded) -> None:
    path, headers, shipment_id = seeded("attempt_failed")
    assert "置き配" not in _card(client, path)
    assert _customer(client, headers, shipment_id)["delivery_option"] is None


@pytest.mark.parametrize(
    ("state", "place", "words"),
    [
        ("delivered_box", "delivery_box", "宅配ボックス"),
        ("delivered_safe_place", "safe_place", "置き配"),
        ("delivered_door", "in_person", "対面でお渡し"),
    ],
)
def test_delivered_parcel_says_where_it_was_left(client, seeded, state, place, words) -> None:
    path, headers, shipment_id = seeded(state)
    assert f"お届け場所: {words}" in _card(client, path)
    assert _customer(client, headers, shipment_id)["handover"] == place


def test_late_parcel_states_the_new_date_and_the_original_one(client, seeded) -> None:
    path, headers, shipment_id = seeded("delayed")
    card = _card(client, path, "en")
    assert "Running late: now arriving Mon, Nov 23" in card
    assert "Originally expected Sat, Nov 21." in card
    assert _customer(client, headers, shipment_id)["delay"] == {
        "promised": "2026-11-21",
        "new_date": "2026-11-23",
    }


def test_yamato_change_link_opens_this_parcels_page(client, seeded) -> None:
    path, _, _ = seeded("in_transit")
    assert "parcel/detail?pno=123456789012" in _card(client, path)


def test_a_carrier_form_without_the_number_comes_with_the_number_to_enter(client, seeded) -> None:
    path, headers, shipment_id = seeded("attempt_failed", carrier="japanpost")
    card = _card(client, path)
    assert "再配達を依頼する" in card
    assert "伝票番号 123456789012 を入力してください" in card
    action = _customer(client, headers, shipment_id)["action"]
    assert action["kind"] == "redeliver" and action["carries_number"] is False


def test_sagawa_redelivery_shows_the_number_as_text_to_copy(client, seeded) -> None:
    path, _, _ = seeded("attempt_failed", carrier="sagawa")
    card = _card(client, path)
    assert '<span class="number" id="number-1">123456789012</span>' in card
    assert 'data-copy="number-1"' in card


def test_a_link_that_carries_the_number_needs_no_number_to_copy(client, seeded) -> None:
    path, _, _ = seeded("attempt_failed")
    assert 'class="copy-number"' not in _card(client, path)


def test_delivered_order_offers_care_returns_and_feedback(client, seeded) -> None:
    path, _, _ = seeded("delivered_door")
    page = client.get(f"{path}?lang=en").get_data(as_text=True)
    assert "How to brew" in page
    assert re.search(r'href="/acme/returns/order/[\w.-]+"', page)
    assert re.search(r'href="/acme/feedback/[\w.-]+"', page)


def test_parcel_on_its_way_offers_no_returns_yet(client, seeded) -> None:
    path, _, _ = seeded("in_transit")
    assert "/acme/returns/order/" not in client.get(f"{path}?lang=en").get_data(as_text=True)


def test_brand_header_has_logo_and_links(client, seeded) -> None:
    path, _, _ = seeded("in_transit")
    page = client.get(f"{path}?lang=en").get_data(as_text=True)
    assert 'alt="Acme Tea"' in page
    for url in ("https://shop.acme.example/", "/contact", "/faq"):
        assert url in page


@pytest.mark.parametrize("state", [s for s, spec in STATES.items() if spec is not None])
def test_page_and_json_twin_agree_on_the_stage(client, seeded, state) -> None:
    path, headers, shipment_id = seeded(state)
    stage = re.search(r'data-stage="(\w+)"', _card(client, path)).group(1)  # type: ignore[union-attr]
    assert _customer(client, headers, shipment_id)["stage"] == stage


def test_parcel_contents_show_the_items_pictures(client, seeded) -> None:
    path, _, _ = seeded("in_transit")
    assert '<img src="data:image/svg+xml' in _card(client, path)


def test_customs_hold_explains_the_wait_and_the_duties_a_ddu_order_will_owe(client, seeded) -> None:
    path, headers, shipment_id = seeded("at_customs")
    card = _card(client, path, "en")
    assert "Customs in the destination country is checking your parcel" in card
    assert "the carrier will ask you to pay them before or on delivery" in card
    customs = _customer(client, headers, shipment_id)["customs"]
    assert customs == {"held": True, "duties_due": False, "terms": "ddu"}


def test_duties_due_links_to_the_carriers_page_to_pay(client, seeded) -> None:
    path, headers, shipment_id = seeded("duties_due")
    card = _card(client, path)
    assert "下のボタンから配送業者のページでお支払いください" in card
    assert "配送業者のページで関税を支払う" in card
    action = _customer(client, headers, shipment_id)["action"]
    assert action["kind"] == "pay_duties" and "123456789012" in action["url"]


def test_domestic_parcel_says_nothing_about_customs(client, seeded) -> None:
    path, headers, shipment_id = seeded("in_transit")
    assert "税関" not in _card(client, path)
    assert _customer(client, headers, shipment_id)["customs"] is None
