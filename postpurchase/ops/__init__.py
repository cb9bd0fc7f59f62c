"""Operations: readiness, Prometheus metrics, request ids and structured logs.

``/healthz`` (the process answers) lives with the web layer; this package adds ``/readyz`` (the
database answers, migrations are at head, a scheduler leader is known), ``/metrics``, an
``X-Request-Id`` on every request and response, and JSON log lines when ``LOG_FORMAT=json``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the operations routes, request ids and the log format."""
    from postpurchase.ops import logs
    from postpurchase.ops.views import ops

    logs.init_app(app)
    app.register_blueprint(ops)
