"""Brand settings: one typed model (:mod:`.model`) that every feature reads, changed through
:mod:`.operations` by three doors: the console (:mod:`.web`), ``/api/v1/settings`` (:mod:`.api`)
and ``postpurchase settings`` (:mod:`.cli`). Every change is in the audit log and can be undone.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the settings pages, their merchant link and the API."""
    from postpurchase.settings import web
    from postpurchase.settings.api import ROUTES, settings_api
    from postpurchase.web.apidoc import document_route

    web.init_app(app)
    app.register_blueprint(settings_api)
    for endpoint, route in ROUTES.items():
        document_route(app, endpoint, route)
