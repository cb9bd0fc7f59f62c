"""The policy engine's rules, each read from the brand's typed ``returns`` settings: windows per
category and per customer tier, final-sale/hygiene/food categories, reasons per category with their
follow-up questions, limits per customer, and the money and label knobs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session

from postpurchase.models import Brand, Customer, Order, ReturnRequest, ReturnResolution
from postpurchase.models.enums import LabelPayment, ReturnState
from postpurchase.returns.money import Fee, KeepReason, ReturnedItem, preview, rules_from
from postpurchase.returns.operations import ReturnError, WantedLine, create_return, money_rules
from postpurchase.returns.policy import NotReturnable, ReturnPolicy, order_eligibility, policy_for
from postpurchase.settings.model import ReturnsPart, SettingsInvalid, stored, validate
from tests.returns.conftest import later


def _brand(**returns: Any) -> Brand:
    return Brand(slug="x", name="X", signing_secret="s", settings={"returns": returns})


def _eligibility(session: Session, shop: Any, days: float = 1):
    return order_eligibility(
        session=session,
        policy=policy_for(session.get(Brand, shop.brand_id)),
        order=session.get(Order, shop.order_id),
        now=later(days),
    )


def _give_customer(session: Session, shop: Any, **attributes: Any) -> int:
    customer = Customer(brand_id=shop.brand_id, external_id="c-1", attributes=attributes)
    session.add(customer)
    session.flush()
    order = session.get(Order, shop.order_id)
    order.customer_id = customer.id
    session.add(order)
    session.commit()
    return customer.id


def _past_return(session: Session, shop: Any, *, days_ago: float, state: ReturnState) -> None:
    session.add(
        ReturnRequest(
            brand_id=shop.brand_id,
            order_id=shop.order_id,
            state=state,
            resolution=ReturnResolution.refund,
            rma_number=f"R-OLD-{days_ago}-{state}",
            currency="JPY",
            created_at=later(1) - timedelta(days=days_ago),
            updated_at=later(1) - timedelta(days=days_ago),
        )
    )
    session.commit()


# Categories -------------------------------------------------------------------------------------


def test_food_is_not_returnable_by_default(session, shop) -> None:
    assert _eligibility(session, shop).line(shop.food).why_not == NotReturnable.food


def test_food_allowed_by_the_brand_comes_back_only_for_the_shops_faults(
    session, shop, set_policy
) -> None:
    set_policy(shop.brand_id, food_returnable=True)
    line = _eligibility(session, shop).line(shop.food)
    assert line.why_not is None
    assert set(line.reasons) == {"damaged", "wrong_item"}


def test_hygiene_items_offer_only_the_shops_faults_as_reasons() -> None:
    policy = policy_for(_brand(categories=[{"category": "skincare", "hygiene": True}]))
    assert policy.reasons_for("Skincare") == ("damaged", "wrong_item")


def test_size_reasons_are_offered_for_clothing_only() -> None:
    policy = policy_for(_brand())
    assert "size_too_small" in policy.reasons_for("apparel")
    for other in ("skincare", "tea", None):
        assert "size_too_small" not in policy.reasons_for(other)
        assert "size_too_large" not in policy.reasons_for(other)


def test_a_category_offers_its_own_reasons_in_its_order_and_only_known_ones() -> None:
    policy = policy_for(
        _brand(categories=[{"category": "shoes", "reasons": ["other", "nonsense", "damaged"]}])
    )
    assert policy.reasons_for("shoes") == ("other", "damaged")


def test_a_category_window_replaces_the_brand_window(session, shop, set_policy) -> None:
    set_policy(shop.brand_id, categories=[{"category": "apparel", "window_days": 7}])
    assert _eligibility(session, shop, days=6).line(shop.tee).why_not is None
    assert _eligibility(session, shop, days=7.5).line(shop.tee).why_not == (
        NotReturnable.window_closed
    )
    # Other lines keep the brand's 30 days.
    assert _eligibility(session, shop, days=7.5).line(shop.sale).why_not == NotReturnable.final_sale


def test_a_category_marked_final_sale_refuses_its_lines(session, shop, set_policy) -> None:
    set_policy(shop.brand_id, categories=[{"category": "apparel", "final_sale": True}])
    assert _eligibility(session, shop).line(shop.tee).why_not == NotReturnable.final_sale


def test_a_category_marked_not_returnable_refuses_its_lines(session, shop, set_policy) -> None:
    set_policy(shop.brand_id, categories=[{"category": "apparel", "returnable": False}])
    assert _eligibility(session, shop).line(shop.tee).why_not == NotReturnable.category


# Tiers and limits -------------------------------------------------------------------------------


def test_a_customer_tier_lengthens_the_window(session, shop, set_policy) -> None:
    set_policy(shop.brand_id, tiers=[{"tier": "gold", "extra_days": 30}])
    _give_customer(session, shop, vip_tier="gold")
    result = _eligibility(session, shop, days=45)
    assert result.line(shop.tee).why_not is None
    assert result.tier == "gold"
    assert result.deadline == later(60)


def test_a_customer_without_the_tier_keeps_the_brand_window(session, shop, set_policy) -> None:
    set_policy(shop.brand_id, tiers=[{"tier": "gold", "extra_days": 30}])
    _give_customer(session, shop, vip_tier="silver")
    assert _eligibility(session, shop, days=45).line(shop.tee).why_not == (
        NotReturnable.window_closed
    )


def test_the_tier_attribute_is_the_brands_choice(session, shop, set_policy) -> None:
    set_policy(shop.brand_id, tier_attribute="rank", tiers=[{"tier": "platinum", "extra_days": 60}])
    _give_customer(session, shop, rank="platinum")
    assert _eligibility(session, shop, days=80).line(shop.tee).why_not is None


def test_a_customer_over_the_limit_is_refused_with_the_reason(session, shop, set_policy) -> None:
    set_policy(shop.brand_id, limit_returns=2, limit_days=90)
    _give_customer(session, shop)
    _past_return(session, shop, days_ago=10, state=ReturnState.refunded)
    _past_return(session, shop, days_ago=20, state=ReturnState.credited)
    result = _eligibility(session, shop)
    assert result.line(shop.tee).why_not == NotReturnable.customer_limit
    assert result.recent_returns == 2


def test_returns_before_the_limit_period_or_cancelled_do_not_count(
    session, shop, set_policy
) -> None:
    set_policy(shop.brand_id, limit_returns=2, limit_days=90)
    _give_customer(session, shop)
    _past_return(session, shop, days_ago=100, state=ReturnState.refunded)
    _past_return(session, shop, days_ago=5, state=ReturnState.cancelled)
    _past_return(session, shop, days_ago=5, state=ReturnState.refunded)
    assert _eligibility(session, shop).line(shop.tee).why_not is None


def test_create_return_refuses_a_customer_over_the_limit(session, shop, set_policy) -> None:
    set_policy(shop.brand_id, limit_returns=1)
    _past_return(session, shop, days_ago=1, state=ReturnState.approved)
    with pytest.raises(ReturnError) as refused:
        create_return(
            session=session,
            brand=session.get(Brand, shop.brand_id),
            order=session.get(Order, shop.order_id),
            lines=[WantedLine(order_line_id=shop.tee, quantity=1, reason_code="damaged")],
            resolution=ReturnResolution.refund,
            now=later(1),
        )
    assert refused.value.code == "customer_limit"


def test_create_return_refuses_a_reason_not_offered_for_the_category(
    session, shop, set_policy
) -> None:
    set_policy(shop.brand_id, categories=[{"category": "apparel", "reasons": ["damaged"]}])
    with pytest.raises(ReturnError) as refused:
        create_return(
            session=session,
            brand=session.get(Brand, shop.brand_id),
            order=session.get(Order, shop.order_id),
            lines=[WantedLine(order_line_id=shop.tee, quantity=1, reason_code="size_too_small")],
            resolution=ReturnResolution.refund,
            now=later(1),
        )
    assert refused.value.code == "reason"


def test_create_return_records_the_policys_decision_for_the_merchant(
    session, shop, set_policy
) -> None:
    set_policy(shop.brand_id, tiers=[{"tier": "gold", "extra_days": 30}], auto_approve=False)
    _give_customer(session, shop, vip_tier="gold")
    rma = create_return(
        session=session,
        brand=session.get(Brand, shop.brand_id),
        order=session.get(Order, shop.order_id),
        lines=[WantedLine(order_line_id=shop.tee, quantity=1, reason_code="size_too_small")],
        resolution=ReturnResolution.refund,
        now=later(40),
    )
    assert rma.attributes["policy"] == {
        "window_days": 60,
        "tier": "gold",
        "auto_approved": False,
        "recent_returns": 0,
    }


# Questions --------------------------------------------------------------------------------------


def test_a_reason_asks_its_follow_up_question_in_the_customers_language() -> None:
    policy = policy_for(_brand(questions={"damaged": {"ja": "どこが？", "en": "Where?"}}))
    assert policy.question("damaged", "ja") == "どこが？"
    assert policy.question("damaged", "en") == "Where?"
    assert policy.question("changed_mind", "ja") is None


# Money and label knobs ---------------------------------------------------------------------------


def test_fees_bonus_and_keep_thresholds_come_from_the_settings() -> None:
    rules = money_rules(
        _brand(
            fees={"changed_mind": {"flat": 500, "percent": 5}},
            credit_bonus_percent=10,
            keep_item_below=1000,
            return_shipping_cost=800,
            green_refund_below=2000,
        )
    )
    assert rules.fee_for("changed_mind") == Fee(flat=500, percent=Decimal(5))
    assert rules.credit_bonus_percent == Decimal(10)
    assert (rules.keep_item_below, rules.return_shipping_cost, rules.green_refund_below) == (
        1000,
        800,
        2000,
    )


def test_a_fee_in_the_settings_never_applies_when_the_shop_is_at_fault() -> None:
    rules = money_rules(_brand(fees={"*": {"flat": 500}}))
    assert rules.fee_for("damaged") == Fee()
    assert rules.fee_for("other") == Fee(flat=500)


def test_green_refunds_are_paid_without_collection_below_the_threshold() -> None:
    rules = rules_from(ReturnsPart(green_refund_below=2000))
    item = [ReturnedItem(unit_price=1500, quantity=1, reason_code="other")]
    assert preview(item, currency="JPY", resolution=ReturnResolution.refund, rules=rules).keep_item
    assert (
        preview(item, currency="JPY", resolution=ReturnResolution.refund, rules=rules).keep_item
        == KeepReason.green_refund
    )


def test_green_refunds_do_not_apply_to_store_credit_or_above_the_threshold() -> None:
    rules = rules_from(ReturnsPart(green_refund_below=2000))
    cheap = [ReturnedItem(unit_price=1500, quantity=1, reason_code="other")]
    dear = [ReturnedItem(unit_price=2500, quantity=1, reason_code="other")]
    credit = ReturnResolution.store_credit
    assert preview(cheap, currency="JPY", resolution=credit, rules=rules).keep_item is None
    refund = ReturnResolution.refund
    assert preview(dear, currency="JPY", resolution=refund, rules=rules).keep_item is None


def test_the_defaults_charge_nothing_and_collect_everything() -> None:
    rules = money_rules(_brand())
    item = [ReturnedItem(unit_price=100, quantity=1, reason_code="changed_mind")]
    money = preview(item, currency="JPY", resolution=ReturnResolution.store_credit, rules=rules)
    assert (money.fees, money.bonus, money.keep_item) == (0, 0, None)


def test_label_payment_photo_reasons_and_days_come_from_the_settings() -> None:
    policy = policy_for(
        _brand(
            label_payment="motobarai",
            photo_reasons=["other"],
            handover_days=5,
            payout_days=7,
        )
    )
    assert policy.label_payment == LabelPayment.prepaid
    assert policy.photo_reasons == frozenset({"other"})
    assert (policy.part.handover_days, policy.part.payout_days) == (5, 7)


def test_default_label_is_paid_by_the_shop_and_handed_over_in_two_weeks() -> None:
    policy = ReturnPolicy()
    assert policy.label_payment == LabelPayment.cash_on_delivery
    assert (policy.part.handover_days, policy.part.payout_days) == (14, 3)


# Settings round trip ----------------------------------------------------------------------------

FULL_POLICY: dict[str, Any] = {
    "window_days": 45,
    "food_returnable": True,
    "categories": [
        {"category": "tea", "food": True, "window_days": 7},
        {"category": "skincare", "hygiene": True},
        {"category": "apparel", "reasons": ["size_too_small", "damaged"], "final_sale": False},
    ],
    "tier_attribute": "rank",
    "tiers": [{"tier": "gold", "extra_days": 30}],
    "questions": {"other": {"ja": "なぜ？", "en": "Why?"}},
    "photo_reasons": ["damaged"],
    "fees": {"*": {"flat": 300, "percent": 2.5}},
    "credit_bonus_percent": 10,
    "keep_item_below": 500,
    "return_shipping_cost": 900,
    "green_refund_below": 1500,
    "limit_returns": 3,
    "limit_days": 60,
    "label_payment": "motobarai",
    "handover_days": 10,
    "payout_days": 5,
}


def test_a_full_policy_survives_storing_and_reading_back() -> None:
    settings = validate({"returns": FULL_POLICY})
    again = validate(stored(settings))
    assert again == settings
    assert stored(again)["returns"]["categories"][0] == {
        "category": "tea",
        "food": True,
        "window_days": 7,
    }


@pytest.mark.parametrize(
    ("patch", "loc"),
    [
        ({"categories": [{"category": "tea", "edible": True}]}, "returns.categories[0].edible"),
        ({"fees": {"*": {"percent": 120}}}, "returns.fees.*.percent"),
        ({"label_payment": "cash"}, "returns.label_payment"),
        ({"limit_returns": 0}, "returns.limit_returns"),
    ],
)
def test_a_bad_policy_value_is_refused_naming_its_field(patch: dict[str, Any], loc: str) -> None:
    with pytest.raises(SettingsInvalid) as refused:
        validate({"returns": patch})
    assert [e["loc"] for e in refused.value.errors] == [loc]
