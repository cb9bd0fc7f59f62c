"""``/api/v1``: the JSON API (brand API-key auth)."""

from __future__ import annotations

from flask import Blueprint

api = Blueprint("api", __name__, url_prefix="/api/v1")
