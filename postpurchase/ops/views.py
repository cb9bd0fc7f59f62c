"""``/readyz`` and ``/metrics``."""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric

from postpurchase.clock import utcnow
from postpurchase.config import running_app
from postpurchase.metrics import metrics_of
from postpurchase.ops.collector import DatabaseCollector
from postpurchase.ops.readiness import readiness
from postpurchase.web.errors import ApiError

ops = Blueprint("ops", __name__)


@ops.get("/readyz")
def readyz() -> tuple[dict[str, object], int]:
    """200 when the process can serve: database, schema and scheduler leader; else 503."""
    state = readiness(running_app(), now=utcnow())
    return state.as_json(), 200 if state.ready else 503


@ops.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics; asks for ``METRICS_TOKEN`` as a bearer token when one is set."""
    _require_token(str(current_app.config.get("METRICS_TOKEN") or ""))
    app = running_app()
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # all gunicorn workers
    else:
        registry.register(_OwnMetrics(metrics_of(app).registry))
    registry.register(DatabaseCollector(app, utcnow))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


class _OwnMetrics:
    """This process's registry seen as one collector of another registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


def _require_token(token: str) -> None:
    if not token:
        return
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip(), token):
        raise ApiError(
            401,
            "invalid_token",
            "/metrics needs the METRICS_TOKEN as 'Authorization: Bearer <token>'",
            {"field": "Authorization"},
        )
