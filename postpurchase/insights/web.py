"""Merchant insights: the page, its CSV and its PDF for a period (thin views over :mod:`queries`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_babel import get_locale

from postpurchase.clock import utcnow
from postpurchase.db import get_session
from postpurchase.i18n import to_local
from postpurchase.insights import export, queries
from postpurchase.models import Brand
from postpurchase.pdf import pdf_bytes
from postpurchase.returns.policy import policy_for
from postpurchase.web.merchant import require_merchant
from postpurchase.web.params import BadParameter, Params

merchant_insights = Blueprint("merchant_insights", __name__, url_prefix="/merchant")


def _report(brand: Brand) -> queries.Report:
    """The report for the period in the query string; 400 saying what is wrong with a bad period."""
    params = Params(request.args)
    try:
        start, end = export.period(
            params.date("start"), params.date("end"), to_local(utcnow(), brand.timezone).date()
        )
    except ValueError as error:
        raise BadParameter("start", str(error)) from None
    return queries.report(session=get_session(), brand_id=brand.id, start=start, end=end)


def render_report(template: str, brand: Brand, report: queries.Report) -> str:
    """The page or PDF HTML of ``report`` in the current locale (the weekly email renders the PDF too)."""
    words = export.Words(str(get_locale()), report.currency, policy_for(brand))
    return render_template(
        template,
        brand=brand,
        report=report,
        words=words,
        charts=export.charts(report, words),
        method_label=export.method_label,
        period={"start": report.start.isoformat(), "end": report.end.isoformat()},
    )


@merchant_insights.get("/insights")
@require_merchant
def page(brand: Brand) -> Any:
    return render_report("pages/insights/insights.html", brand, _report(brand))


@merchant_insights.get("/insights.csv")
@require_merchant
def csv_download(brand: Brand) -> Response:
    report = _report(brand)
    name = export.file_name(brand.slug, report, "csv")
    return Response(
        export.csv_text(report),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@merchant_insights.get("/insights.pdf")
@require_merchant
def pdf_download(brand: Brand) -> Response:
    report = _report(brand)
    name = export.file_name(brand.slug, report, "pdf")
    return Response(
        pdf_bytes(render_report("pdf/insights.html", brand, report)),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )
