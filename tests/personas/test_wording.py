"""A persona in words: the brand's category names in the reader's language, natural in each."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_babel import force_locale

from postpurchase.personas.model import Frequency, Portrait, Returning
from postpurchase.personas.wording import describe
from postpurchase.settings.model import SettingsInvalid, category_name, validate

NAMES = {"tea": {"ja": "お茶", "en": "tea"}, "ceramics": {"ja": "茶器"}}


def _described(app: Flask, locale: str, portrait: Portrait) -> str:
    with app.app_context(), force_locale(locale):
        return describe(portrait, NAMES)


REPEAT_TEA = Portrait(Frequency.repeat, "tea", Returning.never, lapsed=False, channel="line")


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("ja", "お茶をくり返し購入、返品なし、LINEを好む"),
        ("en", "Buys tea again and again, never returns, prefers LINE"),
    ],
)
def test_a_named_category_reads_in_the_readers_language(app, locale, expected) -> None:
    assert _described(app, locale, REPEAT_TEA) == expected


LAPSED_FRAGRANCE = Portrait(
    Frequency.once, "home_fragrance", Returning.often, lapsed=True, channel=None
)


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("ja", "home fragranceを一度だけ購入、返品が多い、半年以上購入なし"),
        ("en", "Bought home fragrance once, often returns, no order for six months"),
    ],
)
def test_a_category_without_a_name_reads_as_words_not_as_its_code(app, locale, expected) -> None:
    assert _described(app, locale, LAPSED_FRAGRANCE) == expected


def test_a_category_named_in_one_language_only_keeps_that_name_in_the_other(app) -> None:
    portrait = Portrait(Frequency.occasional, "Ceramics", Returning.sometimes, False, "email")
    assert _described(app, "en", portrait) == (
        "Buys 茶器 now and then, sometimes returns, prefers email"
    )
    assert _described(app, "ja", portrait) == "茶器をときどき購入、ときどき返品、メールを好む"


def test_a_mixed_basket_names_no_category(app) -> None:
    portrait = Portrait(Frequency.occasional, None, Returning.never, False, "webhook")
    assert _described(app, "ja", portrait) == (
        "いろいろな商品をときどき購入、返品なし、ブランド独自の連絡手段を好む"
    )
    assert _described(app, "en", portrait) == (
        "Buys a mix of products now and then, never returns, prefers the brand's own channel"
    )


def test_category_names_match_the_code_without_regard_to_case() -> None:
    assert category_name(NAMES, " TEA ", "ja") == "お茶"
    assert category_name({}, "gift-sets", "en") == "gift sets"


def test_category_names_are_checked_like_any_setting() -> None:
    assert validate({"category_names": NAMES}).category_name("tea", "en") == "tea"
    with pytest.raises(SettingsInvalid) as caught:
        validate({"category_names": {"tea": {"japanese": "お茶"}}})
    assert caught.value.errors[0]["loc"].startswith("category_names.tea")
