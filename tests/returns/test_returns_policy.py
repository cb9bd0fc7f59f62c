"""The return policy: defaults, brand settings, and per line whether it may come back and why not."""

from __future__ import annotations

from sqlmodel import select

from postpurchase.models import Brand, Order, ReturnResolution, Shipment
from postpurchase.returns.operations import WantedLine, create_return
from postpurchase.returns.policy import (
    DEFAULT_WINDOW_DAYS,
    NotReturnable,
    order_eligibility,
    policy_for,
)
from tests.returns.conftest import later


def _eligibility(session, shop, days: float):
    brand = session.get(Brand, shop.brand_id)
    return order_eligibility(
        session=session,
        policy=policy_for(brand),
        order=session.get(Order, shop.order_id),
        now=later(days),
    )


def _why(result, line_id):
    return result.line(line_id).why_not


def test_defaults_are_thirty_days_auto_approval_and_every_resolution() -> None:
    policy = policy_for(Brand(slug="x", name="X", signing_secret="s"))
    assert policy.window_days == DEFAULT_WINDOW_DAYS == 30
    assert policy.auto_approve is True
    assert set(policy.resolutions) == set(ReturnResolution)
    assert {
        "size_too_small",
        "size_too_large",
        "damaged",
        "not_as_described",
        "changed_mind",
        "other",
    } <= set(policy.reasons)


def test_reason_labels_read_in_japanese_and_english() -> None:
    policy = policy_for(Brand(slug="x", name="X", signing_secret="s"))
    assert policy.reason_label("size_too_small", "ja") == "サイズが小さい"
    assert policy.reason_label("size_too_small", "en") == "Too small"


def test_ordinary_line_is_returnable_inside_the_window(session, shop) -> None:
    result = _eligibility(session, shop, days=29)
    assert _why(result, shop.tee) is None
    assert result.line(shop.tee).returnable_quantity == 2


def test_window_closes_thirty_days_after_delivery(session, shop) -> None:
    assert _why(_eligibility(session, shop, days=30.1), shop.tee) == NotReturnable.window_closed


def test_brand_can_lengthen_the_window(session, shop, set_policy) -> None:
    set_policy(shop.brand_id, window_days=60)
    assert _why(_eligibility(session, shop, days=45), shop.tee) is None


def test_final_sale_lines_are_not_returnable(session, shop) -> None:
    assert _why(_eligibility(session, shop, days=1), shop.sale) == NotReturnable.final_sale


def test_category_rule_refuses_its_lines_only(session, shop, set_policy) -> None:
    set_policy(shop.brand_id, categories=[{"category": "Food", "returnable": False}])
    result = _eligibility(session, shop, days=1)
    assert _why(result, shop.food) == NotReturnable.category
    assert _why(result, shop.tee) is None


def test_a_category_without_a_rule_is_returnable(session, shop, set_policy) -> None:
    set_policy(shop.brand_id, categories=[])
    assert _why(_eligibility(session, shop, days=1), shop.food) is None


def test_undelivered_order_cannot_be_returned_yet(session, shop) -> None:
    for parcel in session.exec(select(Shipment)).all():
        parcel.delivered_at = None
        session.add(parcel)
    session.flush()
    assert _why(_eligibility(session, shop, days=1), shop.tee) == NotReturnable.not_delivered


def test_quantities_already_in_a_return_are_not_offered_again(session, shop) -> None:
    brand = session.get(Brand, shop.brand_id)
    create_return(
        session=session,
        brand=brand,
        order=session.get(Order, shop.order_id),
        now=later(1),
        lines=[WantedLine(order_line_id=shop.tee, quantity=2, reason_code="size_too_small")],
        resolution=ReturnResolution.refund,
    )
    assert _why(_eligibility(session, shop, days=2), shop.tee) == NotReturnable.already_returned


def test_resolutions_can_be_limited_and_unknown_ones_are_ignored(set_policy, shop, session) -> None:
    set_policy(shop.brand_id, resolutions=["store_credit", "cash"])
    assert policy_for(session.get(Brand, shop.brand_id)).resolutions == (
        ReturnResolution.store_credit,
    )
