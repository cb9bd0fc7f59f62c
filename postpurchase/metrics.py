"""Per-process Prometheus metrics of the request path, one registry per app.

Only what happens on the request path of the process that answers is counted here (events
accepted); everything a job does is counted in the database (:mod:`postpurchase.counters`) so any
process's ``/metrics`` shows the whole deployment. Under gunicorn, set ``PROMETHEUS_MULTIPROC_DIR``
and the worker processes of one server add up (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

from flask import Flask
from prometheus_client import CollectorRegistry, Counter

EXTENSION_KEY = "postpurchase.metrics"


class Metrics:
    """The app's own registry and the metrics in it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.intake_accepted = Counter(
            "postpurchase_intake_accepted",
            "Events accepted for processing (answered 202), per source.",
            ["source"],
            registry=self.registry,
        )


def metrics_of(app: Flask) -> Metrics:
    """The app's :class:`Metrics`, created on first use."""
    metrics: Metrics | None = app.extensions.get(EXTENSION_KEY)
    if metrics is None:
        metrics = app.extensions.setdefault(EXTENSION_KEY, Metrics())
        assert isinstance(metrics, Metrics)
    return metrics
