"""Domain events that features subscribe to (blinker).

Senders emit them inside the unit of work that made the change and pass that ``session``, so a
receiver's writes (outbox rows, predictions) commit or roll back together with the change. Pass
ids, never ORM objects. Receivers connect in their package's ``init_app``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from blinker import NamedSignal, Namespace


class _ConnectionOrder(dict[Any, None]):
    """The set blinker keeps receivers in, iterated in the order they were connected.

    blinker's default ``set`` yields them in the order of their ids' hashes, i.e. of where the
    receivers happen to live in memory: which of the EDD and messaging ran first on
    ``shipment_created`` (and so whether the shipped message knew the predicted date, and how many
    UPDATEs a new parcel cost) changed from one process to the next. Connection order follows the
    features' order in :data:`postpurchase.FEATURES`.
    """

    def add(self, item: Any) -> None:
        self[item] = None

    def discard(self, item: Any) -> None:
        self.pop(item, None)

    def copy(self) -> _ConnectionOrder:
        return _ConnectionOrder(self)

    def __or__(self, other: Any) -> _ConnectionOrder:  # type: ignore[override]
        merged = _ConnectionOrder(self)
        merged.update(dict.fromkeys(other))
        return merged


class _OrderedSignal(NamedSignal):
    set_class = _ConnectionOrder  # type: ignore[assignment]


class _OrderedNamespace(Namespace):
    def signal(self, name: str, doc: str | None = None) -> NamedSignal:
        if name not in self:
            self[name] = _OrderedSignal(name, doc)
        return self[name]


_signals = _OrderedNamespace()

order_upserted = _signals.signal("order-upserted")
"""An order was created or changed. ``sender``: brand id. Kwargs: ``session``, ``order_id``,
``created`` (bool), ``now``."""

order_cancelled = _signals.signal("order-cancelled")
"""``sender``: brand id. Kwargs: ``session``, ``order_id``, ``now``."""

batch_loaded = _signals.signal("batch-loaded")
"""An inbox batch's orders and their customers were read, before its events are applied: receivers
may read ahead what they will need for all of them, in one query instead of one per event.
``sender``: brand id. Kwargs: ``session``, ``orders``, ``customers`` (lists of rows), ``contacts``
(the customers' contact details as the batch's events give them: ``email``, ``phone``,
``line_user_id``; new customers too)."""

shipment_created = _signals.signal("shipment-created")
"""A parcel was handed over (``shipment.created`` or Shopify fulfilment). ``sender``: brand id.
Kwargs: ``session``, ``shipment_id``, ``now``. Sent once, by whoever inserted the parcel's row, in
the same unit of work: receivers may take it that nothing refers to the parcel yet."""

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

message_engaged = _signals.signal("message-engaged")
"""A customer opened or clicked a message. ``sender``: brand id. Kwargs: ``session``,
``customer_id`` (None for a guest), ``now``."""

return_updated = _signals.signal("return-updated")
"""A return changed state. ``sender``: return id. Kwargs: ``session``, ``brand_id``, ``previous``,
``current`` (:class:`ReturnState`), ``now``."""


_late_notices: ContextVar[bool] = ContextVar("postpurchase.late_notices", default=False)


@contextmanager
def late_notices_allowed(allowed: bool = True) -> Iterator[None]:
    """Events applied inside this block may tell customers however old they are.

    A backfill or replay is quiet by default: a receiver that sends a customer message checks the
    event's age against the trigger's freshness limit. An importer that means to notify (the event's
    ``notify_late``, ``postpurchase inbox retry --notify-late``) wraps its work in this block; a
    context variable, because the flag has to pass through operations that know nothing of messages.
    """
    token = _late_notices.set(allowed)
    try:
        yield
    finally:
        _late_notices.reset(token)


def late_notices() -> bool:
    """Whether the events being applied now may notify customers past the freshness limit."""
    return _late_notices.get()
