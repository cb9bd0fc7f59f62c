"""Who is asking: brand API keys (``Authorization: Bearer ...``)."""

from __future__ import annotations

from flask import g, request

from postpurchase.brands import brand_for_api_key
from postpurchase.db import get_session
from postpurchase.models import Brand
from postpurchase.web.errors import ApiError


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def require_brand() -> Brand:
    """The brand of the request's API key, or a 401 JSON error."""
    if "api_brand" in g:
        known: Brand = g.api_brand
        return known
    token = bearer_token()
    if token is None:
        raise ApiError(
            401, "missing_api_key", "Send the brand's API key as 'Authorization: Bearer <key>'."
        )
    brand = brand_for_api_key(session=get_session(), key=token)
    if brand is None:
        raise ApiError(401, "invalid_api_key", "The API key is not valid or has been revoked.")
    g.api_brand = brand
    return brand
