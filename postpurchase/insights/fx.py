"""Money across currencies: a brand's table of reference rates and the conversions it allows.

A brand loads rates as the ECB publishes them (``postpurchase fx import``): one row per day, one
column per currency, each cell the units of that currency one euro buys. An amount is converted on
the order's local date at the latest rates on or before it (weekends and holidays have none), so a
figure can say which rate date it stands on; an amount without such a rate is counted as left out,
never quietly dropped or summed in the wrong currency.
"""

from __future__ import annotations

import bisect
import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from babel.numbers import get_currency_precision
from sqlmodel import Session, col, select

from postpurchase.models import FxRate

#: A rate older than this before the order day is not used: the amount is reported as unconverted.
MAX_RATE_AGE = timedelta(days=7)
_BASE = "EUR"


class RatesFileError(ValueError):
    """The rates file is not in the ECB reference-rate CSV format; the message names the line."""


def _rate_day(text: str, line: int) -> date:
    for parse in (date.fromisoformat, lambda t: datetime.strptime(t, "%d %B %Y").date()):  # noqa: DTZ007 - a calendar date, not a moment
        try:
            return parse(text)
        except ValueError:
            continue
    raise RatesFileError(
        f"line {line}: date {text!r} is neither YYYY-MM-DD nor like '02 December 2026'"
    )


def read_ecb_csv(text: str) -> list[tuple[date, str, float]]:
    """``(day, currency, units per euro)`` of an ECB reference-rate CSV (daily or history file).

    Empty and ``N/A`` cells (a currency not quoted that day) are skipped.
    """
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or not rows[0] or rows[0][0].strip().lower() != "date":
        raise RatesFileError("line 1: the header must start with 'Date' and name the currencies")
    currencies = [cell.strip().upper() for cell in rows[0][1:]]
    found = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or not row[0].strip():
            continue
        day = _rate_day(row[0].strip(), line)
        for currency, cell in zip(currencies, row[1:], strict=False):
            value = cell.strip()
            if not currency or not value or value.upper() == "N/A":
                continue
            try:
                rate = float(value)
            except ValueError:
                raise RatesFileError(
                    f"line {line}: {currency} rate {value!r} is not a number"
                ) from None
            if rate <= 0:
                raise RatesFileError(f"line {line}: {currency} rate {value!r} is not positive")
            found.append((day, currency, rate))
    return found


def import_rates(
    *, session: Session, brand_id: int, rates: Iterable[tuple[date, str, float]]
) -> int:
    """Store the brand's rates, replacing a day's rate loaded before; returns how many were read."""
    stored = {
        (row.currency, row.rate_date): row
        for row in session.exec(select(FxRate).where(FxRate.brand_id == brand_id))
    }
    count = 0
    for day, currency, per_eur in rates:
        row = stored.get((currency, day))
        if row is None:
            row = stored[(currency, day)] = FxRate(
                brand_id=brand_id, currency=currency, rate_date=day, per_eur=per_eur
            )
        row.per_eur = per_eur
        session.add(row)
        count += 1
    session.flush()
    return count


@dataclass(frozen=True)
class Converted:
    amount: int
    #: The rate date used (the older of the two currencies' rates when neither is the euro).
    rate_date: date | None


class RateTable:
    """A brand's rates in memory, for converting many amounts."""

    def __init__(self, rates: Iterable[tuple[date, str, float]]) -> None:
        by_currency: dict[str, list[tuple[date, float]]] = {}
        for day, currency, per_eur in rates:
            by_currency.setdefault(currency.upper(), []).append((day, per_eur))
        self._days = {c: [d for d, _ in sorted(v)] for c, v in by_currency.items()}
        self._rates = {c: [r for _, r in sorted(v)] for c, v in by_currency.items()}

    @classmethod
    def of_brand(cls, session: Session, brand_id: int) -> RateTable:
        rows = session.exec(
            select(col(FxRate.rate_date), col(FxRate.currency), col(FxRate.per_eur)).where(
                col(FxRate.brand_id) == brand_id
            )
        ).all()
        return cls(rows)

    def _rate(self, currency: str, day: date) -> tuple[float, date | None] | None:
        if currency == _BASE:
            return 1.0, None
        days = self._days.get(currency)
        if not days:
            return None
        index = bisect.bisect_right(days, day) - 1
        if index < 0 or day - days[index] > MAX_RATE_AGE:
            return None
        return self._rates[currency][index], days[index]

    def convert(self, amount: int, source: str, target: str, day: date) -> Converted | None:
        """``amount`` (minor units of ``source``) in minor units of ``target`` at the rates of
        ``day``; None when either currency has no rate in the week up to it."""
        source, target = source.upper(), target.upper()
        if source == target:
            return Converted(amount, None)
        rate_from, rate_to = self._rate(source, day), self._rate(target, day)
        if rate_from is None or rate_to is None:
            return None
        major = amount / 10 ** get_currency_precision(source)
        value = major / rate_from[0] * rate_to[0]
        dates = [d for d in (rate_from[1], rate_to[1]) if d is not None]
        return Converted(round(value * 10 ** get_currency_precision(target)), min(dates))
