"""Words people read for return states, resolutions, actions and refusals: one home, translated by Babel."""

from __future__ import annotations

from typing import Any

from postpurchase.i18n import lazy_gettext as _l
from postpurchase.i18n import lazy_pgettext as _lp
from postpurchase.models.enums import ReturnMethod, ReturnResolution, ReturnState
from postpurchase.returns.money import KeepReason
from postpurchase.returns.policy import NotReturnable

STATE_LABELS = {
    ReturnState.requested: _l("Requested"),
    ReturnState.approved: _l("Approved"),
    ReturnState.label_issued: _l("Label issued"),
    ReturnState.in_transit: _l("On its way back"),
    # "Received" is also a column of dates elsewhere (受信日時): the context keeps them apart.
    ReturnState.received: _lp("return state", "Received"),
    ReturnState.refunded: _l("Refunded"),
    ReturnState.exchanged: _l("Exchanged"),
    ReturnState.credited: _l("Store credit issued"),
    ReturnState.rejected: _l("Rejected"),
    ReturnState.cancelled: _l("Cancelled"),
}

RESOLUTION_LABELS = {
    ReturnResolution.refund: _l("Refund"),
    ReturnResolution.store_credit: _l("Store credit"),
    ReturnResolution.exchange: _l("Exchange for the same or another size"),
}


def resolution_labels(other_products: bool) -> dict[ReturnResolution, Any]:
    """The resolutions' words for a brand: its exchange offers other products too when its rule
    says so, and the form and status page must not promise only another size."""
    if not other_products:
        return RESOLUTION_LABELS
    return {**RESOLUTION_LABELS, ReturnResolution.exchange: _l("Exchange for another size or item")}


NOT_RETURNABLE_LABELS = {
    NotReturnable.order_cancelled: _l("This order was cancelled."),
    NotReturnable.not_delivered: _l("Not delivered yet: you can return it once it has arrived."),
    NotReturnable.window_closed: _l("The return period has ended."),
    NotReturnable.final_sale: _l("Final sale: this item cannot be returned."),
    NotReturnable.category: _l("Items of this kind cannot be returned."),
    NotReturnable.food: _l("Food and drink cannot be returned once delivered."),
    NotReturnable.customer_limit: _l(
        "You have reached the number of returns this shop accepts for now. Please contact the shop."
    ),
    NotReturnable.already_returned: _l("Already returned."),
}

#: Merchant buttons, in the order they are offered.
ACTION_LABELS = {
    "approve": _l("Approve"),
    "reject": _l("Reject"),
    "receive": _l("Mark received"),
    "refund": _l("Refund"),
    "credit": _l("Give store credit"),
    "exchange": _l("Send exchange"),
}

#: Why the customer keeps the goods (the money preview and the status page say it).
KEEP_LABELS = {
    KeepReason.below_threshold: _l("Keep the item: you do not need to send it back."),
    KeepReason.shipping_costs_more: _l(
        "Keep the item: sending it back would cost more than it is worth."
    ),
    KeepReason.green_refund: _l(
        "Keep the item: we refund you without collecting it, to save a parcel. "
        "Please pass it on or recycle it."
    ),
}

#: What the merchant reads about why the policy decided as it did (the returns queue).
DECISION_LABELS = {
    "auto_approved": _l("Approved by the policy"),
    "manual": _l("Waits for your approval (the policy does not approve by itself)"),
    "tier": _l("Window of %(days)s days for the customer's tier %(tier)s"),
    "window": _l("Window of %(days)s days"),
    "recent": _l("Returns by this customer in the limit period before this one: %(count)s"),
}

METHOD_LABELS = {
    ReturnMethod.convenience_store: _l("Drop it off at a convenience store"),
    ReturnMethod.carrier_office: _l("Drop it off at a carrier office"),
    ReturnMethod.pickup: _l("Have the carrier pick it up"),
    ReturnMethod.post_office: _l("Send it from a post office (Yu-Pack)"),
    ReturnMethod.printed_label: _l("Print our label and hand it to any carrier"),
    ReturnMethod.carrier_label: _l("Print a prepaid carrier label"),
}
