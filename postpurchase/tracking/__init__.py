"""Carrier tracking: the shipment state machine, the poll planner and carrier webhooks.

Public entry points for other features:

* :func:`postpurchase.tracking.apply.apply_result` — apply a ``TrackingResult`` to a shipment.
* :func:`postpurchase.tracking.planner.poll_due` — one planner run.
* :func:`postpurchase.tracking.routing.configure_adapter` — adapter options (the demo's sandbox
  ``time_scale``/``clock``).
"""

from flask import Flask


def init_app(app: Flask) -> None:
    """Connect this feature's blueprints, inbox handler and signal receivers."""
    from postpurchase.inbox import register_handler
    from postpurchase.signals import shipment_created, shipment_prediction_changed
    from postpurchase.tracking import receivers
    from postpurchase.tracking.api import shipments_api
    from postpurchase.tracking.routing import extension
    from postpurchase.tracking.webhooks import SOURCE_FAMILY, carrier_event_handler, webhooks

    extension(app)
    app.register_blueprint(shipments_api)
    app.register_blueprint(webhooks)
    register_handler(app, SOURCE_FAMILY, carrier_event_handler(app))
    shipment_created.connect(
        receivers.on_shipment_created
    )  # connecting twice is a no-op in blinker
    shipment_prediction_changed.connect(receivers.on_prediction_changed)
