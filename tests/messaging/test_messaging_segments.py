"""Segment rules choose variants and blocks; recommendations respect stock and the customer's history."""

from __future__ import annotations

from datetime import timedelta

from carriers.status import Status
from postpurchase import signals
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.outbox import send_due
from postpurchase.messaging.segments import Profile, choose_segment
from postpurchase.models import InventoryLevel, ReturnLine, ReturnRequest
from postpurchase.personas.operations import left_out_counts
from postpurchase.recommendations import OUT_OF_STOCK
from tests.messaging.conftest import NOW
from tests.messaging.helpers import only, rendered


def _profile(**changes) -> Profile:
    values = {
        "order_count": 1,
        "lifetime_spend": 5000,
        "region": "東京都",
        "categories": frozenset({"coffee"}),
        "channel": "online",
        "vip_tier": None,
        "language": "ja",
        "past_return": False,
        "past_exception": False,
    }
    return Profile(**{**values, **changes})


RULES = [
    {
        "name": "vip",
        "when": {"vip_tier": ["gold"], "min_lifetime_spend": 50000},
        "variant": "vip",
        "blocks": ["vip_thanks"],
    },
    {
        "name": "welcome",
        "when": {"first_order": True},
        "variant": "welcome",
        "blocks": ["first_tips"],
    },
    {"name": "sorry", "when": {"past_exception": True}, "blocks": ["apology"]},
    {
        "name": "okinawa",
        "when": {"region": ["沖縄県"]},
        "blocks": ["island_shipping"],
        "triggers": ["shipped"],
    },
]


def test_first_order_gets_the_welcome_variant() -> None:
    segment = choose_segment(RULES, _profile(), Trigger.delivered)
    assert (segment.variant, segment.blocks) == ("welcome", ("first_tips",))


def test_vip_rule_needs_tier_and_spend_and_wins_the_variant() -> None:
    rich = _profile(order_count=12, vip_tier="gold", lifetime_spend=80000, past_exception=True)
    assert choose_segment(RULES, rich, Trigger.delivered).variant == "vip"
    assert choose_segment(RULES, rich, Trigger.delivered).blocks == ("vip_thanks", "apology")
    assert (
        choose_segment(RULES, _profile(order_count=12, vip_tier="gold"), Trigger.delivered).variant
        is None
    )


def test_rule_limited_to_a_trigger_applies_only_there() -> None:
    islander = _profile(order_count=3, region="沖縄県")
    assert choose_segment(RULES, islander, Trigger.shipped).blocks == ("island_shipping",)
    assert choose_segment(RULES, islander, Trigger.delivered).blocks == ()


def test_unknown_condition_never_matches() -> None:
    assert (
        choose_segment(
            [{"when": {"vip_teir": "gold"}, "blocks": ["x"]}], _profile(), Trigger.shipped
        ).blocks
        == ()
    )


def test_repeat_customer_with_past_exception_gets_the_brands_block_text(make_shop, session) -> None:
    first = make_shop()
    first.shipment.status = Status.attempt_fail
    second = make_shop(customer=first.customer)
    second.configure(
        rules=RULES, blocks={"apology": {"ja": "前回のお届けではご迷惑をおかけしました。"}}
    )
    signals.shipment_created.send(
        second.brand.id, session=session, shipment_id=second.shipment.id, now=NOW
    )
    message = rendered(session, Trigger.shipped)
    assert "前回のお届けではご迷惑をおかけしました。" in message.body_text
    assert message.payload["rules"] == ["sorry"]


def test_brand_template_variant_is_used_when_it_exists(app, make_shop, session, tmp_path) -> None:
    folder = tmp_path / "instance" / "templates" / "emails" / "acme" / "ja"
    folder.mkdir(parents=True)
    (folder / "delivered.welcome.subject.txt").write_text("はじめてのご注文、届きました")
    shop = make_shop()
    shop.configure(rules=RULES)
    shop.shipment.status = Status.delivered
    signals.shipment_status_changed.send(
        shop.shipment.id,
        session=session,
        brand_id=shop.brand.id,
        previous=Status.in_transit,
        current=Status.delivered,
        occurred_at=NOW,
        now=NOW,
    )
    assert rendered(session, Trigger.delivered).subject == "はじめてのご注文、届きました"


CATALOG = [
    {"sku": "FILTER-1", "name": "ペーパーフィルター", "accessory_for": ["KETTLE-1"]},
    {
        "sku": "TEE",
        "name": "ロゴTシャツ",
        "categories": ["coffee"],
        "variants": {"S": "TEE-S", "M": "TEE-M", "L": "TEE-L"},
        "size_category": "apparel",
    },
    {"sku": "KETTLE-1", "name": "ドリップケトル", "categories": ["coffee"]},
    {"sku": "SCALE-1", "name": "スケール", "categories": ["coffee"]},
]


def _stock(session, brand_id, **levels) -> None:
    for key, available in levels.items():
        session.add(
            InventoryLevel(
                brand_id=brand_id, sku=key.replace("_", "-"), fc_code="TKY", available=available
            )
        )


def _recommended(session, shop) -> list[str]:
    shop.shipment.status = Status.delivered
    signals.shipment_status_changed.send(
        shop.shipment.id,
        session=session,
        brand_id=shop.brand.id,
        previous=Status.in_transit,
        current=Status.delivered,
        occurred_at=NOW,
        now=NOW,
    )
    context = rendered(session, Trigger.delivered).payload["context"]
    return [f"{r['sku']}:{r['variant']}" for r in context["recommendations"]]


def test_recommendations_skip_out_of_stock_and_products_already_bought(make_shop, session) -> None:
    shop = make_shop()
    shop.configure(catalog=CATALOG)
    _stock(session, shop.brand.id, FILTER_1=5, KETTLE_1=9, SCALE_1=0)
    assert _recommended(session, shop) == ["FILTER-1:None"]


def test_recommended_size_is_the_customers_size_and_only_if_in_stock(make_shop, session) -> None:
    earlier = make_shop(
        lines=[{"sku": "HOODIE", "name": "パーカー", "category": "apparel", "variant": "M"}]
    )
    shop = make_shop(customer=earlier.customer)
    shop.configure(catalog=CATALOG)
    _stock(session, shop.brand.id, TEE_S=3, TEE_L=3, FILTER_1=1)
    assert _recommended(session, shop) == ["FILTER-1:None"]  # no M in stock: no T-shirt at all


def test_no_accessory_for_a_product_the_customer_returned(make_shop, session) -> None:
    earlier = make_shop()
    rma = ReturnRequest(brand_id=earlier.brand.id, order_id=earlier.order.id, rma_number="RMA-1")
    session.add(rma)
    session.flush()
    session.add(ReturnLine(brand_id=earlier.brand.id, return_id=rma.id, sku="KETTLE-1"))
    shop = make_shop(
        customer=earlier.customer,
        lines=[{"sku": "KETTLE-1", "name": "ケトル", "category": "coffee"}],
    )
    shop.configure(catalog=CATALOG)
    _stock(session, shop.brand.id, FILTER_1=5, SCALE_1=2)
    assert _recommended(session, shop) == ["SCALE-1:None"]


def test_recommended_size_in_stock_is_offered(make_shop, session) -> None:
    earlier = make_shop(
        lines=[{"sku": "HOODIE", "name": "パーカー", "category": "apparel", "variant": "M"}]
    )
    shop = make_shop(customer=earlier.customer)
    shop.configure(catalog=CATALOG)
    _stock(session, shop.brand.id, TEE_M=2, TEE_S=3)
    assert "TEE-M:M" in _recommended(session, shop)


def test_the_sender_applies_the_rules_from_the_customers_whole_history(
    app, make_shop, session, inbox
) -> None:
    first = make_shop()
    first.shipment.status = Status.attempt_fail
    second = make_shop(customer=first.customer)
    second.configure(
        rules=RULES, blocks={"apology": {"ja": "前回のお届けではご迷惑をおかけしました。"}}
    )
    signals.shipment_created.send(
        second.brand.id, session=session, shipment_id=second.shipment.id, now=NOW
    )
    session.commit()
    send_due(app, now=NOW)
    [email] = inbox.messages
    assert "前回のお届けではご迷惑をおかけしました。" in email.get_body(("plain",)).get_content()
    assert only(session, Trigger.shipped).payload["rules"] == ["sorry"]


def test_recommendations_held_back_are_counted_per_trigger_when_the_message_is_sent(
    app, make_shop, session, inbox
) -> None:
    earlier = make_shop(
        lines=[{"sku": "HOODIE", "name": "パーカー", "category": "apparel", "variant": "M"}]
    )
    shop = make_shop(customer=earlier.customer)
    shop.configure(catalog=CATALOG)
    _stock(session, shop.brand.id, TEE_S=3, FILTER_1=1, SCALE_1=0)
    assert _recommended(session, shop) == ["FILTER-1:None"]
    assert left_out_counts(session=session, brand_id=shop.brand.id) == []  # nothing sent yet
    session.commit()
    send_due(app, now=NOW + timedelta(days=1))
    assert inbox.messages
    assert left_out_counts(session=session, brand_id=shop.brand.id) == [
        ("delivered", OUT_OF_STOCK, 2)  # the T-shirt in M and the scale
    ]
