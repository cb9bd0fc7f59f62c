"""The money of a return: value, fees by reason, bonus, exchange difference, keep-item, currencies."""

from __future__ import annotations

from decimal import Decimal

import pytest

from postpurchase.i18n import format_money
from postpurchase.models.enums import ReturnResolution
from postpurchase.returns.money import (
    ANY_REASON,
    Fee,
    KeepReason,
    MoneyRules,
    ReturnedItem,
    major_to_minor,
    preview,
)

REFUND = ReturnResolution.refund
CREDIT = ReturnResolution.store_credit
EXCHANGE = ReturnResolution.exchange
NO_BONUS = MoneyRules()
BONUS = MoneyRules(credit_bonus_percent=Decimal(10))


def tee(quantity: int = 1, reason: str = "size_too_small", **kwargs: int) -> ReturnedItem:
    return ReturnedItem(unit_price=3980, quantity=quantity, reason_code=reason, **kwargs)


def test_refund_is_unit_price_times_quantity_returned() -> None:
    result = preview([tee(2)], currency="JPY", resolution=REFUND, rules=NO_BONUS)
    assert (result.value, result.refund, result.credit) == (7960, 7960, 0)


def test_partial_quantity_returns_only_those_units() -> None:
    result = preview([tee(1)], currency="JPY", resolution=REFUND, rules=NO_BONUS)
    assert result.refund == 3980


def test_zero_quantity_line_is_worth_nothing_and_carries_no_fee() -> None:
    rules = MoneyRules(fees={ANY_REASON: Fee(flat=500)})
    result = preview([tee(0)], currency="JPY", resolution=REFUND, rules=rules)
    assert (result.value, result.fees, result.refund) == (0, 0, 0)


def test_fee_of_the_reason_comes_off_the_refund() -> None:
    rules = MoneyRules(fees={"changed_mind": Fee(flat=500)})
    result = preview([tee(1, "changed_mind")], currency="JPY", resolution=REFUND, rules=rules)
    assert (result.fees, result.refund) == (500, 3480)


def test_percentage_fee_rounds_half_up_to_the_minor_unit() -> None:
    rules = MoneyRules(fees={"changed_mind": Fee(percent=Decimal("12.5"))})
    item = ReturnedItem(unit_price=1001, quantity=1, reason_code="changed_mind")
    # 12.5 % of 1001 is 125.125 → 125; of 1004 is 125.5 → 126.
    assert preview([item], currency="JPY", resolution=REFUND, rules=rules).fees == 125
    item = ReturnedItem(unit_price=1004, quantity=1, reason_code="changed_mind")
    assert preview([item], currency="JPY", resolution=REFUND, rules=rules).fees == 126


def test_flat_and_percentage_fees_add_up_per_line() -> None:
    rules = MoneyRules(fees={"changed_mind": Fee(flat=300, percent=Decimal(10))})
    result = preview([tee(2, "changed_mind")], currency="JPY", resolution=REFUND, rules=rules)
    assert result.fees == 300 + 796


def test_fee_never_exceeds_the_line_value() -> None:
    rules = MoneyRules(fees={ANY_REASON: Fee(flat=5000)})
    result = preview([tee(1)], currency="JPY", resolution=REFUND, rules=rules)
    assert (result.fees, result.refund) == (3980, 0)


def test_default_fee_applies_to_reasons_without_their_own() -> None:
    rules = MoneyRules(fees={ANY_REASON: Fee(flat=200), "size_too_large": Fee(flat=100)})
    result = preview(
        [tee(1, "other"), tee(1, "size_too_large")], currency="JPY", resolution=REFUND, rules=rules
    )
    assert result.fees == 300


@pytest.mark.parametrize("reason", ["damaged", "wrong_item", "late"])
def test_no_fee_when_the_brand_is_at_fault(reason: str) -> None:
    rules = MoneyRules(fees={ANY_REASON: Fee(flat=500), reason: Fee(flat=500)})
    result = preview([tee(1, reason)], currency="JPY", resolution=REFUND, rules=rules)
    assert (result.fees, result.refund) == (0, 3980)


def test_refund_carries_no_bonus() -> None:
    result = preview([tee(1)], currency="JPY", resolution=REFUND, rules=BONUS)
    assert (result.bonus, result.refund) == (0, 3980)


def test_store_credit_adds_the_bonus_to_value_less_fees() -> None:
    rules = MoneyRules(fees={ANY_REASON: Fee(flat=980)}, credit_bonus_percent=Decimal(10))
    result = preview([tee(1)], currency="JPY", resolution=CREDIT, rules=rules)
    assert (result.bonus, result.credit, result.refund) == (300, 3300, 0)


def test_exchange_for_the_same_price_costs_nothing_and_leaves_the_bonus_as_credit() -> None:
    result = preview([tee(1)], currency="JPY", resolution=EXCHANGE, rules=BONUS)
    assert (result.charge, result.credit, result.refund) == (0, 398, 0)


def test_exchange_for_a_dearer_item_charges_the_difference_less_the_bonus() -> None:
    item = tee(1, exchange_unit_price=5980)
    result = preview([item], currency="JPY", resolution=EXCHANGE, rules=BONUS)
    assert (result.new_items, result.charge, result.credit) == (5980, 5980 - 3980 - 398, 0)
    assert result.difference == 1602


def test_exchange_for_a_cheaper_item_leaves_the_rest_as_credit_never_cash() -> None:
    item = tee(1, exchange_unit_price=1980)
    result = preview([item], currency="JPY", resolution=EXCHANGE, rules=NO_BONUS)
    assert (result.charge, result.credit, result.refund) == (0, 2000, 0)
    assert result.difference == -2000


def test_goods_worth_less_than_the_threshold_are_kept() -> None:
    rules = MoneyRules(keep_item_below=5000)
    assert preview([tee(1)], currency="JPY", resolution=REFUND, rules=rules).keep_item == (
        KeepReason.below_threshold
    )
    assert preview([tee(2)], currency="JPY", resolution=REFUND, rules=rules).keep_item is None


def test_goods_worth_less_than_the_return_shipping_are_kept() -> None:
    rules = MoneyRules(return_shipping_cost=1200)
    cheap = ReturnedItem(unit_price=980, quantity=1, reason_code="damaged")
    assert preview([cheap], currency="JPY", resolution=REFUND, rules=rules).keep_item == (
        KeepReason.shipping_costs_more
    )
    assert preview([tee(1)], currency="JPY", resolution=REFUND, rules=rules).keep_item is None


def test_bonus_is_off_by_default() -> None:
    assert preview([tee(1)], currency="JPY", resolution=CREDIT, rules=MoneyRules()).credit == 3980


def test_keep_item_is_off_by_default() -> None:
    cheap = ReturnedItem(unit_price=1, quantity=1, reason_code="other")
    assert preview([cheap], currency="JPY", resolution=REFUND, rules=MoneyRules()).keep_item is None


def test_usd_amounts_are_cents() -> None:
    rules = MoneyRules(
        fees={ANY_REASON: Fee(flat=major_to_minor("4.99", "USD"))},
        credit_bonus_percent=Decimal(10),
    )
    item = ReturnedItem(unit_price=major_to_minor("19.99", "USD"), quantity=3, reason_code="other")
    result = preview([item], currency="USD", resolution=CREDIT, rules=rules)
    # 59.97 − 4.99 = 54.98; +10 % = 5.498 → 5.50.
    assert (result.value, result.fees, result.bonus, result.credit) == (5997, 499, 550, 6048)
    assert format_money(result.credit, "USD", "en") == "$60.48"


def test_jpy_amounts_are_whole_yen() -> None:
    item = ReturnedItem(unit_price=major_to_minor(1999, "JPY"), quantity=3, reason_code="other")
    result = preview([item], currency="JPY", resolution=CREDIT, rules=BONUS)
    # 5997 + 10 % = 599.7 → 600.
    assert (result.bonus, result.credit) == (600, 6597)
    assert format_money(result.credit, "JPY", "ja") == "￥6,597"


def test_major_to_minor_uses_the_currency_digits() -> None:
    assert major_to_minor("5.00", "USD") == 500
    assert major_to_minor(500, "JPY") == 500
    assert major_to_minor("1.234", "KWD") == 1234


def test_major_to_minor_refuses_digits_the_currency_does_not_have() -> None:
    with pytest.raises(ValueError, match="more decimals"):
        major_to_minor("0.5", "JPY")


def test_major_to_minor_refuses_what_is_not_an_amount() -> None:
    with pytest.raises(ValueError, match="not an amount"):
        major_to_minor("NaN", "USD")


def test_negative_quantity_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        preview([tee(-1)], currency="JPY", resolution=REFUND, rules=MoneyRules())


REFUND_DIFFERENCE = MoneyRules(credit_bonus_percent=Decimal(10), exchange_refunds_difference=True)


def test_exchange_for_a_cheaper_product_can_refund_the_difference_without_the_bonus() -> None:
    result = preview(
        [tee(1, exchange_unit_price=3500)],
        currency="JPY",
        resolution=EXCHANGE,
        rules=REFUND_DIFFERENCE,
    )
    assert (result.refund, result.credit, result.charge, result.bonus) == (480, 0, 0, 0)
    assert result.difference == -480


def test_refunding_the_difference_lets_the_bonus_lower_a_payment() -> None:
    # 4,500 − 3,980 = 520 to pay; the 10 % bonus (398) takes it down to 122.
    result = preview(
        [tee(1, exchange_unit_price=4500)],
        currency="JPY",
        resolution=EXCHANGE,
        rules=REFUND_DIFFERENCE,
    )
    assert (result.charge, result.bonus, result.refund, result.credit) == (122, 398, 0, 0)


def test_refunding_the_difference_never_pays_out_a_bonus_larger_than_the_payment() -> None:
    result = preview(
        [tee(1, exchange_unit_price=4100)],
        currency="JPY",
        resolution=EXCHANGE,
        rules=REFUND_DIFFERENCE,
    )
    assert (result.charge, result.bonus, result.refund, result.credit) == (0, 120, 0, 0)


def test_exchange_for_a_product_of_the_same_price_settles_nothing_when_refunding() -> None:
    result = preview(
        [tee(1, exchange_unit_price=3980)],
        currency="JPY",
        resolution=EXCHANGE,
        rules=REFUND_DIFFERENCE,
    )
    assert (result.charge, result.refund, result.credit, result.difference) == (0, 0, 0, 0)


def test_exchange_difference_counts_fees_and_only_the_units_returned() -> None:
    # 2 of the tees (7,960) less a 500 fee for another product at 4,500 each (9,000): 1,540.
    rules = MoneyRules(fees={"changed_mind": Fee(flat=500)})
    result = preview(
        [tee(2, "changed_mind", exchange_unit_price=4500)],
        currency="JPY",
        resolution=EXCHANGE,
        rules=rules,
    )
    assert (result.new_items, result.fees, result.charge) == (9000, 500, 1540)


def test_exchange_difference_in_usd_is_in_cents() -> None:
    item = ReturnedItem(
        unit_price=4194, quantity=1, reason_code="size_too_small", exchange_unit_price=4599
    )
    result = preview([item], currency="USD", resolution=EXCHANGE, rules=NO_BONUS)
    assert result.charge == 405
    assert format_money(result.charge, "USD", "en") == "$4.05"


def test_exchange_difference_in_jpy_has_no_decimals() -> None:
    result = preview(
        [tee(1, exchange_unit_price=4500)], currency="JPY", resolution=EXCHANGE, rules=NO_BONUS
    )
    assert format_money(result.charge, "JPY", "en") == "¥520"
