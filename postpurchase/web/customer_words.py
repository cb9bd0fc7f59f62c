"""A :class:`~postpurchase.customer_view.CustomerView` in the customer's words.

Pages and messages call these inside the customer's locale (Flask-Babel's current or forced
locale), so the headline a page shows is the sentence an email about the same parcel says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from carriers.status import Handover
from postpurchase.customer_view import ActionKind, CustomerView, Stage, Step
from postpurchase.i18n import format_day, format_skeleton, time_slot_label, to_local
from postpurchase.i18n import gettext as _
from postpurchase.i18n import lazy_gettext as _l
from postpurchase.models import DutiesTerms

STAGE_LABELS = {
    Stage.preparing: _l("Preparing to ship"),
    Stage.shipped: _l("Shipped"),
    Stage.in_transit: _l("In transit"),
    Stage.customs_hold: _l("At customs"),
    Stage.duties_due: _l("Import duties to pay"),
    Stage.out_for_delivery: _l("Out for delivery"),
    Stage.attempt_failed: _l("Delivery attempted"),
    Stage.ready_for_pickup: _l("Ready for pickup"),
    Stage.delivered: _l("Delivered"),
    Stage.exception: _l("Delivery problem"),
    Stage.returning: _l("Returning to sender"),
    Stage.returned: _l("Returned to sender"),
    Stage.stalled: _l("No recent updates"),
}

STEP_LABELS = {
    Step.ordered: _l("Ordered"),
    Step.shipped: _l("Shipped"),
    Step.out_for_delivery: _l("Out for delivery"),
    Step.ready_for_pickup: _l("Ready for pickup"),
    Step.delivered: _l("Delivered"),
    Step.picked_up: _l("Picked up"),
}

HANDOVER_LABELS = {
    Handover.in_person: _l("Handed to you in person"),
    Handover.delivery_box: _l("Delivery box"),
    Handover.safe_place: _l("Left in your chosen safe place"),
    Handover.mailbox: _l("Mailbox"),
    Handover.locker: _l("Parcel locker"),
    Handover.convenience_store: _l("Convenience store"),
    Handover.post_office: _l("Post office"),
    Handover.depot: _l("Carrier's office"),
}


@dataclass(frozen=True)
class Words:
    """What the first screen says about one parcel."""

    label: str
    headline: str
    #: Sentences under the headline (the original promise, what happens next), in order.
    details: tuple[str, ...]
    #: The action button's text, and the instruction when its link cannot carry the number.
    action_label: str | None
    action_hint: str | None


def day_phrase(day: date, today: date, locale: str) -> str:
    """``明日 12月2日(水)`` / ``tomorrow, Wed, Dec 2``: the day, with today/tomorrow said in words."""
    formatted = format_day(day, locale)
    if day == today:
        return _("today, %(day)s", day=formatted)
    if day == today + timedelta(days=1):
        return _("tomorrow, %(day)s", day=formatted)
    return formatted


def expected_phrase(view: CustomerView, today: date, locale: str) -> str:
    """The expected day or window with the time slot, e.g. ``明日 12月2日(水) 午前中``."""
    if view.expected is None:
        return ""
    if view.expected_until is not None:
        return _(
            "%(start)s – %(end)s",
            start=day_phrase(view.expected, today, locale),
            end=format_day(view.expected_until, locale),
        )
    when = day_phrase(view.expected, today, locale)
    slot = time_slot_label(view.time_slot, locale)
    return _("%(day)s, %(slot)s", day=when, slot=slot) if slot else when


def _headline(view: CustomerView, today: date, locale: str, timezone: str) -> str:
    if view.expected is not None:
        when = expected_phrase(view, today, locale)
        if view.delay is not None:
            return _("Running late: now arriving %(when)s", when=when)
        return _("Arriving %(when)s", when=when)
    if view.delay is not None:
        return _("Your parcel is running late")
    if view.stage == Stage.ready_for_pickup and view.pickup is not None:
        place = view.pickup.location or (
            str(HANDOVER_LABELS[view.pickup.place]) if view.pickup.place else ""
        )
        if place:
            return _("Ready for pickup at %(place)s", place=place)
    if view.stage == Stage.delivered and view.delivered_at is not None:
        local = to_local(view.delivered_at, timezone)
        when = " ".join(
            (day_phrase(local.date(), today, locale), format_skeleton("Hm", local, locale))
        )
        return _("Delivered %(when)s", when=when)
    return str(_STAGE_HEADLINES[view.stage])


_STAGE_HEADLINES = {
    Stage.preparing: _l("We are preparing your order"),
    Stage.shipped: _l("Your parcel is on its way"),
    Stage.in_transit: _l("Your parcel is on its way"),
    Stage.customs_hold: _l("Your parcel is being checked by customs"),
    Stage.duties_due: _l("Pay the import duties to receive your parcel"),
    Stage.out_for_delivery: _l("Out for delivery today"),
    Stage.attempt_failed: _l("We could not deliver your parcel"),
    Stage.ready_for_pickup: _l("Ready for pickup"),
    Stage.delivered: _l("Delivered"),
    Stage.exception: _l("There is a problem with the delivery"),
    Stage.returning: _l("Your parcel is on its way back to us"),
    Stage.returned: _l("Your parcel was returned to us"),
    Stage.stalled: _l("No recent updates from the carrier"),
}


def slot_move_phrase(view: CustomerView, locale: str) -> str | None:
    """Why the expected day is a later one, in one line, when the requested slot moved it."""
    move = view.slot_moved
    if move is None:
        return None
    slot = time_slot_label(move.slot, locale)
    cutoff = format_skeleton("Hm", datetime.combine(date.min, move.cutoff), locale)
    if move.from_day is None:
        return _(
            "The parcel reaches the delivery office after %(cutoff)s, too late for the %(slot)s "
            "slot that day, so it comes a day later.",
            cutoff=cutoff,
            slot=slot,
        )
    return _(
        "Moved from %(day)s: the parcel reaches the delivery office after %(cutoff)s, too late "
        "for the %(slot)s slot that day.",
        day=format_day(move.from_day, locale),
        cutoff=cutoff,
        slot=slot,
    )


def _details(view: CustomerView, today: date, locale: str) -> list[str]:
    details = []
    moved = slot_move_phrase(view, locale)
    if moved:
        details.append(moved)
    if view.handover is not None:
        details.append(_("Where: %(place)s", place=HANDOVER_LABELS[view.handover]))
    if view.delay is not None and view.delay.promised is not None:
        details.append(
            _("Originally expected %(day)s.", day=format_day(view.delay.promised, locale))
        )
    if view.delay is not None and view.delay.new_date is None:
        details.append(_("We are waiting for the carrier's next scan and will update this page."))
    if view.stage == Stage.attempt_failed:
        details.append(
            _("Nobody was available to receive it, so the carrier took it back to its office.")
        )
    if view.stage == Stage.ready_for_pickup and view.pickup and view.pickup.until:
        details.append(
            _(
                "Pick it up by %(day)s; after that it is sent back to us.",
                day=day_phrase(view.pickup.until, today, locale),
            )
        )
    details += customs_details(view)
    if view.stage == Stage.exception:
        details.append(
            _("The carrier is looking into it. Contact us if you need the parcel urgently.")
        )
    if view.stage in (Stage.returning, Stage.returned):
        details.append(_("Contact us to have it sent again or to get a refund."))
    if view.stage == Stage.stalled:
        details.append(_("Contact us if your parcel has not arrived."))
    return details


def customs_details(view: CustomerView) -> list[str]:
    """What customs means for the customer now: a hold, duties to pay and how, or who pays them."""
    customs = view.customs
    if customs is None:
        return []
    details = []
    if customs.duties_due:
        details.append(
            _(
                "The carrier collects the import duties and taxes before it delivers. Pay them on "
                "the carrier's page (the button below); the parcel moves on once they are paid."
            )
        )
    elif customs.held:
        details.append(
            _(
                "Customs in the destination country is checking your parcel. This usually takes "
                "a few days; there is nothing you need to do unless the carrier contacts you."
            )
        )
    if not customs.duties_due and customs.terms == DutiesTerms.ddu:
        details.append(
            _(
                "Import duties and taxes are not included in your order: the carrier will ask "
                "you to pay them before or on delivery."
            )
        )
    elif customs.terms == DutiesTerms.ddp:
        details.append(_("Import duties and taxes are already paid: you have nothing to pay."))
    return details


def _action(view: CustomerView, carrier: str) -> tuple[str | None, str | None]:
    action = view.action
    if action is None:
        return None, None
    label = {
        ActionKind.redeliver: _("Arrange redelivery"),
        ActionKind.change: _("Change delivery date, time or place"),
        ActionKind.pay_duties: _("Pay import duties on the carrier's page"),
    }[action.kind]
    hint = None
    if not action.carries_number and action.tracking_number:
        hint = _(
            "On the %(carrier)s form, enter tracking number %(number)s.",
            carrier=carrier,
            number=action.tracking_number,
        )
    return label, hint


def customer_words(
    view: CustomerView, *, today: date, locale: str, timezone: str, carrier: str
) -> Words:
    """The label, headline, details and action text of ``view`` in the current locale."""
    label, hint = _action(view, carrier)
    return Words(
        label=str(STAGE_LABELS[view.stage]),
        headline=_headline(view, today, locale, timezone),
        details=tuple(_details(view, today, locale)),
        action_label=label,
        action_hint=hint,
    )
