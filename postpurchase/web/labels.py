"""Words customers read for statuses, options and steps: one home, translated by Babel."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp

from postpurchase.models import Channel, DeliveryOption, OutboxState, ShipmentStatus

STATUS_LABELS = {
    ShipmentStatus.pending: _l("Preparing to ship"),
    ShipmentStatus.info_received: _l("Label created"),
    ShipmentStatus.in_transit: _l("In transit"),
    ShipmentStatus.out_for_delivery: _l("Out for delivery"),
    ShipmentStatus.attempt_fail: _l("Delivery attempted"),
    ShipmentStatus.available_for_pickup: _l("Ready for pickup"),
    ShipmentStatus.delivered: _l("Delivered"),
    ShipmentStatus.exception: _l("Delivery problem"),
    ShipmentStatus.returning_to_sender: _l("Returning to sender"),
    ShipmentStatus.returned: _l("Returned to sender"),
    ShipmentStatus.expired: _l("No recent updates"),
}

DELIVERY_OPTION_LABELS = {
    DeliveryOption.door: _l("Hand delivery"),
    DeliveryOption.leave_at_door: _l("Leave at door"),
    DeliveryOption.convenience_store: _l("Convenience store pickup"),
    DeliveryOption.depot_pickup: _l("Pickup at the carrier's depot"),
    DeliveryOption.locker: _l("Parcel locker"),
}

#: The progress bar on the tracking page: step labels, and the step each status reaches.
PROGRESS_STEPS = (_l("Ordered"), _l("Shipped"), _l("Out for delivery"), _l("Delivered"))
STATUS_STEP = {
    ShipmentStatus.pending: 0,
    ShipmentStatus.info_received: 0,
    ShipmentStatus.in_transit: 1,
    ShipmentStatus.exception: 1,
    ShipmentStatus.expired: 1,
    ShipmentStatus.returning_to_sender: 1,
    ShipmentStatus.returned: 1,
    ShipmentStatus.out_for_delivery: 2,
    ShipmentStatus.attempt_fail: 2,
    ShipmentStatus.available_for_pickup: 2,
    ShipmentStatus.delivered: 3,
}

#: Words merchants read on the message pages: outbox states and channels (triggers: the
#: messaging catalogue).
OUTBOX_STATE_LABELS = {
    OutboxState.pending: _l("Waiting"),
    OutboxState.sending: _l("Sending"),
    OutboxState.sent: _l("Sent"),
    OutboxState.held: _l("Held (quiet hours or cap)"),
    OutboxState.failed: _l("Failed"),
    OutboxState.suppressed: _l("Not sent (suppressed)"),
    OutboxState.unknown: _l("Outcome unknown"),
    OutboxState.stale: _l("Not sent (too late)"),
}

CHANNEL_LABELS = {
    Channel.email: _lp("channel", "Email"),
    Channel.sms: _l("SMS"),
    Channel.line: _l("LINE"),
    Channel.line_notification: _l("LINE notification message"),
    Channel.webhook: _l("Webhook"),
}
