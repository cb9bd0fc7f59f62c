"""Merchant insights: the page, its CSV and its PDF for a period (thin views over :mod:`queries`, whose
figures are those of :mod:`figures` and the API)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import get_locale

from postpurchase.clock import utcnow
from postpurchase.db import get_session
from postpurchase.i18n import format_local_time, to_local
from postpurchase.i18n import lazy_gettext as _l
from postpurchase.insights import export, kits, queries, voc
from postpurchase.insights.recent import Made, recent_reports
from postpurchase.models import Brand
from postpurchase.models.types import id_of
from postpurchase.pdf import pdf_bytes
from postpurchase.returns.policy import policy_for
from postpurchase.settings.model import settings_for
from postpurchase.web.merchant import require_merchant
from postpurchase.web.params import BadParameter, Params

merchant_insights = Blueprint("merchant_insights", __name__, url_prefix="/merchant")


def period_of(brand: Brand) -> tuple[date, date]:
    """The period in the query string; 400 saying what is wrong with a bad one."""
    params = Params(request.args)
    try:
        return export.period(
            params.date("start"), params.date("end"), to_local(utcnow(), brand.timezone).date()
        )
    except ValueError as error:
        raise BadParameter("start", str(error)) from None


def _report(brand: Brand) -> Made:
    """The report for the period in the query string, computed now or kept from the last minute
    (:mod:`recent`)."""
    start, end = period_of(brand)
    reference = settings_for(brand).insights.redelivery_reference
    brand_id = id_of(brand)
    return recent_reports(current_app).get(
        (brand_id, start, end, reference),
        utcnow(),
        lambda: queries.report(
            session=get_session(),
            brand_id=brand_id,
            start=start,
            end=end,
            redelivery_reference=reference,
        ),
    )


def _sort() -> tuple[str | None, bool]:
    """``?sort=<figure>`` (``-<figure>`` for largest first) for the page's tables; 400 naming ``sort``."""
    raw = Params(request.args).raw("sort")
    if not raw:
        return None, False
    name = raw.removeprefix("-")
    if name not in queries.SORTABLE:
        raise BadParameter(
            "sort", f"must be one of {', '.join(queries.SORTABLE)}", queries.SORTABLE
        )
    return name, raw.startswith("-")


#: Names of the VoC topics and delivery facts on the page and in the report.
TOPIC_LABELS = {
    voc.Topic.late: _l("Late delivery"),
    voc.Topic.redelivery: _l("Missed delivery and redelivery"),
    voc.Topic.damaged: _l("Damaged item"),
    voc.Topic.size_fit: _l("Size and fit"),
    voc.Topic.quality: _l("Product quality"),
    voc.Topic.packaging: _l("Packaging"),
    voc.Topic.service: _l("Customer service"),
    voc.Topic.price: _l("Price and fees"),
}
FACT_LABELS = {
    "late": _l("Parcel was late"),
    "damaged": _l("Damage reported by carrier or inspection"),
    "failed_attempt": _l("A delivery attempt failed"),
}


def render_report(
    template: str,
    brand: Brand,
    report: queries.Report,
    sort: tuple[str | None, bool] = (None, False),
    computed_at: datetime | None = None,
) -> str:
    """The page or PDF HTML of ``report`` (its figures ``computed_at``, by default now) in the
    current locale (the weekly email renders the PDF too)."""
    locale = str(get_locale())
    words = export.Words(locale, report.currency, policy_for(brand))
    name, descending = sort
    return render_template(
        template,
        brand=brand,
        report=report,
        words=words,
        charts=export.charts(report, words),
        headlines=queries.HEADLINES,
        tables={
            "methods": queries.sort_rows(report.methods, name, descending),
            "carriers": queries.sort_rows(report.carriers, name, descending),
            "regions": queries.sort_rows(report.regions, name, descending),
            "segments": queries.sort_rows(report.segments, name, descending),
            "time_slots": queries.sort_rows(report.time_slots, name, descending),
        },
        sort=request.args.get("sort", ""),
        generated_at=format_local_time(computed_at or utcnow(), brand.timezone, locale),
        period={"start": report.start.isoformat(), "end": report.end.isoformat()},
        topic_labels=TOPIC_LABELS,
        fact_labels=FACT_LABELS,
    )


@merchant_insights.get("/insights")
@require_merchant
def page(brand: Brand) -> Any:
    sort = _sort()
    made = _report(brand)
    return render_report("pages/insights/insights.html", brand, made.report, sort, made.at)


@merchant_insights.get("/insights.csv")
@require_merchant
def csv_download(brand: Brand) -> Response:
    report = _report(brand).report
    name = export.file_name(brand.slug, report, "csv")
    return Response(
        export.csv_text(report),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@merchant_insights.get("/insights.pdf")
@require_merchant
def pdf_download(brand: Brand) -> Response:
    made = _report(brand)
    name = export.file_name(brand.slug, made.report, "pdf")
    return Response(
        pdf_bytes(render_report("pdf/insights.html", brand, made.report, computed_at=made.at)),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


@merchant_insights.get("/insights/voice")
@require_merchant
def voice_page(brand: Brand) -> Any:
    start, end = period_of(brand)
    locale = str(get_locale())
    return render_template(
        "pages/insights/voice.html",
        brand=brand,
        voice=voc.voice(session=get_session(), brand_id=id_of(brand), start=start, end=end),
        words=export.Words(locale, "JPY", policy_for(brand)),
        topic_labels=TOPIC_LABELS,
        fact_labels=FACT_LABELS,
        period={"start": start.isoformat(), "end": end.isoformat()},
    )


def _kit_comparisons(brand: Brand) -> tuple[date, date, list[kits.KitComparison]]:
    start, end = period_of(brand)
    comparisons = kits.compare_kits(
        session=get_session(),
        brand_id=id_of(brand),
        start=start,
        end=end,
        kits=[rule.name for rule in settings_for(brand).kitting.rules],
    )
    return start, end, comparisons


@merchant_insights.get("/insights/kits")
@require_merchant
def kits_page(brand: Brand) -> Any:
    start, end, comparisons = _kit_comparisons(brand)
    return render_template(
        "pages/insights/kits.html",
        brand=brand,
        comparisons=comparisons,
        words=export.Words(str(get_locale()), brand.currency),
        start=start,
        end=end,
        repeat_days=kits.REPEAT_DAYS,
        period={"start": start.isoformat(), "end": end.isoformat()},
    )


@merchant_insights.get("/insights/kits.csv")
@require_merchant
def kits_csv(brand: Brand) -> Response:
    start, end, comparisons = _kit_comparisons(brand)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(kits.csv_rows(comparisons))
    name = f"kits-{brand.slug}-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
