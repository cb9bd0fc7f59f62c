"""The merchant console: dashboard, shipment search and detail, and the exception queue."""

from __future__ import annotations

from flask import Flask

from postpurchase.i18n import lazy_gettext


def init_app(app: Flask) -> None:
    from postpurchase.console.queries import group_args
    from postpurchase.console.web import console, dashboard
    from postpurchase.web.merchant import add_merchant_link, set_merchant_home

    app.register_blueprint(console)
    set_merchant_home(app, dashboard)
    add_merchant_link(app, "console.shipments", lazy_gettext("Shipments"))
    add_merchant_link(app, "console.exceptions", lazy_gettext("Exceptions"))
    # Insights tables link each row to the shipment list filtered to its parcels.
    app.add_template_global(group_args, "shipment_list_args")
