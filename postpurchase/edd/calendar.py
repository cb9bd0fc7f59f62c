"""Delivery calendars: which local dates a carrier moves parcels, and when a parcel starts moving.

A :class:`CarrierCalendar` combines the country's public holidays (the ``holidays`` package, any
ISO country code), the carrier's working weekdays and its own closures such as the year-end/new-year
break or Obon. Transit times are counted in the carrier's business days, so a parcel ordered on a
Friday before a holiday Monday is not predicted to arrive on the Sunday.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import cached_property, lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import numpy as np

#: Days since this date index the precomputed business-day tables.
EPOCH = date(2000, 1, 1)
_TABLE_DAYS = 366 * 60  # 2000..2059
_TABLE_END = EPOCH + timedelta(days=_TABLE_DAYS - 1)
#: A day whose closed reason is not worked out yet (None means: open).
_UNKNOWN = object()


@dataclass(frozen=True)
class Closure:
    """A yearly closure from ``start`` to ``end`` (``(month, day)``, inclusive; may wrap the year)."""

    name: str
    start: tuple[int, int]
    end: tuple[int, int]

    def covers(self, day: date) -> bool:
        key = (day.month, day.day)
        if self.start <= self.end:
            return self.start <= key <= self.end
        return key >= self.start or key <= self.end


#: The closures Japanese carriers commonly announce; brands switch them on per carrier.
YEAR_END = Closure("year_end", (12, 31), (1, 3))
OBON = Closure("obon", (8, 13), (8, 16))
NAMED_CLOSURES: dict[str, Closure] = {c.name: c for c in (YEAR_END, OBON)}


@dataclass(frozen=True)
class CarrierCalendar:
    """The days a carrier delivers: weekdays (0=Monday) minus national holidays minus closures."""

    country: str = "JP"
    workdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    closures: tuple[Closure, ...] = ()
    observe_holidays: bool = True
    extra_closed: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def from_settings(
        cls, country: str, settings: Mapping[str, Any] | None = None
    ) -> CarrierCalendar:
        """Build from a brand's ``settings["edd"]["calendar"]`` mapping.

        Keys: ``workdays`` (list of weekday numbers), ``closures`` (names from
        :data:`NAMED_CLOSURES` or ``{"name", "start": "MM-DD", "end": "MM-DD"}``),
        ``holidays`` (bool), ``closed_dates`` (ISO dates).
        """
        settings = settings or {}
        closures = tuple(_closure(item) for item in settings.get("closures", ()))
        return cls(
            country=country.upper(),
            workdays=frozenset(int(d) for d in settings.get("workdays", (0, 1, 2, 3, 4))),
            closures=closures,
            observe_holidays=bool(settings.get("holidays", True)),
            extra_closed=frozenset(date.fromisoformat(d) for d in settings.get("closed_dates", ())),
        )

    def for_destination(self, country: str | None) -> CarrierCalendar:
        """The calendar of a lane ending in ``country``: that country's public holidays.

        The brand's closures and closed dates are its home carrier's, so a lane abroad keeps only
        the working weekdays; an empty or unknown country (no ``holidays`` calendar) keeps this one.
        """
        code = (country or "").strip().upper()
        if not code or code == self.country or code not in _supported_countries():
            return self
        return replace(self, country=code, closures=(), extra_closed=frozenset())

    def to_settings(self) -> dict[str, Any]:
        return {
            "workdays": sorted(self.workdays),
            "closures": [
                {
                    "name": c.name,
                    "start": f"{c.start[0]:02d}-{c.start[1]:02d}",
                    "end": f"{c.end[0]:02d}-{c.end[1]:02d}",
                }
                for c in self.closures
            ],
            "holidays": self.observe_holidays,
            "closed_dates": sorted(d.isoformat() for d in self.extra_closed),
        }

    def holiday_name(self, day: date) -> str | None:
        if not self.observe_holidays:
            return None
        if EPOCH <= day <= _TABLE_END:
            return _country_holidays(self.country).get(day)
        return _country_holidays_of_year(self.country, day.year).get(day)

    @cached_property
    def _days(self) -> _Table:
        """This calendar's table, found once per object: looking it up in :func:`_table`'s cache
        hashes every field, which cost more than the rest of a prediction's calendar work."""
        return _table(self)

    def is_business_day(self, day: date) -> bool:
        return bool(self._days.open[(day - EPOCH).days])

    def closed_reason(self, day: date) -> str | None:
        """Why ``day`` is not a business day (``weekend``, a holiday's name, a closure), or None."""
        if day in self.extra_closed:
            return "closed"
        for closure in self.closures:
            if closure.covers(day):
                return closure.name
        name = self.holiday_name(day)
        if name:
            return name
        if day.weekday() not in self.workdays:
            return "weekend"
        return None

    def roll_forward(self, day: date) -> date:
        """``day`` itself if it is a business day, else the next one."""
        is_open = self._days.open
        index = (day - EPOCH).days
        while not is_open[index]:
            index += 1
        return EPOCH + timedelta(days=index)

    def add_business_days(self, day: date, count: int) -> date:
        """The ``count``-th business day after ``day`` (``day`` itself when ``count`` is 0)."""
        if count <= 0:
            return day
        table = self._days
        # the n-th business day since EPOCH is open_days[n - 1]
        return EPOCH + timedelta(days=table.open_days[table.counts[(day - EPOCH).days] + count - 1])

    def business_days_between(self, start: date, end: date) -> int:
        """Business days in ``(start, end]`` (negative when ``end`` is before ``start``)."""
        table = self._days
        return int(table.cum[(end - EPOCH).days] - table.cum[(start - EPOCH).days])

    def business_days_array(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`business_days_between` over day numbers since :data:`EPOCH`."""
        cum = self._days.cum
        counts: np.ndarray = cum[ends] - cum[starts]
        return counts

    def business_days_to_destinations(
        self, countries: np.ndarray, starts: np.ndarray, ends: np.ndarray
    ) -> np.ndarray:
        """:meth:`business_days_array`, each parcel's days counted on the calendar of its lane's
        destination country (:meth:`for_destination`; empty strings keep this calendar)."""
        counts = np.zeros(len(starts), dtype=np.int64)
        for country in np.unique(countries):
            rows = countries == country
            counts[rows] = self.for_destination(str(country)).business_days_array(
                starts[rows], ends[rows]
            )
        return counts

    def skipped_days(self, start: date, end: date) -> list[dict[str, str]]:
        """The non-business days in ``(start, end]`` with the reason, for explanations."""
        first, last = (start - EPOCH).days + 1, (end - EPOCH).days
        if first < 0 or last >= _TABLE_DAYS:
            days = [start + timedelta(days=n) for n in range(1, (end - start).days + 1)]
        else:
            # only the closed days need a reason; the table says which they are
            closed = np.flatnonzero(~self._days.open[first : last + 1])
            days = [EPOCH + timedelta(days=first + int(n)) for n in closed]
        return [
            {"date": day.isoformat(), "reason": reason}
            for day in days
            if (reason := self._remembered_reason(day))
        ]

    @cached_property
    def _reasons(self) -> dict[date, str | None]:
        return {}

    def _remembered_reason(self, day: date) -> str | None:
        """:meth:`closed_reason`, worked out once per day: every parcel predicted over a weekend
        or a holiday asks the same question."""
        reasons = self._reasons
        reason = reasons.get(day, _UNKNOWN)
        if reason is _UNKNOWN:
            if len(reasons) > 4096:
                reasons.clear()
            reason = reasons[day] = self.closed_reason(day)
        return reason  # type: ignore[return-value]


def _closure(item: str | Mapping[str, str]) -> Closure:
    if isinstance(item, str):
        try:
            return NAMED_CLOSURES[item]
        except KeyError:
            raise ValueError(
                f"unknown closure {item!r}; known: {', '.join(NAMED_CLOSURES)}"
            ) from None
    start_month, start_day = (int(p) for p in item["start"].split("-"))
    end_month, end_day = (int(p) for p in item["end"].split("-"))
    return Closure(item.get("name", "closure"), (start_month, start_day), (end_month, end_day))


@lru_cache(maxsize=1)
def _supported_countries() -> frozenset[str]:
    return frozenset(holidays.list_supported_countries())


@lru_cache(maxsize=256)
def _country_holidays(country: str) -> holidays.HolidayBase:
    """The country's holidays over the table's years, one object for them all (twice as cheap to
    build as one per year). It never grows afterwards, so threads may read it at once."""
    return holidays.country_holidays(
        country, years=range(EPOCH.year, _TABLE_END.year + 1), expand=False
    )


@lru_cache(maxsize=256)
def _country_holidays_of_year(country: str, year: int) -> holidays.HolidayBase:
    """A year outside the table's (history before 2000, for calendars checked against lists)."""
    return holidays.country_holidays(country, years=year, expand=False)


@dataclass(frozen=True)
class _Table:
    open: np.ndarray  # bool per day since EPOCH
    cum: np.ndarray  # business days in (EPOCH, day]
    #: ``cum`` and the business days' numbers (since EPOCH) as lists: one parcel's lookups are
    #: cheaper on a list than on an array.
    counts: list[int]
    open_days: list[int]


@lru_cache(maxsize=64)
def _table(calendar: CarrierCalendar) -> _Table:
    """Whether each day since :data:`EPOCH` is a business day, computed as arrays (each process
    builds it on its first prediction); the same answer as :meth:`CarrierCalendar.closed_reason`."""
    days = np.arange(_TABLE_DAYS)
    is_open = np.isin((days + EPOCH.weekday()) % 7, sorted(calendar.workdays))
    stamps = np.datetime64(EPOCH, "D") + days
    months = stamps.astype("datetime64[M]")
    month_day = (months.astype(np.int64) % 12 + 1) * 100 + (stamps - months).astype(np.int64) + 1
    for closure in calendar.closures:
        start = closure.start[0] * 100 + closure.start[1]
        end = closure.end[0] * 100 + closure.end[1]
        if start <= end:
            is_open &= ~((month_day >= start) & (month_day <= end))
        else:
            is_open &= ~((month_day >= start) | (month_day <= end))
    closed = set(calendar.extra_closed)
    if calendar.observe_holidays:
        closed.update(_country_holidays(calendar.country))
    indices = [offset for day in closed if 0 <= (offset := (day - EPOCH).days) < _TABLE_DAYS]
    is_open[indices] = False
    cum = np.cumsum(is_open).astype(np.int64)
    return _Table(is_open, cum, cum.tolist(), np.flatnonzero(is_open).tolist())


def parse_cutoff(value: str | None) -> time | None:
    """``"15:00"`` → ``time(15, 0)``; empty → None (no cut-off: any time of day ships that day)."""
    if not value:
        return None
    hours, _, minutes = value.partition(":")
    return time(int(hours), int(minutes or 0))


def dispatch_date(
    moment: datetime,
    *,
    calendar: CarrierCalendar,
    timezone: str,
    cutoff: time | None = None,
    handling_days: int = 0,
) -> date:
    """The business day a parcel ordered at ``moment`` starts moving from the fulfilment centre.

    Orders after the centre's local cut-off, or on a closed day, count from the next business day;
    ``handling_days`` more business days are added for centres that need them.
    """
    local = moment.astimezone(ZoneInfo(timezone))
    day = local.date()
    if cutoff is not None and local.time() >= cutoff:
        day += timedelta(days=1)
    return calendar.add_business_days(calendar.roll_forward(day), handling_days)


def cutoff_countdown(
    now: datetime, *, calendar: CarrierCalendar, timezone: str, cutoff: time | None
) -> tuple[datetime | None, int | None]:
    """The next cut-off moment (aware, local) and the seconds until it, or ``(None, None)``."""
    if cutoff is None:
        return None, None
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    day = local.date()
    if local.time() >= cutoff or not calendar.is_business_day(day):
        day = calendar.roll_forward(day + timedelta(days=1))
    moment = datetime.combine(day, cutoff, tzinfo=zone)
    return moment, int((moment - local).total_seconds())
