"""Returns and exchanges: the brand's policy, the RMA lifecycle, the customer portal and the merchant list."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the customer portal and the merchant pages (linked from the merchant home), and the WMS feed."""
    from postpurchase.i18n import lazy_gettext
    from postpurchase.returns import exchange, execution, wms
    from postpurchase.returns.queue_web import returns_queue
    from postpurchase.returns.web import merchant_returns, returns_portal
    from postpurchase.web.merchant import add_merchant_link

    app.register_blueprint(returns_portal)
    app.register_blueprint(merchant_returns)
    app.register_blueprint(returns_queue)
    wms.connect()
    execution.connect()
    exchange.connect()
    # One entry: the queue is the returns list (the old list's address redirects to it).
    add_merchant_link(app, "returns_queue.page", lazy_gettext("Returns"))
