"""The merchant's fulfilment-network page and its CSV (thin views over :mod:`network`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_babel import get_locale

from postpurchase.db import get_session
from postpurchase.i18n import lazy_gettext as _l
from postpurchase.insights import export, network
from postpurchase.insights.web import period_of
from postpurchase.models import Brand
from postpurchase.models.types import id_of
from postpurchase.web.merchant import require_merchant
from postpurchase.web.params import Params

merchant_network = Blueprint("merchant_network", __name__, url_prefix="/merchant")

#: Rows of the stock split the page shows (the CSV has them all).
PAGE_SPLIT_ROWS = 200

SKIP_LABELS = {
    network.Skip.no_centre: _l("No fulfilment centre on a parcel"),
    network.Skip.several_centres: _l("Parcels from several centres"),
    network.Skip.no_region: _l("No single destination region"),
    network.Skip.no_lines: _l("No order lines"),
    network.Skip.no_estimate: _l("No delivered parcels to compare with"),
}


def _what_if(brand: Brand) -> network.WhatIf:
    start, end = period_of(brand)
    prefer = Params(request.args).enum("prefer", network.Prefer, network.Prefer.fastest)
    return network.what_if(
        session=get_session(),
        brand_id=id_of(brand),
        start=start,
        end=end,
        prefer=prefer or network.Prefer.fastest,
    )


@merchant_network.get("/insights/network")
@require_merchant
def page(brand: Brand) -> Any:
    result = _what_if(brand)
    grid = result.matrix
    return render_template(
        "pages/insights/network.html",
        brand=brand,
        result=result,
        grid=grid,
        words=export.Words(str(get_locale()), grid.currency),
        skip_labels=SKIP_LABELS,
        split=result.split[:PAGE_SPLIT_ROWS],
        period={"start": grid.start.isoformat(), "end": grid.end.isoformat()},
    )


@merchant_network.get("/insights/network.csv")
@require_merchant
def csv_download(brand: Brand) -> Response:
    result = _what_if(brand)
    grid = result.matrix
    name = (
        f"network-{brand.slug}-{grid.start.isoformat()}-{grid.end.isoformat()}-{result.prefer}.csv"
    )
    return Response(
        network.csv_text(result),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
