"""``/api/v1/settings``: the brand's settings as one JSON document (brand API key)."""

from __future__ import annotations

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from postpurchase.db import get_session
from postpurchase.inbox.jsonbody import BadJson, loads
from postpurchase.settings import operations
from postpurchase.settings.errors import translated
from postpurchase.settings.model import SettingsInvalid
from postpurchase.web.auth import bearer_token, require_brand
from postpurchase.web.errors import ApiError

settings_api = Blueprint("settings_api", __name__, url_prefix="/api/v1")


def api_actor() -> str:
    """Who changed the settings, for the history: the key's first characters, never the key."""
    return f"api:{(bearer_token() or '')[:8]}"


@settings_api.get("/settings")
def get_settings() -> ResponseReturnValue:
    return operations.document(require_brand())


@settings_api.put("/settings")
def put_settings() -> ResponseReturnValue:
    brand = require_brand()
    try:
        patch = loads(request.get_data())
    except BadJson as exc:
        raise ApiError(400, exc.code, exc.message, [{"loc": "body", "msg": exc.message}]) from None
    if not isinstance(patch, dict):
        message = "The body must be a JSON object: the settings, or some of them."
        raise ApiError(400, "invalid_settings", message, [{"loc": "body", "msg": message}])
    session = get_session()
    try:
        operations.update(session=session, brand=brand, patch=patch, actor=api_actor())
    except SettingsInvalid as exc:
        details = translated(exc.errors)
        first = details[0]
        raise ApiError(400, "invalid_settings", f"{first['loc']}: {first['msg']}", details) from None
    session.commit()
    return operations.document(brand)
