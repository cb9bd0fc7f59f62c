"""The report as words, charts, CSV and PDF: what the page, the CSV download and the PDF share."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

from carriers.registry import display_names
from postpurchase.i18n import format_money, ngettext, time_slot_label
from postpurchase.i18n import gettext as _
from postpurchase.insights.charts import Chart, bar_chart
from postpurchase.insights.figures import FigureRow
from postpurchase.insights.queries import Report
from postpurchase.returns.policy import ReturnPolicy

#: Longest period a page or export may cover, so one request never scans years of parcels.
MAX_DAYS = 366
DEFAULT_DAYS = 30

#: The figures of a row, as the API names them (see :class:`figures.FigureRow`).
FIGURE_COLUMNS: tuple[str, ...] = tuple(
    name for name in FigureRow.__dataclass_fields__ if name != "group"
)
#: ``table`` names the page's table a line belongs to; group columns are empty where not grouped.
CSV_COLUMNS: tuple[str, ...] = (
    "table",
    "carrier",
    "service",
    "destination_region",
    "segment",
    "time_slot",
    "reason_code",
    "currency",
    *FIGURE_COLUMNS,
    "reason_share",
    # The period's currency conversion, on every line: the latest rate date used and the parcels
    # whose amount in another currency had no rate (left out of the money figures).
    "rate_date",
    "unconverted",
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


#: Figures that count parcels, beside ``shipments`` and the like.
_COUNTS = ("late", "late_complaints")


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
        return str(
            ngettext(
                "%(days)s day",
                "%(days)s days",
                plural,
                days=format_decimal(value, locale=self.locale),
            )
        )

    def share(self, value: float | None) -> str:
        return "–" if value is None else format_percent(value, locale=self.locale)

    def day(self, value: date) -> str:
        return format_date(value, "medium", locale=self.locale)

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.locale)

    def carrier(self, code: str | None) -> str:
        return _("Unknown carrier") if code is None else display_names(code, None, self.locale)[0]

    def carrier_service(self, code: str | None, service: str | None) -> str:
        """``ヤマト運輸 · 宅急便``: a carrier and its service as sold."""
        if code is None:
            return _("Unknown carrier")
        carrier, name = display_names(code, service, self.locale)
        return f"{carrier} · {name}" if name else carrier

    def method(self, row: FigureRow) -> str:
        return self.carrier_service(row.group.get("carrier"), row.group.get("service"))

    def carrier_of(self, row: FigureRow) -> str:
        return self.carrier(row.group.get("carrier"))

    def region_of(self, row: FigureRow) -> str:
        return self.region(row.group.get("destination_region"))

    def segment_of(self, row: FigureRow) -> str:
        return str(
            _("Repeat customers") if row.group.get("segment") == "repeat" else _("First order")
        )

    def slot_of(self, row: FigureRow) -> str:
        slot = row.group.get("time_slot")
        return time_slot_label(slot, self.locale) if slot else str(_("No time slot requested"))

    def region(self, value: str | None) -> str:
        return value or _("Unknown region")

    def reason(self, code: str) -> str:
        return self.returns.reason_label(code, self.locale)

    def conversion(self, rate_date: date | None, unconverted: int) -> str:
        """What the money figures did with amounts in other currencies; empty when there were none."""
        said = []
        if rate_date is not None:
            said.append(
                _(
                    "Amounts in other currencies were converted to %(currency)s at reference rates; the latest rate date used: %(date)s.",
                    currency=self.currency,
                    date=self.day(rate_date),
                )
            )
        if unconverted:
            said.append(
                ngettext(
                    "%(num)s parcel had an amount in another currency with no rate to convert it: left out of the money figures.",
                    "%(num)s parcels had an amount in another currency with no rate to convert it: left out of the money figures.",
                    unconverted,
                )
            )
        return " ".join(str(sentence) for sentence in said)

    def score(self, value: float | None) -> str:
        """An NPS, whole points with a sign (``+12``, ``−5``)."""
        return "–" if value is None else format_decimal(round(value), "+#,##0;−#,##0", self.locale)

    def figure(self, name: str, value: float | None) -> str:
        """A headline or table figure by its name in :class:`FigureRow`."""
        if name in ("shipments", "delivered", "returned_units", "nps_responses", *_COUNTS):
            return "–" if value is None else self.number(value)
        if name.endswith(("_share", "_rate")) or name.startswith("return_rate"):
            return self.share(value)
        if name.startswith(("order_to_delivery_", "transit_")):
            return self.days(None if value is None else round(value, 1))
        if name.startswith("nps"):
            return self.score(value)
        return self.money(None if value is None else round(value))

    def change(self, name: str, value: float | None) -> str:
        """The change of a headline against the previous period: points for shares, else signed units."""
        if value is None:
            return "–"
        if name.endswith(("_share", "_rate")):
            points = format_decimal(round(100 * value, 1), "+#,##0.0;−#,##0.0", self.locale)
            return _("%(points)s pt", points=points)
        if name == "nps":
            return self.score(value)
        if name.startswith("order_to_delivery_days"):
            return format_decimal(round(value, 1), "+#,##0.#;−#,##0.#", self.locale)
        return format_decimal(value, "+#,##0;−#,##0", self.locale)


def charts(report: Report, words: Words) -> dict[str, list[Chart]]:
    """The charts of each area of the page, keyed by area (``methods``, ``speed``, ...)."""

    def chart(title: str, rows: list[FigureRow], name: str, label: Any) -> Chart:
        known = [row for row in rows if getattr(row, name) is not None]
        return bar_chart(
            title,
            [
                (label(row), getattr(row, name), words.figure(name, getattr(row, name)))
                for row in known
            ],
        )

    areas = {
        "methods": [
            chart(_("Mean cost by shipping method"), report.methods, "cost_avg", words.method),
        ],
        "speed": [
            chart(
                _("Median days from order to delivery by shipping method"),
                report.methods,
                "order_to_delivery_days_median",
                words.method,
            ),
            chart(
                _("On-time share by shipping method"),
                report.methods,
                "on_time_share",
                words.method,
            ),
        ],
        "redelivery": [
            chart(
                _("Redelivery rate by carrier"),
                report.carriers,
                "redelivery_rate",
                words.carrier_of,
            ),
            chart(
                _("Redelivery rate by region"), report.regions, "redelivery_rate", words.region_of
            ),
        ],
        "returns": [
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
            )
        ],
    }
    return {area: [c for c in drawn if c.bars] for area, drawn in areas.items()}


def csv_text(report: Report) -> str:
    """Every table of the page, one line per row, figures as the API gives them (minor units, fractions)."""

    def plain(value: object) -> str:
        return "" if value is None else str(value)

    conversion = [plain(report.rate_date), str(report.unconverted)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    tables = (
        ("overview", [report.overview]),
        ("methods", report.methods),
        ("carriers", report.carriers),
        ("regions", report.regions),
        ("segments", report.segments),
        ("time_slots", report.time_slots),
    )
    for table, rows in tables:
        for row in rows:
            groups = [
                plain(row.group.get(name))
                for name in ("carrier", "service", "destination_region", "segment", "time_slot")
            ]
            figures = [plain(getattr(row, name)) for name in FIGURE_COLUMNS]
            writer.writerow([table, *groups, "", report.currency, *figures, "", *conversion])
    units = FIGURE_COLUMNS.index("returned_units")
    for reason in report.reasons:
        figures = [""] * len(FIGURE_COLUMNS)
        figures[units] = str(reason.units)
        writer.writerow(
            [
                "return_reasons",
                "",
                "",
                "",
                "",
                "",
                reason.reason_code,
                report.currency,
                *figures,
                reason.share,
                *conversion,
            ]
        )
    return out.getvalue()
