"""Insights: how a brand's deliveries perform over a period, as a merchant page, CSV and PDF."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the merchant insights pages, their link on the merchant home page and the weekly email."""
    from flask_babel import lazy_gettext

    from postpurchase.insights.web import merchant_insights
    from postpurchase.insights.weekly import CHECK_EVERY_SECONDS, weekly_job
    from postpurchase.jobs import JobSpec, register_job
    from postpurchase.web.merchant import MERCHANT_LINKS

    app.register_blueprint(merchant_insights)
    link = ("merchant_insights.page", lambda: str(lazy_gettext("Delivery insights")))
    if all(endpoint != link[0] for endpoint, _ in MERCHANT_LINKS):
        MERCHANT_LINKS.append(link)
    register_job(JobSpec("insights-weekly", weekly_job, CHECK_EVERY_SECONDS))
