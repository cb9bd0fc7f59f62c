"""Unboxing kitting: which kits an order gets, and the signed instructions the WMS receives once."""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest
from flask import Flask
from sqlmodel import select

from postpurchase.db import get_db
from postpurchase.intake.openapi import openapi_document
from postpurchase.kitting import KittingWebhook, OrderFacts, decide
from postpurchase.messaging.channels.webhook import signature
from postpurchase.messaging.outbox import send_due
from postpurchase.messaging.segments import Profile
from postpurchase.models import Brand, OrderKit, OutboxMessage, OutboxState, Shipment
from postpurchase.models.enums import Trigger
from postpurchase.settings.model import KitRule, SettingsInvalid, validate
from tests.intake.intake_helpers import example, process
from tests.settings.conftest import sign_in

SECRET = "whsec_kitting_test"


def _profile(*, orders: int = 1, categories: tuple[str, ...] = ("tea",), tier: str | None = None):
    return Profile(
        order_count=orders,
        lifetime_spend=5000 * orders,
        region="東京都",
        categories=frozenset(categories),
        channel="online",
        vip_tier=tier,
        language="ja",
        past_return=False,
        past_exception=False,
    )


def _facts(gift: bool = False, name: str | None = "山田 花子", locale: str = "ja", **profile):
    return OrderFacts(profile=_profile(**profile), gift=gift, name=name, locale=locale)


WELCOME = KitRule(
    name="welcome",
    first_order=True,
    inserts=["LEAFLET-BREW"],
    samples=["TEA-HOJI-5"],
    card={"ja": "{name}、はじめてのご注文ありがとうございます。", "en": "Welcome, {name}!"},
)
GIFT = KitRule(name="gift", gift=True, gift_wrap="noshi", card={"ja": "心ばかりの品です。"})
VIP = KitRule(name="vip", segments=["gold"], samples=["TEA-GYOKURO-5", "TEA-HOJI-5"])
CUPS = KitRule(name="cups", categories=["Ceramics"], inserts=["CARE-CARD-CERAMIC"])
SEGMENTS = [{"name": "gold", "when": {"vip_tier": "gold"}}]


def test_a_first_order_gets_the_welcome_kit_and_a_repeat_order_does_not() -> None:
    assert decide([WELCOME], [], _facts(orders=1)).kits == ("welcome",)
    assert decide([WELCOME], [], _facts(orders=2)).kits == ()


def test_the_card_names_the_customer_with_an_honorific_in_their_language() -> None:
    card = decide([WELCOME], [], _facts(locale="en", name="Hanako Yamada")).card
    assert card is not None and card.text == "Welcome, Hanako Yamada!"
    card = decide([WELCOME], [], _facts(locale="ja")).card
    assert card is not None and card.text == "山田 花子 様、はじめてのご注文ありがとうございます。"
    assert card.template == WELCOME.card["ja"]


def test_a_gift_card_never_names_the_buyer() -> None:
    card = decide([WELCOME], [], _facts(gift=True)).card
    assert card is not None and card.text == "お客様、はじめてのご注文ありがとうございます。"


def test_a_rule_that_may_not_use_the_name_says_customer() -> None:
    rule = WELCOME.model_copy(update={"use_name": False})
    card = decide([rule], [], _facts(locale="en")).card
    assert card is not None and card.text == "Welcome, customer!"


def test_only_gift_orders_get_the_gift_kit() -> None:
    assert decide([GIFT], [], _facts(gift=True)).gift_wrap == "noshi"
    assert decide([GIFT], [], _facts(gift=False)).kits == ()


def test_a_segment_kit_follows_the_messaging_segment_rule() -> None:
    assert decide([VIP], SEGMENTS, _facts(tier="gold")).kits == ("vip",)
    assert decide([VIP], SEGMENTS, _facts(tier="silver")).kits == ()
    assert decide([VIP], [], _facts(tier="gold")).kits == ()  # an unknown segment never holds


def test_a_category_kit_matches_any_line_of_that_category_regardless_of_case() -> None:
    assert decide([CUPS], [], _facts(categories=("tea", "ceramics"))).kits == ("cups",)
    assert decide([CUPS], [], _facts(categories=("tea",))).kits == ()


def test_matching_kits_add_up_and_the_first_card_and_wrap_win() -> None:
    rules = [WELCOME, GIFT, VIP, CUPS]
    decided = decide(rules, SEGMENTS, _facts(gift=True, tier="gold", categories=("ceramics",)))
    assert decided.kits == ("welcome", "gift", "vip", "cups")
    assert decided.inserts == ("LEAFLET-BREW", "CARE-CARD-CERAMIC")
    assert decided.samples == ("TEA-HOJI-5", "TEA-GYOKURO-5")
    assert decided.gift_wrap == "noshi"
    assert decided.card is not None and decided.card.template == WELCOME.card["ja"]


def test_a_kit_without_a_name_is_refused_naming_the_field() -> None:
    with pytest.raises(SettingsInvalid) as caught:
        validate({"kitting": {"rules": [{"inserts": ["X"]}]}})
    assert caught.value.errors[0]["loc"] == "kitting.rules[0].name"


# End to end: order.created → outbox → the WMS -------------------------------------------------


class _Wms(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes, int]]] = []
    #: Status codes to answer with, in turn; 204 once they run out.
    answers: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = type(self).answers.pop(0) if type(self).answers else 204
        type(self).received.append((dict(self.headers), body, status))
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def wms() -> Iterator[str]:
    _Wms.received, _Wms.answers = [], []
    server = HTTPServer(("127.0.0.1", 0), _Wms)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/kitting"
    server.shutdown()
    server.server_close()


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "WEBHOOK_SECRET": SECRET}


def _configure(app: Flask, brand_id: int, url: str | None, rules: list[KitRule]) -> None:
    with app.app_context(), get_db(app).session() as s:
        row = s.get(Brand, brand_id)
        assert row is not None
        row.settings = {
            "kitting": {
                "rules": [r.model_dump(mode="json", exclude_defaults=True) for r in rules],
                **({"webhook_url": url} if url else {}),
            }
        }
        s.commit()


def _rows(app: Flask, model: Any) -> list[Any]:
    with app.app_context(), get_db(app).session() as s:
        return list(s.exec(select(model)))


def _delivered(status: int = 204) -> list[tuple[dict[str, str], bytes, int]]:
    return [r for r in _Wms.received if r[2] == status]


def test_instructions_reach_the_wms_signed_once_even_after_a_500(
    app, brand, post_event, wms, clock
) -> None:
    _configure(app, brand.brand_id, wms, [WELCOME])
    _Wms.answers = [500]
    assert post_event(example("order.created")).status_code == 202
    process(app)
    send_due(app)
    clock.advance(hours=1)
    send_due(app)
    clock.advance(hours=1)
    send_due(app)
    assert [r[2] for r in _Wms.received] == [500, 204]
    ((headers, body, _),) = _delivered()
    timestamp = int(headers["X-Postpurchase-Signature"].split(",")[0][2:])
    assert headers["X-Postpurchase-Signature"] == signature(SECRET, body, timestamp)
    document = KittingWebhook.model_validate_json(body)
    assert headers["Idempotency-Key"] == document.id
    assert _Wms.received[0][0]["Idempotency-Key"] == document.id  # a retry is the same delivery
    assert (document.type, document.data.order_id, document.data.kits) == (
        "order.kitting_instructions",
        "SO-2026-10234",
        ["welcome"],
    )
    assert document.data.card is not None
    assert document.data.card.text == "山田 花子 様、はじめてのご注文ありがとうございます。"


def test_a_repeated_order_created_sends_no_second_instructions(
    app, brand, post_event, wms, clock
) -> None:
    _configure(app, brand.brand_id, wms, [WELCOME])
    post_event(example("order.created"))
    process(app)
    send_due(app)
    again = example("order.created")
    again["id"] = "evt_another_delivery_of_the_same_order"
    post_event(again)
    process(app)
    clock.advance(hours=1)
    send_due(app)
    assert len(_delivered()) == 1
    assert len(_rows(app, OrderKit)) == 1
    messages = [m for m in _rows(app, OutboxMessage) if m.trigger == Trigger.kitting]
    assert [m.state for m in messages] == [OutboxState.sent]


def test_an_order_without_a_matching_kit_is_recorded_and_not_sent(
    app, brand, post_event, wms
) -> None:
    _configure(app, brand.brand_id, wms, [GIFT])
    post_event(example("order.created"))
    process(app)
    send_due(app)
    assert _Wms.received == []
    (kit,) = _rows(app, OrderKit)
    assert (kit.kits, kit.message_key) == ([], None)


def test_the_returns_wms_url_is_used_when_kitting_has_none(app, brand, post_event, wms) -> None:
    _configure(app, brand.brand_id, None, [WELCOME])
    with app.app_context(), get_db(app).session() as s:
        row = s.get(Brand, brand.brand_id)
        assert row is not None
        row.settings = {**row.settings, "returns": {"wms_webhook_url": wms}}
        s.commit()
    post_event(example("order.created"))
    process(app)
    send_due(app)
    assert len(_delivered()) == 1


def test_an_imported_old_order_gets_no_kit(app, brand, post_event, wms, clock) -> None:
    _configure(app, brand.brand_id, wms, [WELCOME])
    clock.advance(days=30)
    post_event(example("order.created"))
    process(app)
    send_due(app)
    assert (_Wms.received, _rows(app, OrderKit)) == ([], [])


def test_the_openapi_document_describes_the_kitting_webhook(app) -> None:
    document = openapi_document(app)
    body = document["webhooks"]["order.kitting_instructions"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/KittingWebhook"
    }
    assert "KittingData" in document["components"]["schemas"]


def test_instructions_are_sent_in_the_customers_quiet_hours(
    app, brand, post_event, wms, clock
) -> None:
    """A warehouse is not a customer: the instructions leave at once, at night too."""
    _configure(app, brand.brand_id, wms, [WELCOME])
    clock.now = clock.now.replace(hour=14)  # 23:00 in Tokyo
    post_event(example("order.created", placed_at=clock.now.isoformat()))
    process(app)
    send_due(app)
    assert len(_delivered()) == 1


# The console ------------------------------------------------------------------------------------


def _detail_page(app: Flask, brand: Any, post_event: Any) -> str:
    post_event(example("order.created"))
    post_event(example("shipment.created"))
    process(app)
    shipment = _rows(app, Shipment)[0]  # the example ships in two parcels
    merchant = sign_in(app, brand)
    return merchant.client.get(
        f"/merchant/shipments/{shipment.id}", headers={"Accept-Language": "en"}
    ).get_data(as_text=True)


def test_the_shipment_page_shows_the_kit_and_that_the_wms_got_it(
    app, brand, post_event, wms
) -> None:
    _configure(app, brand.brand_id, wms, [WELCOME])
    post_event(example("order.created"))
    process(app)
    send_due(app)
    page = _detail_page(app, brand, post_event)
    assert "Unboxing kit" in page and "LEAFLET-BREW" in page and "TEA-HOJI-5" in page
    assert 'data-kit-state="sent"' in page
    # The brand's words: the name is only in what was sent (the kept kit has no personal data).
    assert "[the customer's name]、はじめてのご注文" in html.unescape(page)


def test_the_shipment_page_says_when_no_wms_url_was_set(app, brand, post_event) -> None:
    _configure(app, brand.brand_id, None, [WELCOME])
    page = _detail_page(app, brand, post_event)
    assert 'data-kit-state="none"' in page
    assert "no WMS webhook URL" in page
