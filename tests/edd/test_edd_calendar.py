"""Delivery calendars: Japanese holidays, weekends, carrier closures, cut-off and handling days."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest

from postpurchase.edd.calendar import (
    OBON,
    YEAR_END,
    CarrierCalendar,
    cutoff_countdown,
    dispatch_date,
    parse_cutoff,
)
from tests.conftest import conformance

JP = CarrierCalendar(country="JP")
YAMATO_LIKE = CarrierCalendar(country="JP", closures=(YEAR_END, OBON))


def _cabinet_office_holidays() -> dict[int, set[date]]:
    by_year: dict[int, set[date]] = defaultdict(set)
    path = conformance("jp_calendar/cao_syukujitsu_1955_2027.csv")
    with path.open(encoding="cp932", newline="") as handle:
        rows = csv.reader(handle)
        next(rows)
        for day, _name in rows:
            year, month, dom = (int(p) for p in day.split("/"))
            by_year[year].add(date(year, month, dom))
    return by_year


def _holiday_jp_holidays() -> dict[int, set[date]]:
    by_year: dict[int, set[date]] = defaultdict(set)
    for line in (
        conformance("jp_calendar/holiday_jp_holidays.yml").read_text(encoding="utf-8").splitlines()
    ):
        match = re.match(r"^'?(\d{4})-(\d\d)-(\d\d)'?:", line)
        if match:
            year, month, dom = (int(g) for g in match.groups())
            by_year[year].add(date(year, month, dom))
    return by_year


def _closed_holidays(calendar: CarrierCalendar, year: int) -> set[date]:
    days = (date(year, 1, 1) + timedelta(days=i) for i in range(366))
    return {d for d in days if d.year == year and calendar.holiday_name(d)}


def test_japanese_holidays_match_the_cabinet_office_list_every_year():
    official = _cabinet_office_holidays()
    assert min(official) == 1955 and max(official) == 2027
    mismatches = {
        year: _closed_holidays(JP, year) ^ days
        for year, days in official.items()
        if _closed_holidays(JP, year) != days
    }
    assert mismatches == {}


def test_japanese_holidays_match_holiday_jp_including_projected_years():
    projected = _holiday_jp_holidays()
    mismatches = {
        year: _closed_holidays(JP, year) ^ days
        for year, days in projected.items()
        if _closed_holidays(JP, year) != days
    }
    assert mismatches == {}


def test_substitute_holiday_is_not_a_business_day():
    # 2025-02-23 (Emperor's Birthday) is a Sunday, so Monday 2025-02-24 is a substitute holiday.
    assert not JP.is_business_day(date(2025, 2, 24))
    assert JP.closed_reason(date(2025, 2, 24)) is not None
    assert JP.is_business_day(date(2025, 2, 25))


def test_weekends_are_skipped_when_adding_business_days():
    friday = date(2026, 11, 13)
    assert JP.add_business_days(friday, 1) == date(2026, 11, 16)
    assert JP.closed_reason(date(2026, 11, 14)) == "weekend"


def test_a_carrier_working_saturdays_delivers_on_saturday():
    six_days = CarrierCalendar(country="JP", workdays=frozenset({0, 1, 2, 3, 4, 5}))
    assert six_days.add_business_days(date(2026, 11, 13), 1) == date(2026, 11, 14)


def test_year_end_closure_pushes_delivery_into_january():
    # Dec 30 2026 (Wed) + 1 business day: Dec 31 to Jan 3 closed, Jan 4 2027 is a Monday.
    assert YAMATO_LIKE.add_business_days(date(2026, 12, 30), 1) == date(2027, 1, 4)
    assert JP.add_business_days(date(2026, 12, 30), 1) == date(2026, 12, 31)


def test_obon_closure_is_configurable_by_name_and_by_dates():
    named = CarrierCalendar.from_settings("JP", {"closures": ["obon"]})
    explicit = CarrierCalendar.from_settings(
        "JP", {"closures": [{"name": "summer", "start": "08-13", "end": "08-16"}]}
    )
    for calendar, reason in ((named, "obon"), (explicit, "summer")):
        assert calendar.closed_reason(date(2027, 8, 13)) == reason
        assert not calendar.is_business_day(date(2027, 8, 16))
    assert JP.is_business_day(date(2027, 8, 13))


def test_unknown_closure_name_is_rejected():
    with pytest.raises(ValueError, match="unknown closure"):
        CarrierCalendar.from_settings("JP", {"closures": ["golden_week_typo"]})


def test_any_country_code_uses_that_countrys_holidays():
    brazil = CarrierCalendar(country="BR")
    assert not brazil.is_business_day(date(2017, 11, 15))  # Republic Proclamation Day
    assert JP.is_business_day(date(2017, 11, 15))


def test_business_days_between_counts_the_days_after_start_up_to_end():
    assert JP.business_days_between(date(2026, 11, 13), date(2026, 11, 17)) == 2
    assert JP.business_days_between(date(2026, 11, 13), date(2026, 11, 13)) == 0


def test_skipped_days_name_their_reason():
    skipped = YAMATO_LIKE.skipped_days(date(2026, 12, 30), date(2027, 1, 4))
    reasons = {item["date"]: item["reason"] for item in skipped}
    assert reasons["2026-12-31"] == "year_end"
    assert reasons["2027-01-03"] == "year_end"
    assert "2027-01-04" not in reasons


CALENDARS = pytest.mark.parametrize(
    "calendar",
    [
        YAMATO_LIKE,
        CarrierCalendar.from_settings(
            "JP",
            {
                "workdays": [0, 1, 2, 3, 4, 5],
                "closures": [{"name": "stocktake", "start": "02-27", "end": "03-02"}],
                "closed_dates": ["2026-05-12", "2031-07-01"],
            },
        ),
        CarrierCalendar.from_settings("JP", {"holidays": False, "workdays": [1, 3]}),
        CarrierCalendar(country="US"),
    ],
    ids=["year-end-and-obon", "saturdays-stocktake-closed-dates", "no-holidays", "us"],
)


@CALENDARS
def test_the_business_day_table_agrees_with_closed_reason_on_every_day(calendar):
    """The table behind the fast methods is built from arrays; each day must still be open exactly
    when :meth:`closed_reason` has no reason, over the whole range it covers (2000–2059)."""
    day, last, disagreements = date(2000, 1, 1), date(2059, 12, 31), []
    while day <= last:
        if calendar.is_business_day(day) != (calendar.closed_reason(day) is None):
            disagreements.append(day)
        day += timedelta(days=1)
    assert disagreements == []


def _walk(calendar: CarrierCalendar, day: date, count: int) -> date:
    """The ``count``-th business day after ``day``, one day at a time."""
    while count > 0:
        day += timedelta(days=1)
        count -= calendar.closed_reason(day) is None
    return day


@CALENDARS
def test_table_lookups_agree_with_walking_the_days_one_at_a_time(calendar):
    """Rolling forward, adding business days and naming skipped days read the table (and
    remember reasons); each must say what a walk over the days with closed_reason says."""
    start = date(2026, 12, 20)
    for offset in range(0, 400, 3):
        day = start + timedelta(days=offset)
        rolled = day
        while calendar.closed_reason(rolled) is not None:
            rolled += timedelta(days=1)
        assert calendar.roll_forward(day) == rolled
        for count in (0, 1, 2, 5, 11):
            assert calendar.add_business_days(day, count) == _walk(calendar, day, count)
        end = day + timedelta(days=offset % 17)
        walked = [
            {"date": d.isoformat(), "reason": reason}
            for n in range(1, (end - day).days + 1)
            if (reason := calendar.closed_reason(d := day + timedelta(days=n)))
        ]
        assert calendar.skipped_days(day, end) == walked
    # a range that starts before the table does (2000-01-01) is named day by day
    before = [date(1999, 12, 24) + timedelta(days=n) for n in range(1, 11)]
    assert [
        s["date"] for s in calendar.skipped_days(before[0] - timedelta(days=1), before[-1])
    ] == [d.isoformat() for d in before if calendar.closed_reason(d)]


CUTOFF = parse_cutoff("15:00")


def _tokyo(hour: int, minute: int = 0, day: int = 18) -> datetime:
    # 2026-11-18 is a Wednesday; Tokyo is UTC+9.
    return datetime(2026, 11, day, hour - 9, minute, tzinfo=UTC)


def test_order_before_cutoff_ships_the_same_day():
    assert dispatch_date(_tokyo(14, 59), calendar=JP, timezone="Asia/Tokyo", cutoff=CUTOFF) == date(
        2026, 11, 18
    )


def test_order_after_cutoff_ships_the_next_business_day():
    assert dispatch_date(_tokyo(15, 0), calendar=JP, timezone="Asia/Tokyo", cutoff=CUTOFF) == date(
        2026, 11, 19
    )


def test_order_after_friday_cutoff_ships_on_monday():
    friday_evening = _tokyo(18, day=20)
    assert dispatch_date(friday_evening, calendar=JP, timezone="Asia/Tokyo", cutoff=CUTOFF) == date(
        2026, 11, 24
    )
    # Monday 2026-11-23 is Labour Thanksgiving Day, so Tuesday.


def test_handling_days_are_business_days_after_dispatch():
    assert dispatch_date(
        _tokyo(10), calendar=JP, timezone="Asia/Tokyo", cutoff=CUTOFF, handling_days=2
    ) == date(2026, 11, 20)


def test_cutoff_countdown_before_and_after_cutoff():
    at, seconds = cutoff_countdown(
        _tokyo(14, 30), calendar=JP, timezone="Asia/Tokyo", cutoff=CUTOFF
    )
    assert seconds == 30 * 60 and at is not None and at.date() == date(2026, 11, 18)
    at, seconds = cutoff_countdown(_tokyo(16), calendar=JP, timezone="Asia/Tokyo", cutoff=CUTOFF)
    assert at is not None and at.date() == date(2026, 11, 19) and seconds == 23 * 3600
    assert cutoff_countdown(_tokyo(16), calendar=JP, timezone="Asia/Tokyo", cutoff=None) == (
        None,
        None,
    )
