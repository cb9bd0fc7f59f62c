"""Request ids and JSON log lines.

Every request gets an id: the caller's ``X-Request-Id`` when it is a sane token, else a new one;
it is echoed in the response header and written on every log line of the request. With
``LOG_FORMAT=json`` each log line is one JSON object: ``time``, ``level``, ``logger``,
``message``, and ``request_id`` and ``brand`` when known (plus ``exception`` with a traceback).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-Id"
#: A caller's id is kept only when it cannot forge log lines or headers.
_SANE_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
FORMATS = ("text", "json")


def init_app(app: Flask) -> None:
    log_format = str(app.config.get("LOG_FORMAT") or "text").strip().lower()
    if log_format not in FORMATS:
        raise ValueError(f"LOG_FORMAT={log_format!r}: expected one of {FORMATS}")
    app.before_request(_take_request_id)
    app.after_request(_echo_request_id)
    if log_format == "json":
        use_json_lines(logging.getLogger())


def use_json_lines(logger: logging.Logger) -> None:
    """Format every handler of ``logger`` (the root logger: all of them) as JSON lines."""
    if not logger.handlers:
        logger.addHandler(logging.StreamHandler())
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())


def _take_request_id() -> None:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = given if _SANE_ID.match(given) else uuid.uuid4().hex


def _echo_request_id(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


def request_fields() -> dict[str, Any]:
    """``request_id`` and ``brand`` (slug) of the current request, where known."""
    if not has_request_context():
        return {}
    fields: dict[str, Any] = {}
    if request_id := g.get("request_id"):
        fields["request_id"] = request_id
    brand = g.get("merchant_brand") or g.get("api_brand")
    slug = getattr(brand, "slug", None) or (request.view_args or {}).get("brand_slug")
    if slug:
        fields["brand"] = slug
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **request_fields(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)
