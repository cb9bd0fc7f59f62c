"""The portal's return form read strictly: each line once, in one spelling, with only what the policy offers."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from postpurchase.models import OrderLine, ReturnResolution
from postpurchase.returns.form import FormError, parse_return_form
from postpurchase.returns.operations import WantedLine
from postpurchase.returns.policy import ReturnPolicy
from postpurchase.settings.model import ReturnsPart

LINES = [
    OrderLine(id=3, brand_id=1, order_id=1, line_key="1", sku="TEE-M", quantity=2, unit_price=3980),
    OrderLine(id=4, brand_id=1, order_id=1, line_key="2", sku="CAP", quantity=1, unit_price=2000),
]


def _parse(
    *pairs: tuple[str, str], policy: ReturnPolicy | None = None, resolution: str | None = "refund"
):
    fields = [("csrf_token", "t"), *pairs] + (
        [("resolution", resolution)] if resolution is not None else []
    )
    return parse_return_form(MultiDict(fields), lines=LINES, policy=policy or ReturnPolicy())


def _field_refused(*pairs: tuple[str, str], **kwargs) -> str:
    with pytest.raises(FormError) as error:
        _parse(*pairs, **kwargs)
    return error.value.field


def test_lines_with_a_quantity_become_wanted_lines_in_order_line_order() -> None:
    form = _parse(
        ("quantity-4", "1"),
        ("reason-4", "damaged"),
        ("quantity-3", "2"),
        ("reason-3", "other"),
        ("comment-3", "  小さい  "),
        ("comment", " ありがとう "),
    )
    assert form.lines == [
        WantedLine(order_line_id=3, quantity=2, reason_code="other", comment="小さい"),
        WantedLine(order_line_id=4, quantity=1, reason_code="damaged"),
    ]
    assert (form.resolution, form.comment) == (ReturnResolution.refund, "ありがとう")


def test_lines_left_at_zero_are_not_wanted() -> None:
    assert _parse(("quantity-3", "0"), ("reason-3", "other"), ("exchange-3", "TEE-L")).lines == []


@pytest.mark.parametrize(
    "key",
    [
        "quantity-03",
        "quantity-+3",
        "quantity- 3",
        "quantity-３",
        "quantity-3 ",
        "Quantity-3",
        "quantity_3",
        "qty-3",
        "quantity-",
        "refund_amount",
    ],
)
def test_a_field_not_in_its_canonical_spelling_is_refused_by_name(key: str) -> None:
    assert _field_refused(("quantity-3", "1"), ("reason-3", "other"), (key, "1")) == key


def test_duplicate_quantity_keys_are_refused() -> None:
    assert (
        _field_refused(("quantity-3", "1"), ("quantity-3", "1"), ("reason-3", "other"))
        == "quantity-3"
    )


def test_duplicate_resolution_is_refused() -> None:
    assert (
        _field_refused(("quantity-3", "1"), ("reason-3", "other"), ("resolution", "store_credit"))
        == "resolution"
    )


@pytest.mark.parametrize(
    "raw", ["-1", "1.0", "1e3", "", " 1", "1 ", "+1", "01", "１", "0x1", "10000", "9" * 5000]
)
def test_quantity_must_be_a_plain_whole_number_up_to_the_cap(raw: str) -> None:
    assert _field_refused(("quantity-3", raw), ("reason-3", "other")) == "quantity-3"


def test_quantity_above_what_was_bought_is_left_to_the_operation() -> None:
    (line,) = _parse(("quantity-3", "9999"), ("reason-3", "other")).lines
    assert line.quantity == 9999


def test_line_of_another_order_is_refused() -> None:
    assert _field_refused(("quantity-99", "1"), ("reason-99", "other")) == "quantity-99"


def test_any_field_of_a_line_of_another_order_is_refused() -> None:
    assert _field_refused(("comment-99", "hi")) == "comment-99"


def test_reason_not_in_the_policy_is_refused() -> None:
    assert _field_refused(("quantity-3", "1"), ("reason-3", "free_money")) == "reason-3"


def test_returned_line_without_a_reason_is_refused() -> None:
    assert _field_refused(("quantity-3", "1")) == "reason-3"


def test_reasons_come_from_the_brands_policy() -> None:
    policy = ReturnPolicy(
        ReturnsPart(
            reasons={"wrong_colour": {"en": "Wrong colour"}}, general_reasons=["wrong_colour"]
        )
    )
    assert _field_refused(("quantity-3", "1"), ("reason-3", "damaged"), policy=policy) == "reason-3"
    assert (
        _parse(("quantity-3", "1"), ("reason-3", "wrong_colour"), policy=policy)
        .lines[0]
        .reason_code
        == "wrong_colour"
    )


@pytest.mark.parametrize("resolution", [None, "", "cash", "Refund", "refund "])
def test_resolution_must_be_one_offered(resolution: str | None) -> None:
    assert (
        _field_refused(("quantity-3", "1"), ("reason-3", "other"), resolution=resolution)
        == "resolution"
    )


def test_resolution_the_policy_does_not_offer_is_refused() -> None:
    policy = ReturnPolicy(ReturnsPart(resolutions=[ReturnResolution.refund]))
    assert (
        _field_refused(
            ("quantity-3", "1"), ("reason-3", "other"), policy=policy, resolution="store_credit"
        )
        == "resolution"
    )


def test_exchange_for_another_size_of_the_same_item_is_kept() -> None:
    form = _parse(
        ("quantity-3", "1"), ("reason-3", "other"), ("exchange-3", "TEE-L"), resolution="exchange"
    )
    assert form.lines[0].exchange_sku == "TEE-L"


@pytest.mark.parametrize("sku", ["WATCH-GOLD", "TEE", "TEE-PRINT-L", "", "TEE-M-X"])
def test_exchange_for_another_product_is_refused(sku: str) -> None:
    assert (
        _field_refused(
            ("quantity-3", "1"), ("reason-3", "other"), ("exchange-3", sku), resolution="exchange"
        )
        == "exchange-3"
    )


def test_exchange_field_is_refused_when_the_policy_offers_no_exchange() -> None:
    policy = ReturnPolicy(ReturnsPart(resolutions=[ReturnResolution.refund]))
    assert (
        _field_refused(
            ("quantity-3", "1"), ("reason-3", "other"), ("exchange-3", "TEE-L"), policy=policy
        )
        == "exchange-3"
    )


def test_exchange_choice_is_dropped_when_the_customer_chose_a_refund() -> None:
    form = _parse(("quantity-3", "1"), ("reason-3", "other"), ("exchange-3", "TEE-L"))
    assert form.lines[0].exchange_sku is None


@pytest.mark.parametrize("field", ["comment-3", "comment"])
def test_overlong_comment_is_refused(field: str) -> None:
    assert _field_refused(("quantity-3", "1"), ("reason-3", "other"), (field, "あ" * 1001)) == field


def test_a_long_forged_field_name_is_shortened_in_the_message() -> None:
    with pytest.raises(FormError) as error:
        _parse(("x" * 10_000, "1"))
    assert len(str(error.value)) < 200


SOAP = OrderLine(
    id=5, brand_id=1, order_id=1, line_key="3", sku="SOAP", category="skincare", unit_price=1320
)
SHIRT = OrderLine(
    id=6, brand_id=1, order_id=1, line_key="4", sku="SHIRT-M", category="apparel", unit_price=5000
)


def test_a_size_reason_for_an_item_that_is_not_clothing_is_refused() -> None:
    with pytest.raises(FormError) as error:
        parse_return_form(
            MultiDict(
                [("quantity-5", "1"), ("reason-5", "size_too_small"), ("resolution", "refund")]
            ),
            lines=[SOAP],
            policy=ReturnPolicy(),
        )
    assert error.value.field == "reason-5"


def test_a_size_reason_for_clothing_is_kept() -> None:
    form = parse_return_form(
        MultiDict([("quantity-6", "1"), ("reason-6", "size_too_small"), ("resolution", "refund")]),
        lines=[SHIRT],
        policy=ReturnPolicy(),
    )
    assert form.lines[0].reason_code == "size_too_small"


def test_an_empty_reason_on_a_line_not_returned_is_no_choice() -> None:
    assert _parse(("quantity-3", "0"), ("reason-3", "")).lines == []


def test_an_empty_reason_on_a_returned_line_is_refused() -> None:
    assert _field_refused(("quantity-3", "1"), ("reason-3", "")) == "reason-3"
