"""Words merchants read on the console pages: problems, next steps, resolutions (Babel)."""

from __future__ import annotations

from postpurchase.console.problems import Problem
from postpurchase.i18n import lazy_gettext as _l
from postpurchase.models import Resolution

PROBLEM_LABELS = {
    Problem.sent_back: _l("Returning to sender"),
    Problem.lost: _l("Suspected lost"),
    Problem.carrier_exception: _l("Carrier exception"),
    Problem.failed_attempt: _l("Failed delivery attempt"),
    Problem.held: _l("Held at depot or pickup point"),
    Problem.late: _l("Late against the promise"),
    Problem.stalled: _l("Stalled (no scan)"),
}

NEXT_STEPS = {
    Problem.sent_back: _l("Contact the customer to confirm the address, then reship or refund."),
    Problem.lost: _l("Open an investigation with the carrier and offer the customer a reshipment."),
    Problem.carrier_exception: _l("Read the carrier's answer below and call the carrier's depot."),
    Problem.failed_attempt: _l("Remind the customer to book redelivery (再配達) with the carrier."),
    Problem.held: _l("Remind the customer to collect the parcel before it goes back."),
    Problem.late: _l("Tell the customer about the delay and the new expected date."),
    Problem.stalled: _l("Refresh the tracking; if nothing moves, ask the carrier."),
}

RESOLUTION_LABELS = {
    Resolution.delivered: _l("Delivered after all"),
    Resolution.redelivery_arranged: _l("Redelivery arranged"),
    Resolution.reshipped: _l("Replacement sent"),
    Resolution.refunded: _l("Refunded"),
    Resolution.customer_contacted: _l("Customer contacted"),
    Resolution.carrier_claim: _l("Claim filed with the carrier"),
    Resolution.no_action_needed: _l("No action needed"),
}

#: What made a delivery-date prediction (``DeliveryPrediction.trigger``).
PREDICTION_TRIGGER_LABELS = {
    "order": _l("Order placed"),
    "handover": _l("Handed to the carrier"),
    "status": _l("New carrier scan"),
}
