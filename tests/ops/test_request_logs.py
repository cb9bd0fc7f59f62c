"""Request ids on every response and in JSON log lines."""

from __future__ import annotations

import json
import logging

from postpurchase import create_app
from postpurchase.ops.logs import JsonFormatter


def test_a_request_id_is_generated_and_echoed(client) -> None:
    request_id = client.get("/healthz").headers["X-Request-Id"]
    assert len(request_id) == 32


def test_the_callers_request_id_is_kept(client) -> None:
    response = client.get("/healthz", headers={"X-Request-Id": "lb-7f3a.42"})
    assert response.headers["X-Request-Id"] == "lb-7f3a.42"


def test_a_request_id_that_could_forge_log_lines_is_replaced(client) -> None:
    response = client.get("/healthz", headers={"X-Request-Id": 'x" level=ERROR'})
    assert response.headers["X-Request-Id"] != 'x" level=ERROR'


def record(message: str, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord(
        "postpurchase.test", logging.WARNING, __file__, 1, message, (), exc_info
    )


def test_a_json_log_line_has_time_level_logger_and_message() -> None:
    line = json.loads(JsonFormatter().format(record("carrier slow")))
    assert {k: line[k] for k in ("level", "logger", "message")} == {
        "level": "WARNING",
        "logger": "postpurchase.test",
        "message": "carrier slow",
    }
    assert line["time"].endswith("+00:00")
    assert "request_id" not in line


def test_a_json_log_line_inside_a_request_names_the_request_and_the_brand(app) -> None:
    with app.test_request_context("/acme/track", headers={"X-Request-Id": "req-1"}):
        app.preprocess_request()
        line = json.loads(JsonFormatter().format(record("looked up")))
    assert (line["request_id"], line["brand"]) == ("req-1", "acme")


def test_a_json_log_line_is_one_line_even_with_a_traceback() -> None:
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        import sys

        text = JsonFormatter().format(record("failed", sys.exc_info()))
    assert "\n" not in text
    assert "ValueError" in json.loads(text)["exception"]


def test_log_format_json_formats_the_root_handlers(app_config, monkeypatch) -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler()
    monkeypatch.setattr(root, "handlers", [handler])
    create_app({**app_config, "LOG_FORMAT": "json"})
    assert isinstance(handler.formatter, JsonFormatter)


def test_an_unknown_log_format_is_refused(app_config) -> None:
    import pytest

    with pytest.raises(ValueError, match="LOG_FORMAT"):
        create_app({**app_config, "LOG_FORMAT": "xml"})
