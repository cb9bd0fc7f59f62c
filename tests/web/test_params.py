"""Typed query-string and form values: every bad value is a 400 that names its field."""

from __future__ import annotations

from datetime import date

import pytest

from postpurchase.models import OutboxState
from postpurchase.web.params import MAX_ID, BadParameter, Params


def _problem(call) -> BadParameter:
    with pytest.raises(BadParameter) as caught:
        call()
    return caught.value


def test_enum_value_outside_the_enum_names_the_field_and_the_allowed_values() -> None:
    problem = _problem(lambda: Params({"state": "x"}).enum("state", OutboxState))
    assert problem.code == 400 and problem.field == "state" and "sent" in problem.allowed


def test_an_empty_value_counts_as_absent() -> None:
    assert Params({"state": ""}).enum("state", OutboxState) is None


def test_id_beyond_64_bits_is_a_bad_parameter() -> None:
    assert Params({"id": str(MAX_ID)}).id("id") == MAX_ID
    assert (
        "shipment_id"
        in _problem(lambda: Params({"shipment_id": "1" * 30}).id("shipment_id")).description
    )


@pytest.mark.parametrize("raw", ["abc", "１２", "1_000", "1.5", "0x10", "0", "-3"])
def test_id_that_is_not_a_positive_ascii_number_is_a_bad_parameter(raw: str) -> None:
    assert _problem(lambda: Params({"id": raw}).id("id")).field == "id"


def test_locale_without_translations_is_a_bad_parameter() -> None:
    assert Params({}).locale("locale", "ja") == "ja"
    assert _problem(lambda: Params({"locale": "xx"}).locale("locale", "ja")).allowed == ["ja", "en"]


def test_date_outside_the_supported_years_is_a_bad_parameter() -> None:
    assert Params({"end": "2026-11-20"}).date("end") == date(2026, 11, 20)
    assert _problem(lambda: Params({"end": "9999-12-31"}).date("end")).field == "end"
    assert _problem(lambda: Params({"end": "2026-13-01"}).date("end")).field == "end"
