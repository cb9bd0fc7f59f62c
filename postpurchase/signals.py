"""Domain events that features subscribe to (blinker).

Senders emit them inside the unit of work that made the change and pass that ``session``, so a
receiver's writes (outbox rows, predictions) commit or roll back together with the change. Pass
ids, never ORM objects. Receivers connect in their package's ``init_app``.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

order_upserted = _signals.signal("order-upserted")
"""An order was created or changed. ``sender``: brand id. Kwargs: ``session``, ``order_id``,
``created`` (bool), ``now``."""

order_cancelled = _signals.signal("order-cancelled")
"""``sender``: brand id. Kwargs: ``session``, ``order_id``, ``now``."""

shipment_created = _signals.signal("shipment-created")
"""A parcel was handed over (``shipment.created`` or Shopify fulfilment). ``sender``: brand id.
Kwargs: ``session``, ``shipment_id``, ``now``."""

shipment_status_changed = _signals.signal("shipment-status-changed")
"""The normalized status of a parcel changed. ``sender``: shipment id. Kwargs: ``session``,
``brand_id``, ``previous`` and ``current`` (:class:`carriers.status.Status`), ``occurred_at`` (scan time),
``now``."""

shipment_prediction_changed = _signals.signal("shipment-prediction-changed")
"""The predicted delivery date of a parcel changed. ``sender``: shipment id. Kwargs: ``session``,
``brand_id``, ``previous_date``, ``predicted_date``, ``promised_date`` (``date | None``), ``now``."""

inventory_updated = _signals.signal("inventory-updated")
"""``sender``: brand id. Kwargs: ``session``, ``skus`` (list of str), ``now``."""

feedback_saved = _signals.signal("feedback-saved")
"""A customer gave (or changed) a score or comment. ``sender``: brand id. Kwargs: ``session``,
``order_id``, ``shipment_id`` (either may be None), ``now``."""

return_updated = _signals.signal("return-updated")
"""A return changed state. ``sender``: return id. Kwargs: ``session``, ``brand_id``, ``previous``,
``current`` (:class:`ReturnState`), ``now``."""
