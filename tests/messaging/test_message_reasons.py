"""A message's reason: stored as a code with arguments, said in the reader's language."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale

from postpurchase.messaging.reasons import SENTENCES, Why, because, describe, reason_columns


def test_every_reason_has_a_sentence_that_its_arguments_fill() -> None:
    assert set(SENTENCES) == set(Why)
    for why, sentence in SENTENCES.items():
        names = set(re.findall(r"%\((\w+)\)s", sentence))
        assert str(because(why, **dict.fromkeys(names, "x"))) == sentence % dict.fromkeys(
            names, "x"
        )


def test_the_stored_columns_carry_the_code_and_the_english_sentence() -> None:
    columns = reason_columns(because(Why.too_late, limit=4.0))
    assert columns == {
        "error": "Not sent within 4 h of being due: too late to be useful.",
        "reason": {"why": "too_late", "args": {"limit": "4"}},
    }
    assert reason_columns(None) == {"error": None, "reason": None}


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("ja", "この宛先はメールの配信停止リストにあります（お客様が配信を停止しました）。"),
        ("en", "Email is suppressed for this address: the customer unsubscribed."),
    ],
)
def test_codes_among_the_arguments_are_said_in_words(app, locale, expected) -> None:
    stored = because(Why.suppressed, channel="email", cause="unsubscribe").stored()
    with app.test_request_context(), force_locale(locale):
        assert describe(stored, "ignored") == expected


def test_a_status_and_an_unknown_cause_read_as_well_as_they_can(app) -> None:
    with app.test_request_context(), force_locale("ja"):
        assert (
            describe(because(Why.parcel_already, status="delivered").stored(), None)
            == "荷物はすでに次の段階です: 配達完了。"
        )
        assert describe(
            because(Why.suppressed, channel="sms", cause="carrier_block").stored(), None
        ).endswith("（carrier_block）。")


def test_a_row_without_a_known_code_shows_its_error_as_written(app) -> None:
    with app.test_request_context(), force_locale("ja"):
        assert describe(None, "quiet hours") == "quiet hours"
        assert describe({"why": "from_a_later_version", "args": {}}, "later") == "later"
        assert describe({"why": "complained", "args": {}}, "no score stored") == "no score stored"
        assert describe(None, None) == ""
