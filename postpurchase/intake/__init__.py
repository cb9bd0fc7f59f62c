"""Intake: events from a WMS/OMS (generic schema) and from Shopify, through the inbox.

Public functions other features (the demo generator, importers) call:

- :func:`postpurchase.inbox.accept` ``(app, **the arguments of receive) -> Received``: what
  every webhook route calls; on SQLite it stores in the spool (:mod:`postpurchase.inbox.spool`).
- :func:`postpurchase.inbox.receive` ``(*, session, brand_id, source, external_id,
  raw_body, event_type="", occurred_at=None, headers=None, signature_ok=True, state=pending,
  now=None) -> Received(id, duplicate)``: store an event (deduplicated); the caller commits.
- :func:`postpurchase.inbox.process_pending` ``(app, *, limit=10_000, now=None) ->
  ProcessStats``: process every due event (what the scheduler's sweep does).
- :func:`postpurchase.inbox.process_events` ``(app, ids=None, *, limit=50, now=None)``:
  process one batch, e.g. the ids just stored.
- :func:`postpurchase.inbox.worker.submit` ``(app, event_id)``: hand a committed event to this
  process's background processor (what the webhook views do when ``INBOX_INLINE`` is on).
- :func:`postpurchase.intake.generic.parse_event` ``(raw_body) -> envelope``: validate a body
  like the endpoint does (raises ``InvalidEvent`` with ``status`` 400/422 and field ``details``).
- :func:`postpurchase.intake.generic.apply_data` ``(*, session, brand_id, event_type, data,
  occurred_at, now) -> Applied``: apply validated ``data`` directly, without the inbox.
- The operations in :mod:`postpurchase.intake.operations` (``upsert_order``, ``cancel_order``,
  ``create_shipment``, ``update_shipment``, ``cancel_shipment``, ``update_inventory``,
  ``record_return``), each ``(*, session, brand_id, data, occurred_at, now) -> Applied``, raising
  :class:`~postpurchase.inbox.Deferred` when what they refer to is missing.
- :func:`postpurchase.inbox.signing.sign` ``(secret, raw_body, timestamp) -> str``: the
  ``X-Postpurchase-Signature`` value a sender must send.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the webhook endpoints, the ``/api/v1`` events, orders and OpenAPI routes, and the
    inbox handlers."""
    from postpurchase.inbox import register_handler
    from postpurchase.intake import generic, shopify
    from postpurchase.intake.api import api
    from postpurchase.intake.views import webhooks

    app.register_blueprint(api)
    app.register_blueprint(webhooks)
    register_handler(app, generic.SOURCE, generic.apply_event, generic.prefetch, settles=True)
    register_handler(app, shopify.SOURCE, shopify.apply_event)
