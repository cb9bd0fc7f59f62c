"""Words customers read for statuses, options and steps: one home, translated by Babel."""

from __future__ import annotations

from carriers.status import Status
from postpurchase.i18n import lazy_gettext as _l
from postpurchase.i18n import lazy_pgettext as _lp
from postpurchase.models import Channel, DeliveryOption, OutboxState

STATUS_LABELS = {
    Status.pending: _l("Preparing to ship"),
    Status.info_received: _l("Label created"),
    Status.in_transit: _l("In transit"),
    Status.export_cleared: _l("Cleared for export"),
    Status.held_at_customs: _l("At customs"),
    Status.duties_due: _l("Import duties to pay"),
    Status.import_cleared: _l("Cleared by customs"),
    Status.out_for_delivery: _l("Out for delivery"),
    Status.attempt_fail: _l("Delivery attempted"),
    Status.available_for_pickup: _l("Ready for pickup"),
    Status.delivered: _l("Delivered"),
    Status.exception: _l("Delivery problem"),
    Status.returning_to_sender: _l("Returning to sender"),
    Status.returned: _l("Returned to sender"),
    Status.expired: _l("No recent updates"),
}

DELIVERY_OPTION_LABELS = {
    DeliveryOption.door: _l("Hand delivery"),
    DeliveryOption.leave_at_door: _l("Leave at door"),
    DeliveryOption.convenience_store: _l("Convenience store pickup"),
    DeliveryOption.depot_pickup: _l("Pickup at the carrier's depot"),
    DeliveryOption.locker: _l("Parcel locker"),
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
