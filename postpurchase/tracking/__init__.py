"""Carrier tracking: the shipment state machine, the poll planner and carrier webhooks.

Public entry points for other features:

* :func:`postpurchase.tracking.apply.apply_result` — apply a ``TrackingResult`` to a shipment.
* :func:`postpurchase.tracking.planner.poll_due` — one planner run.
* :func:`postpurchase.tracking.routing.configure_adapter` — adapter options (the demo's sandbox
  ``time_scale``/``clock``).
"""

from flask import Flask


def init_app(app: Flask) -> None:
    """Connect this feature's blueprints, inbox handler and scheduled jobs."""
    from postpurchase.intake.inbox import register_handler
    from postpurchase.jobs import JobSpec, register_job
    from postpurchase.signals import shipment_created, shipment_prediction_changed
    from postpurchase.tracking import jobs
    from postpurchase.tracking.api import shipments_api
    from postpurchase.tracking.planner import replan_first_poll, schedule_first_poll
    from postpurchase.tracking.routing import extension
    from postpurchase.tracking.webhooks import SOURCE_FAMILY, apply_carrier_event, webhooks

    extension(app)
    app.register_blueprint(shipments_api)
    app.register_blueprint(webhooks)
    register_handler(SOURCE_FAMILY, apply_carrier_event)
    register_job(JobSpec("tracking.poll", jobs.poll_job, jobs.POLL_EVERY_SECONDS))
    register_job(JobSpec("tracking.maintain", jobs.maintain_job, jobs.MAINTAIN_EVERY_SECONDS))
    register_job(JobSpec("tracking.purge", jobs.purge_job, jobs.PURGE_EVERY_SECONDS))
    shipment_created.connect(schedule_first_poll)  # connecting twice is a no-op in blinker
    shipment_prediction_changed.connect(replan_first_poll)
