"""Insights: how a brand's deliveries perform over a period, as a merchant page, CSV and PDF."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the merchant insights pages, their link on the merchant home page, the figures API and
    the failed-attempt count."""
    from flask_babel import lazy_gettext

    from postpurchase import signals
    from postpurchase.insights import receivers
    from postpurchase.insights.api import ROUTE, insights_api
    from postpurchase.insights.web import merchant_insights
    from postpurchase.web.apidoc import document_route
    from postpurchase.web.merchant import add_merchant_link

    app.register_blueprint(merchant_insights)
    app.register_blueprint(insights_api)
    document_route(app, "insights_api.shipment_figures", ROUTE)
    signals.shipment_status_changed.connect(receivers.on_shipment_status_changed)
    add_merchant_link(app, "merchant_insights.page", lazy_gettext("Delivery insights"))
