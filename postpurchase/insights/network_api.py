"""``GET /api/v1/fulfilment/advice``: which centre should ship an order, and why (brand API key)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import Blueprint, request
from pydantic import BaseModel, Field

from postpurchase.clock import utcnow
from postpurchase.db import get_session
from postpurchase.i18n import to_local
from postpurchase.insights import network
from postpurchase.models.types import id_of
from postpurchase.web.apidoc import Route, query_parameter
from postpurchase.web.auth import require_brand
from postpurchase.web.errors import ApiError
from postpurchase.web.params import MAX_ID, BadParameter, Params, whole_number

network_api = Blueprint("network_api", __name__, url_prefix="/api/v1")

#: Lines one question may carry: an order, not a catalogue.
MAX_LINES = 100
POSTAL_CODE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z -]{2,11}$")
SKU_LENGTH = 128


class ShortfallPublic(BaseModel):
    sku: str
    needed: int
    available: int | None = Field(description="Null: the centre never reported this SKU.")


class OptionPublic(BaseModel):
    """One centre: its stock of the order's lines now and its record to the region."""

    fc_code: str
    name: str
    in_stock: bool = Field(description="Every line's quantity is available now.")
    missing: list[ShortfallPublic]
    expected_days: float | None = Field(
        description="Median days from order to delivery of the brand's parcels from this centre "
        "to the region in the window (null: none delivered)."
    )
    expected_cost: float | None = Field(
        description="Mean carrier cost of those parcels, in minor units of `currency`."
    )
    delivered: int = Field(description="Delivered parcels the estimate stands on.")
    reasons: list[network.Reason] = Field(
        description="`in_stock`, `out_of_stock`, `no_stock_record` (never reported a line), "
        "`no_history` (no delivered parcel to the region), `fastest`/`cheapest` (the pick), "
        "`slower`, `more_expensive`, `ranked_lower` (same figures, lost the tie)."
    )


class AdvicePublic(BaseModel):
    destination_region: str
    prefer: network.Prefer
    history_from: date = Field(description="First order date of the history read (local).")
    history_to: date
    currency: str
    centre: OptionPublic | None = Field(
        description="The centre to pick: in stock, best on `prefer`; null when none is in stock "
        "with a record to the region."
    )
    alternatives: list[OptionPublic] = Field(description="Every other centre, best first.")


def _lines(params: Params) -> dict[str, int]:
    """``sku`` (repeated) and ``quantity`` (repeated, same order; default 1 each) as units per SKU."""
    skus = request.args.getlist("sku")
    quantities = request.args.getlist("quantity")
    if not skus:
        raise BadParameter("sku", "name at least one SKU (repeat sku= for more lines)")
    if len(skus) > MAX_LINES:
        raise BadParameter("sku", f"at most {MAX_LINES} lines")
    if quantities and len(quantities) != len(skus):
        raise BadParameter("quantity", "give one quantity per sku, in the same order, or none")
    lines: dict[str, int] = {}
    for index, sku in enumerate(skus):
        if not 1 <= len(sku) <= SKU_LENGTH or not sku.isprintable():
            raise BadParameter("sku", f"must be 1 to {SKU_LENGTH} printable characters")
        units = whole_number("quantity", quantities[index], low=1, high=MAX_ID) if quantities else 1
        lines[sku] = min(lines.get(sku, 0) + units, MAX_ID)
    return lines


@network_api.get("/fulfilment/advice")
def advice() -> dict[str, Any]:
    brand = require_brand()
    params = Params(request.args)
    postal_code = params.raw("destination_postal_code")
    if postal_code is None:
        raise BadParameter("destination_postal_code", "is required")
    if not POSTAL_CODE.match(postal_code):
        raise BadParameter("destination_postal_code", "is not a postal code, e.g. 530-0001")
    prefer = params.enum("prefer", network.Prefer, network.Prefer.fastest) or network.Prefer.fastest
    lines = _lines(params)
    session = get_session()
    region = network.region_for_postal_code(
        session=session, brand_id=id_of(brand), postal_code=postal_code
    )
    if region is None:
        raise ApiError(
            422,
            "unknown_destination",
            "destination_postal_code: no region known for it",
            [{"loc": "query.destination_postal_code", "msg": "no region known for it"}],
        )
    result = network.advise(
        session=session,
        brand_id=id_of(brand),
        region=region,
        lines=lines,
        today=to_local(utcnow(), brand.timezone).date(),
        prefer=prefer,
    )

    def option(choice: network.Option) -> OptionPublic:
        return OptionPublic(
            fc_code=choice.fc_code,
            name=choice.name,
            in_stock=choice.in_stock,
            missing=[ShortfallPublic(**vars(short)) for short in choice.missing],
            expected_days=choice.days,
            expected_cost=choice.cost,
            delivered=choice.delivered,
            reasons=choice.reasons,
        )

    return AdvicePublic(
        destination_region=result.region,
        prefer=result.prefer,
        history_from=result.start,
        history_to=result.end,
        currency=result.currency,
        centre=option(result.choice) if result.choice else None,
        alternatives=[option(other) for other in result.alternatives],
    ).model_dump(mode="json")


ROUTE = Route(
    summary="The fulfilment centre to ship an order from, with its reasons",
    description=(
        "Ranks the brand's centres for an order to `destination_postal_code`: a centre is a "
        "candidate when it has every line in stock now (its last `inventory.updated` level, "
        "restocks included); candidates are ranked on the brand's own parcels of the last "
        f"{network.ADVICE_DAYS} days from each centre to the destination region — median days "
        "from order to delivery and mean carrier cost — fastest first (then cheapest) or, with "
        "`prefer=cheapest`, the other way round. The region is the one the brand's parcels to the "
        "same three-digit postal prefix went to, else the Japanese prefecture of the code."
    ),
    answers={200: ("The pick (null when no centre fits) and every alternative.", AdvicePublic)},
    errors=(400, 422),
    parameters=(
        query_parameter(
            "destination_postal_code",
            {"type": "string", "pattern": POSTAL_CODE.pattern},
            "Destination postal code, e.g. `530-0001`.",
            required=True,
        ),
        query_parameter(
            "sku",
            {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": SKU_LENGTH},
                "minItems": 1,
                "maxItems": MAX_LINES,
            },
            "A line's SKU; repeat for more lines (`sku=A&sku=B`).",
            required=True,
        ),
        query_parameter(
            "quantity",
            {
                "type": "array",
                "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                "maxItems": MAX_LINES,
            },
            "Units of each line, in the order of `sku` (default 1 each).",
        ),
        query_parameter(
            "prefer",
            {"type": "string", "enum": [member.value for member in network.Prefer]},
            "What to rank on first; default `fastest`.",
        ),
    ),
)
