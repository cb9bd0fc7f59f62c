"""Message experiments: variants of a trigger's message, sticky assignment and honest results.

- :mod:`.stats` — the always-valid comparison (mSPRT) and per-variant intervals.
- :mod:`.operations` — create, validate, start and stop experiments; assign a customer.
- :mod:`.results` — outcomes per variant from what customers did afterwards.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the console page, the API and their documentation."""
    from postpurchase.experiments.api import ROUTES, experiments_api
    from postpurchase.experiments.web import merchant_experiments
    from postpurchase.i18n import lazy_gettext
    from postpurchase.web.apidoc import document_route
    from postpurchase.web.merchant import add_merchant_link

    app.register_blueprint(experiments_api)
    app.register_blueprint(merchant_experiments)
    for endpoint, route in ROUTES.items():
        document_route(app, f"experiments_api.{endpoint}", route)
    add_merchant_link(
        app,
        "merchant_experiments.index",
        lazy_gettext("Experiments"),
        under="merchant_messages.log",
    )
