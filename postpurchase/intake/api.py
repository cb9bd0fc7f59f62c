"""``/api/v1``: the JSON API (brand API-key auth)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from postpurchase.config import running_app
from postpurchase.db import get_session
from postpurchase.intake.openapi import openapi_document
from postpurchase.intake.queries import order_public
from postpurchase.intake.views import receive_generic_event
from postpurchase.web.auth import require_brand
from postpurchase.web.errors import ApiError

api = Blueprint("api", __name__, url_prefix="/api/v1")

api.add_url_rule("/events", "events", receive_generic_event, methods=["POST"])


@api.get("/openapi.json")
def openapi() -> dict[str, Any]:
    return openapi_document(running_app())


@api.get("/orders/<path:external_id>")
def get_order(external_id: str) -> dict[str, Any]:
    brand = require_brand()
    order = order_public(session=get_session(), brand=brand, external_id=external_id)
    if order is None:
        raise ApiError(404, "order_not_found", f"No order {external_id!r} for this brand.")
    return order.model_dump(mode="json")
