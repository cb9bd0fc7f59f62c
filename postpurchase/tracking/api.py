"""``/api/v1/shipments``: shipments with their timelines, and forced refreshes (brand API key)."""

from __future__ import annotations

import math

from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue

from carriers.status import Status
from postpurchase.config import running_app
from postpurchase.db import get_session
from postpurchase.models.types import id_of
from postpurchase.schemas import ShipmentPage, ShipmentPublic
from postpurchase.tracking.operations import (
    CarrierUnavailable,
    RefreshTooSoon,
    ShipmentNotFound,
    get_shipment,
    list_shipments,
    refresh_shipment,
)
from postpurchase.tracking.routing import extension
from postpurchase.web.auth import require_brand
from postpurchase.web.errors import ApiError, error_response
from postpurchase.web.params import MAX_ID

shipments_api = Blueprint("shipments_api", __name__, url_prefix="/api/v1")

MAX_LIMIT = 100
#: Ids are ``Integer`` columns: larger ids and cursors name no row, and binding them fails
#: (PostgreSQL cannot cast them to ``integer``; SQLite cannot bind past 64 bits).


def _not_found(shipment_id: int) -> ApiError:
    return ApiError(
        404,
        "not_found",
        f"No shipment {shipment_id}.",
        [{"loc": "path.shipment_id", "msg": "no such shipment for this brand"}],
    )


@shipments_api.get("/shipments/<int:shipment_id>")
def shipment_detail(shipment_id: int) -> ResponseReturnValue:
    brand = require_brand()
    try:
        shipment = get_shipment(
            session=get_session(), brand_id=id_of(brand), shipment_id=shipment_id
        )
    except ShipmentNotFound:
        raise _not_found(shipment_id) from None
    return ShipmentPublic.of(shipment).model_dump(mode="json")


def _int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    message = f"'{name}' must be an integer between {low} and {high}."
    if not raw.isascii() or not raw.isdigit() or len(raw) > len(str(high)):
        raise ApiError(
            400, "invalid_parameter", message, [{"loc": f"query.{name}", "msg": message}]
        )
    value = int(raw)
    if not low <= value <= high:
        raise ApiError(
            400, "invalid_parameter", message, [{"loc": f"query.{name}", "msg": message}]
        )
    return value


@shipments_api.get("/shipments")
def shipment_list() -> ResponseReturnValue:
    brand = require_brand()
    raw_status = request.args.get("status")
    try:
        status = Status(raw_status) if raw_status else None
    except ValueError:
        allowed = ", ".join(s.value for s in Status)
        message = f"Unknown status {(raw_status or '')[:40]!r}; one of: {allowed}."
        raise ApiError(
            400, "invalid_parameter", message, [{"loc": "query.status", "msg": message}]
        ) from None
    limit = _int_arg("limit", 50, 1, MAX_LIMIT)
    cursor = _int_arg("cursor", None, 0, MAX_ID)
    assert limit is not None
    page = list_shipments(
        session=get_session(), brand_id=id_of(brand), status=status, limit=limit, cursor=cursor
    )
    return ShipmentPage.of(page).model_dump(mode="json")


@shipments_api.post("/shipments/<int:shipment_id>/refresh")
def shipment_refresh(shipment_id: int) -> ResponseReturnValue:
    brand = require_brand()
    app = running_app()
    try:
        _, shipment = refresh_shipment(
            app, brand_id=id_of(brand), shipment_id=shipment_id, now=extension(app).clock()
        )
    except ShipmentNotFound:
        raise _not_found(shipment_id) from None
    except RefreshTooSoon as exc:
        return _retry_later(429, "too_many_requests", str(exc), exc.retry_after)
    except CarrierUnavailable as exc:
        return _retry_later(
            503,
            "carrier_unavailable",
            "The carrier could not be asked now; the planner will retry.",
            exc.retry_after,
        )
    return ShipmentPublic.of(shipment).model_dump(mode="json")


def _retry_later(status: int, code: str, message: str, seconds: float) -> Response:
    """An error answer with ``Retry-After`` (whole seconds, at least 1) in the header and the body."""
    wait = max(1, math.ceil(seconds))
    response: Response = error_response(status, code, message, {"retry_after": wait})
    response.headers["Retry-After"] = str(wait)
    return response
