from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from babel import dates
from flask import Flask
from flask_babel import force_locale, refresh

from postpurchase.i18n import (
    format_day,
    format_local_time,
    format_money,
    format_skeleton,
    gettext,
    lazy_gettext,
    time_slot_label,
)


def test_yen_has_no_decimals() -> None:
    assert format_money(1980, "JPY", "ja") in {"￥1,980", "¥1,980"}


def test_dollars_use_two_decimals() -> None:
    assert format_money(1980, "USD", "en") == "$19.80"


def test_delivery_day_reads_like_a_japanese_notice() -> None:
    assert format_day(date(2026, 11, 25), "ja") == "11月25日(水)"
    assert format_day(date(2026, 11, 25), "en") == "Wed, Nov 25"


def test_times_show_in_the_given_timezone() -> None:
    assert (
        format_local_time(datetime(2026, 11, 25, 5, 5, tzinfo=UTC), "Asia/Tokyo", "ja")
        == "11月25日(水) 14:05"
    )


def test_time_slot_labels() -> None:
    assert time_slot_label("morning", "ja") == "午前中"
    assert time_slot_label("19-21", "en") == "19:00–21:00"
    assert time_slot_label(None, "ja") == ""


@pytest.mark.parametrize("locale", ["ja", "en", "en_US"])
@pytest.mark.parametrize("skeleton", ["MMMEd", "Hm", "yMMMd", "MMMMEEEEd"])
@pytest.mark.parametrize(
    "value",
    [
        date(2026, 12, 31),
        datetime(2026, 11, 25, 5, 5, tzinfo=UTC),
        datetime(2026, 11, 25, 23, 50, tzinfo=UTC).astimezone(ZoneInfo("Asia/Tokyo")),
        datetime.combine(date.min, time(15, 30)),
    ],
)
def test_cached_skeletons_format_as_babel_does(
    locale: str, skeleton: str, value: date | datetime
) -> None:
    assert format_skeleton(skeleton, value, locale) == dates.format_skeleton(
        skeleton, value, locale=locale
    )


def test_translations_follow_the_locale_of_the_moment(app: Flask) -> None:
    """The remembered catalogue is the one of the locale in force: a forced locale, its end and a
    refresh each change what the same string reads as."""
    with app.test_request_context("/?lang=en"):
        assert gettext("Carrier") == "Carrier"
        with force_locale("ja"):
            assert gettext("Carrier") == "配送業者"
            assert str(lazy_gettext("Carrier")) == "配送業者"
        assert gettext("Carrier") == "Carrier"
    with app.test_request_context("/?lang=ja"):
        assert gettext("Carrier") == "配送業者"
        with app.test_request_context("/?lang=en"):
            refresh()
            assert gettext("Carrier") == "Carrier"


def test_outside_an_app_context_strings_stay_as_written() -> None:
    assert gettext("Carrier") == "Carrier"
