"""Insights: how a brand's deliveries perform over a period, as a merchant page, CSV and PDF."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the merchant insights pages, their link on the merchant home page, the figures API and
    the receivers that keep the figures' rollup current."""
    from postpurchase import signals
    from postpurchase.i18n import lazy_gettext
    from postpurchase.insights import network, receivers
    from postpurchase.insights.api import ROUTE, insights_api
    from postpurchase.insights.network_api import ROUTE as ADVICE_ROUTE
    from postpurchase.insights.network_api import network_api
    from postpurchase.insights.network_web import merchant_network
    from postpurchase.insights.web import merchant_insights
    from postpurchase.web.apidoc import document_route
    from postpurchase.web.merchant import add_merchant_link

    app.register_blueprint(merchant_insights)
    app.register_blueprint(insights_api)
    document_route(app, "insights_api.shipment_figures", ROUTE)
    app.register_blueprint(network_api)
    app.register_blueprint(merchant_network)
    document_route(app, "network_api.advice", ADVICE_ROUTE)
    signals.shipment_status_changed.connect(receivers.on_shipment_status_changed)
    signals.shipment_created.connect(receivers.on_shipment_created)
    signals.order_upserted.connect(receivers.on_order_upserted)
    signals.return_updated.connect(receivers.on_return_updated)
    signals.feedback_saved.connect(receivers.on_feedback_saved)
    signals.inventory_updated.connect(network.record_stock)
    add_merchant_link(app, "merchant_insights.page", lazy_gettext("Delivery insights"))
    add_merchant_link(
        app,
        "merchant_insights.voice_page",
        lazy_gettext("Voice of the customer"),
        under="merchant_insights.page",
    )
    add_merchant_link(
        app,
        "merchant_insights.kits_page",
        lazy_gettext("Unboxing kits"),
        under="merchant_insights.page",
    )
    add_merchant_link(
        app,
        "merchant_network.page",
        lazy_gettext("Fulfilment network"),
        under="merchant_insights.page",
    )
