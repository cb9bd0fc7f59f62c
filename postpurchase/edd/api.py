"""EDD endpoints: the public checkout estimate and a parcel's prediction basis (thin views)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app, request
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator

from carriers.registry import codes as carrier_codes
from postpurchase.clock import utcnow
from postpurchase.db import get_session
from postpurchase.edd import service
from postpurchase.throttle import hit, retry_after
from postpurchase.web.auth import require_brand
from postpurchase.web.errors import ApiError, error_response

edd_api = Blueprint("edd_api", __name__, url_prefix="/api/v1")

RATE_WINDOW = timedelta(minutes=1)


class CheckoutQuery(BaseModel):
    """The query of ``GET /api/v1/edd``: every value bounded, since anyone may send it."""

    model_config = ConfigDict(extra="ignore")

    brand: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", description="The brand's slug.", examples=["acme"]
    )
    postal_code: str = Field(
        pattern=r"^[0-9A-Za-z][0-9A-Za-z -]{2,11}$",
        description="Destination postal code, e.g. `530-0001`.",
        examples=["530-0001"],
    )
    service: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,32}$")
    fc: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Fulfilment centre code."
    )
    carrier: str | None = Field(
        default=None,
        description="A known carrier code, e.g. `yamato`.",
        json_schema_extra=lambda schema: schema.update(enum=list[JsonValue](carrier_codes())),
    )
    region: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$"
    )

    @field_validator("carrier")
    @classmethod
    def _known_carrier(cls, value: str | None) -> str | None:
        if value is not None and value not in carrier_codes():
            raise ValueError("unknown carrier; one of: " + ", ".join(carrier_codes()))
        return value


def _query() -> CheckoutQuery:
    """The validated query; 400 naming the first bad parameter (``missing_brand``, ...)."""
    args = {name: value for name, value in request.args.items() if value != ""}
    try:
        return CheckoutQuery.model_validate(args)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        name = str(errors[0]["loc"][0])
        code = f"missing_{name}" if errors[0]["type"] == "missing" else f"invalid_{name}"
        details = [{"loc": f"query.{e['loc'][0]}", "msg": e["msg"]} for e in errors]
        raise ApiError(400, code, f"{name}: {errors[0]['msg']}", details) from None


def _over_limit() -> Response | None:
    """Count this request against its address (shared by every worker); the 429 when over."""
    now = utcnow()
    session = get_session()
    count = hit(
        session=session, key=f"edd:{request.remote_addr or ''}", now=now, window=RATE_WINDOW
    )
    session.commit()
    if count <= int(current_app.config["EDD_REQUESTS_PER_MINUTE"]):
        return None
    wait = retry_after(now, RATE_WINDOW)
    response = error_response(
        429,
        "too_many_requests",
        "Too many estimates from this address; wait a minute.",
        {"retry_after": wait},
    )
    response.headers["Retry-After"] = str(wait)
    return response


@edd_api.get("/edd")
def checkout_edd() -> Any:
    """Public: delivery dates for a parcel ordered now (no order yet), with the cut-off countdown."""
    query = _query()
    refused = _over_limit()
    if refused is not None:
        return refused
    try:
        return service.checkout_estimate(
            session=get_session(),
            models=service.models_of(current_app),
            brand_slug=query.brand,
            postal_code=query.postal_code,
            service=query.service,
            fc_code=query.fc,
            carrier=query.carrier,
            region=query.region,
        )
    except service.EddInputError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None


@edd_api.get("/shipments/<int:shipment_id>/edd")
def shipment_edd(shipment_id: int) -> dict[str, Any]:
    """The parcel's current dates and the basis of each stored prediction (brand API key)."""
    brand = require_brand()
    answer = service.shipment_basis(
        session=get_session(), brand_id=brand.id, shipment_id=shipment_id
    )
    if answer is None:
        raise ApiError(404, "not_found", f"no shipment {shipment_id} for this brand")
    return answer
