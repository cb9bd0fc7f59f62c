"""Delivery-date prediction: calendars, the transit model, fit/predict/backtest (DESIGN.md)."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the EDD endpoints and the prediction triggers."""
    from postpurchase import signals
    from postpurchase.edd import receivers
    from postpurchase.edd.api import edd_api

    app.register_blueprint(edd_api)
    signals.shipment_created.connect(receivers.on_shipment_created)
    signals.shipment_status_changed.connect(receivers.on_shipment_status_changed)
