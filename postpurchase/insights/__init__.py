"""Insights: how a brand's deliveries perform over a period, as a merchant page, CSV and PDF."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the merchant insights pages, their link on the merchant home page and the weekly email."""
    from flask_babel import lazy_gettext

    from postpurchase.insights.web import merchant_insights
    from postpurchase.web.merchant import add_merchant_link

    app.register_blueprint(merchant_insights)
    add_merchant_link(app, "merchant_insights.page", lazy_gettext("Delivery insights"))
