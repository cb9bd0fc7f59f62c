"""The report as words, charts, CSV and PDF: what the page, the CSV download and the PDF share."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from functools import lru_cache

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from flask_babel import gettext as _
from flask_babel import ngettext

from carriers.registry import customer_links
from postpurchase.i18n import format_money, minor_to_decimal
from postpurchase.insights.charts import Chart, bar_chart
from postpurchase.insights.queries import MethodRow, Report
from postpurchase.returns.policy import ReturnPolicy

#: Longest period a page or export may cover, so one request never scans years of parcels.
MAX_DAYS = 366
DEFAULT_DAYS = 30

CSV_COLUMNS = (
    "carrier",
    "service",
    "parcels",
    "delivered",
    "currency",
    "mean_cost",
    "median_cost",
    "median_days",
    "p90_days",
    "on_time_share",
    "mean_order_total",
)


def file_name(brand_slug: str, report: Report, extension: str) -> str:
    """``insights-<brand>-<start>-<end>.<extension>``: the download's and the email attachment's name."""
    return f"insights-{brand_slug}-{report.start.isoformat()}-{report.end.isoformat()}.{extension}"


def period(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The report period from optional ``start``/``end`` dates: the last 30 days up to ``today`` by default.

    Raises ValueError with a message for people when the period is upside down or too long (both are
    faults of ``start`` as the page asks for it).
    """
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ValueError("must not be after end")
    if (end - start).days >= MAX_DAYS:
        raise ValueError(f"must be less than {MAX_DAYS} days before end")
    return start, end


class Words:
    """Formatting of the report's figures in one locale, for templates and charts."""

    def __init__(self, locale: str, currency: str, returns: ReturnPolicy | None = None) -> None:
        self.locale, self.currency = locale, currency
        #: The brand's return policy, whose reason labels name the reason codes.
        self.returns = returns or ReturnPolicy()

    def money(self, amount: int | None) -> str:
        return "–" if amount is None else format_money(amount, self.currency, self.locale)

    def days(self, value: float | None) -> str:
        if value is None:
            return "–"
        # Plural rules take whole numbers; a fractional median (1.5) reads as plural.
        plural = int(value) if float(value).is_integer() else 2
        return ngettext(
            "%(days)s day", "%(days)s days", plural, days=format_decimal(value, locale=self.locale)
        )

    def share(self, value: float | None) -> str:
        return "–" if value is None else format_percent(value, locale=self.locale)

    def day(self, value: date) -> str:
        return format_date(value, "medium", locale=self.locale)

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.locale)

    def carrier(self, code: str) -> str:
        return carrier_name(code)

    def reason(self, code: str) -> str:
        return self.returns.reason_label(code, self.locale)


@lru_cache(maxsize=256)
def carrier_name(code: str) -> str:
    """The carrier's display name from its adapter (its code when no adapter is registered)."""
    return customer_links(code, None).carrier_name


def method_label(row: MethodRow) -> str:
    return f"{carrier_name(row.carrier_code)} · {row.service}"


def charts(report: Report, words: Words) -> list[Chart]:
    """Median days and on-time share per method, median days per region and carrier, returned units per reason."""
    timed = [row for row in report.methods if row.median_days is not None]
    promised = [row for row in report.methods if row.on_time_share is not None]
    return [
        chart
        for chart in (
            bar_chart(
                _("Median delivery days by shipping method"),
                [(method_label(r), r.median_days, words.days(r.median_days)) for r in timed],
            ),
            bar_chart(
                _("On-time share by shipping method"),
                [
                    (method_label(r), r.on_time_share, words.share(r.on_time_share))
                    for r in promised
                ],
            ),
            bar_chart(
                _("Median delivery days by region and carrier"),
                [
                    (
                        f"{r.region or _('Unknown region')} · {r.carrier_code}",
                        r.median_days,
                        words.days(r.median_days),
                    )
                    for r in report.regions
                ],
            ),
            bar_chart(
                _("Returned units by reason"),
                [
                    (
                        words.reason(r.reason_code),
                        r.units,
                        f"{words.number(r.units)} ({words.share(r.share)})",
                    )
                    for r in report.reasons
                ],
            ),
        )
        if chart.bars
    ]


def csv_text(report: Report) -> str:
    """One row per shipping method after a header; amounts as decimals of ``currency``, shares as fractions."""

    def amount(value: int | None, currency: str) -> str:
        return "" if value is None else str(minor_to_decimal(value, currency))

    def plain(value: float | None) -> str:
        return "" if value is None else f"{value:g}"

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.methods:
        share = row.on_time_share
        writer.writerow(
            [
                row.carrier_code,
                row.service,
                row.parcels,
                row.delivered,
                row.currency,
                amount(row.mean_cost, row.currency),
                amount(row.median_cost, row.currency),
                plain(row.median_days),
                plain(row.p90_days),
                "" if share is None else f"{share:.4f}",
                amount(row.mean_order_total, row.currency),
            ]
        )
    return out.getvalue()
