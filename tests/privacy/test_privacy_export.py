"""Exporting one customer: everything the brand stores about them, nothing of another brand."""

from __future__ import annotations

import json

import pytest
from privacy_helpers import EMAIL, NAME

from postpurchase.privacy.cli import customers
from postpurchase.privacy.customers import NoSuchCustomer, export_customer


@pytest.fixture
def two_brands(brand, make_brand, tell_story):
    """The same customer in two brands; the other brand's feedback says something only it knows."""
    tell_story(brand)
    other = make_brand("other")
    tell_story(other, comment="only the other brand knows this")
    return brand, other


def test_export_holds_profile_orders_lines_parcels_events_messages_returns_and_feedback(
    db, two_brands
) -> None:
    acme, _ = two_brands
    exported = export_customer(session=db, brand_id=acme.brand_id, email=EMAIL)
    (customer,) = exported["customers"]
    (order,) = exported["orders"]
    assert (customer["email"], customer["name"], order["number"]) == (EMAIL, NAME, "#10234")
    assert {"TEA-SENCHA-100", "CUP-HAGI-WHT"} <= {line["sku"] for line in order["lines"]}
    assert len(order["shipments"]) == 2 and any(s["tracking_events"] for s in order["shipments"])
    assert exported["messages"][0]["recipient"] == EMAIL
    assert exported["returns"][0]["lines"][0]["comment"] == "届いた時点で縁が欠けていました"
    assert exported["feedback"][0]["nps_score"] == 9
    assert exported["suppressions"][0]["address"] == EMAIL


def test_export_holds_nothing_of_another_brand(db, two_brands) -> None:
    acme, other = two_brands
    exported = export_customer(session=db, brand_id=acme.brand_id, email=EMAIL)
    assert "only the other brand knows this" not in json.dumps(exported, ensure_ascii=False)
    other_ids = {
        o["id"] for o in export_customer(session=db, brand_id=other.brand_id, email=EMAIL)["orders"]
    }
    assert {o["id"] for o in exported["orders"]}.isdisjoint(other_ids)


def test_export_of_an_unknown_email_is_refused(db, two_brands) -> None:
    with pytest.raises(NoSuchCustomer):
        export_customer(session=db, brand_id=two_brands[0].brand_id, email="nobody@example.jp")


def test_export_command_writes_json_to_a_file(runner, two_brands, tmp_path) -> None:
    out = tmp_path / "hanako.json"
    result = runner.invoke(
        customers, ["export", "--brand", "acme", "--email", EMAIL, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8"))["customers"][0]["email"] == EMAIL


def test_export_command_names_an_unknown_customer(runner, two_brands) -> None:
    result = runner.invoke(customers, ["export", "--brand", "acme", "--email", "nobody@example.jp"])
    assert result.exit_code == 1 and "nothing stored about this customer" in result.output


def test_erase_command_asks_before_erasing(runner, two_brands, db) -> None:
    result = runner.invoke(customers, ["erase", "--brand", "acme", "--email", EMAIL], input="n\n")
    assert result.exit_code == 1
    assert export_customer(session=db, brand_id=two_brands[0].brand_id, email=EMAIL)["customers"]


def test_erase_command_prints_the_reference_and_what_it_changed(runner, two_brands, db) -> None:
    result = runner.invoke(customers, ["erase", "--brand", "acme", "--email", EMAIL, "--yes"])
    assert result.exit_code == 0, result.output
    assert "erasure reference: " in result.output and "1 order" in result.output
    with pytest.raises(NoSuchCustomer):
        export_customer(session=db, brand_id=two_brands[0].brand_id, email=EMAIL)


def test_erase_command_needs_exactly_one_of_email_and_customer_id(runner, two_brands) -> None:
    result = runner.invoke(customers, ["erase", "--brand", "acme", "--yes"])
    assert result.exit_code == 2 and "--email" in result.output


def test_erase_command_names_an_unknown_brand(runner, two_brands) -> None:
    result = runner.invoke(customers, ["erase", "--brand", "nope", "--email", EMAIL, "--yes"])
    assert result.exit_code == 1 and "no brand 'nope'" in result.output
