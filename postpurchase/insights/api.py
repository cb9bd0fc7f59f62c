"""``GET /api/v1/insights/shipments``: the delivery figures of a period, grouped (brand API key)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, request
from pydantic import BaseModel, ConfigDict, Field

from postpurchase.clock import utcnow
from postpurchase.db import get_session
from postpurchase.i18n import to_local
from postpurchase.insights import export, figures
from postpurchase.insights.export import MAX_DAYS
from postpurchase.models.types import id_of
from postpurchase.web.apidoc import Route, query_parameter
from postpurchase.web.auth import require_brand
from postpurchase.web.params import BadParameter, Params

insights_api = Blueprint("insights_api", __name__, url_prefix="/api/v1")


class FigureRowPublic(BaseModel):
    """The figures of one group; definitions in :mod:`postpurchase.insights.figures`."""

    group: dict[str, str | None] = Field(
        description="The value of each `group_by` dimension (null: unknown)."
    )
    shipments: int
    delivered: int
    cost_total: int | None = Field(description="Minor units of `currency`.")
    cost_avg: float | None = Field(description="Minor units of `currency`.")
    order_value_avg: float | None = Field(description="Minor units of `currency`.")
    order_to_delivery_days_median: float | None
    order_to_delivery_days_p90: float | None
    transit_days_median: float | None = Field(description="Hand-over to delivery.")
    transit_days_p90: float | None
    order_to_delivery_business_days_median: float | None
    order_to_delivery_business_days_p90: float | None
    transit_business_days_median: float | None
    transit_business_days_p90: float | None
    on_time_share: float | None
    first_attempt_share: float | None
    redelivery_rate: float | None = Field(
        description="Failed delivery attempts per delivered parcel."
    )
    return_rate: float | None
    returned_units: int
    nps: float | None = Field(description="Promoters minus detractors, in % (−100…100).")
    nps_responses: int
    response_rate: float | None
    unattended_share: float | None = Field(
        description="Delivered parcels left in a box, safe place, mailbox or locker, over delivered parcels."
    )
    late: int = Field(description="Delivered parcels with a promise, delivered after it.")
    late_complaints: int = Field(
        description="Parcels with a late-delivery return reason or feedback scored 0–6."
    )
    late_complaints_late_share: float | None = Field(
        description="Of the complaints on promised, delivered parcels: the share actually late."
    )
    return_rate_late: float | None
    return_rate_on_time: float | None
    nps_late: float | None
    nps_on_time: float | None


class InsightsPage(BaseModel):
    """The figures of the brand's parcels ordered from `from` to `to` (local dates, inclusive)."""

    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    currency: str
    rate_date: date | None = Field(
        description="Latest exchange-rate date amounts in other currencies were converted at."
    )
    unconverted: int = Field(
        description="Parcels with an amount in another currency and no rate: left out of the "
        "money figures."
    )
    group_by: list[str]
    rows: list[FigureRowPublic]


def _period(params: Params, timezone: str) -> tuple[date, date]:
    """``from``/``to``; by default the last 30 local days up to today, as on the insights page."""
    today = to_local(utcnow(), timezone).date()
    try:
        return export.period(params.date("from"), params.date("to"), today)
    except ValueError as error:
        raise BadParameter("from", f"{error}".replace("end", "to")) from None


def _group_by(raw: str | None) -> list[str]:
    names = [name.strip() for name in (raw or "").split(",") if name.strip()]
    for name in names:
        if name not in figures.GROUPS:
            raise BadParameter(
                "group_by",
                f"unknown grouping {name[:40]!r}; one of: " + ", ".join(figures.GROUPS),
                figures.GROUPS,
            )
    if len(set(names)) != len(names):
        raise BadParameter("group_by", "names a grouping twice")
    return names


@insights_api.get("/insights/shipments")
def shipment_figures() -> dict[str, Any]:
    brand = require_brand()
    params = Params(request.args)
    start, end = _period(params, brand.timezone)
    group_by = _group_by(params.raw("group_by"))
    result = figures.figures(
        session=get_session(), brand_id=id_of(brand), start=start, end=end, group_by=group_by
    )
    return InsightsPage.model_validate(
        {
            "from": result.start,
            "to": result.end,
            "currency": result.currency,
            "rate_date": result.rate_date,
            "unconverted": result.unconverted,
            "group_by": list(result.group_by),
            "rows": [FigureRowPublic(**vars(row)) for row in result.rows],
        }
    ).model_dump(mode="json", by_alias=True)


_DATE = {"type": "string", "format": "date"}
_GROUPS = "(" + "|".join(figures.GROUPS) + ")"

ROUTE = Route(
    summary="Delivery figures of a period, grouped",
    description=(
        "Parcels belong to the period by their order date in the brand's timezone (both days "
        "included). Days are whole calendar days between local dates; medians and P90 are "
        "numpy's default (linear) percentiles; shares are fractions 0–1; money is in minor units "
        "of `currency`. Each figure is defined in the README's *Delivery figures* section."
    ),
    answers={200: ("One row per group (one row in all without `group_by`).", InsightsPage)},
    errors=(400,),
    parameters=(
        query_parameter("from", _DATE, "First order date (local); default 29 days before `to`."),
        query_parameter(
            "to",
            _DATE,
            f"Last order date (local), under {MAX_DAYS} days after `from`; default today.",
        ),
        query_parameter(
            "group_by",
            {"type": "string", "pattern": f"^{_GROUPS}(,{_GROUPS})*$"},
            "Comma-separated dimensions, each at most once: "
            + ", ".join(f"`{name}`" for name in figures.GROUPS)
            + ".",
        ),
    ),
)
