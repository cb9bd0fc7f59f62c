"""EDD endpoints: the public checkout estimate and a parcel's prediction basis (thin views)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from postpurchase.db import get_session
from postpurchase.edd import service
from postpurchase.tracking.api import existing_id
from postpurchase.web.auth import require_brand
from postpurchase.web.errors import ApiError

edd_api = Blueprint("edd_api", __name__, url_prefix="/api/v1")


@edd_api.get("/edd")
def checkout_edd() -> dict[str, Any]:
    """Public: delivery dates for a parcel ordered now (no order yet), with the cut-off countdown."""
    args = request.args
    if not args.get("brand"):
        raise ApiError(400, "missing_brand", "brand (the brand's slug) is required")
    session = get_session()
    try:
        answer = service.checkout_estimate(
            session=session, brand_slug=args["brand"], postal_code=args.get("postal_code", ""),
            service=args.get("service") or None, fc_code=args.get("fc") or None,
            carrier=args.get("carrier") or None, region=args.get("region") or None,
        )
    except service.EddInputError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    session.commit()
    return answer


@edd_api.get("/shipments/<int:shipment_id>/edd")
def shipment_edd(shipment_id: int) -> dict[str, Any]:
    """The parcel's current dates and the basis of each stored prediction (brand API key)."""
    brand = require_brand()
    existing_id(shipment_id)
    answer = service.shipment_basis(session=get_session(), brand_id=brand.id, shipment_id=shipment_id)
    if answer is None:
        raise ApiError(404, "not_found", f"no shipment {shipment_id} for this brand")
    return answer
