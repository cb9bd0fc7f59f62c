"""What a parcel's state means for its customer: one decision for the page, the JSON and messages.

The carrier's status, the predicted and promised dates and the scans can disagree (a returned
parcel keeps the date it was predicted for; a pickup parcel keeps the door delivery the shop
booked). :func:`customer_view` settles them once, so every surface says the same thing: which
stage the parcel is at, whether a delivery date is worth showing, whether it is late, where it was
left or waits, and what the customer can do about it. Readers only put it into words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from carriers.status import CUSTOMS, HANDOVER_SUB_STATUS, Handover, Status, handover_place
from postpurchase.i18n import to_local
from postpurchase.models import Brand, DeliveryOption, DutiesTerms, TimeSlot
from postpurchase.settings.model import settings_for

if TYPE_CHECKING:
    from postpurchase.readmodels import EventView, ShipmentView, SlotMove


class Stage(StrEnum):
    """A parcel's state in the customer's terms (the carrier's :class:`Status`, settled)."""

    preparing = "preparing"
    shipped = "shipped"
    in_transit = "in_transit"
    customs_hold = "customs_hold"
    duties_due = "duties_due"
    out_for_delivery = "out_for_delivery"
    attempt_failed = "attempt_failed"
    ready_for_pickup = "ready_for_pickup"
    delivered = "delivered"
    exception = "exception"
    returning = "returning"
    returned = "returned"
    stalled = "stalled"


class Step(StrEnum):
    """The steps of the progress bar; pickup parcels end at a counter, not a door."""

    ordered = "ordered"
    shipped = "shipped"
    out_for_delivery = "out_for_delivery"
    ready_for_pickup = "ready_for_pickup"
    delivered = "delivered"
    picked_up = "picked_up"


DOOR_STEPS = (Step.ordered, Step.shipped, Step.out_for_delivery, Step.delivered)
PICKUP_STEPS = (Step.ordered, Step.shipped, Step.ready_for_pickup, Step.picked_up)


class ActionKind(StrEnum):
    change = "change"  # change the date, slot or place before the first attempt
    redeliver = "redeliver"  # ask for redelivery (再配達) after a missed attempt
    pay_duties = "pay_duties"  # pay import duties and taxes to the carrier so customs releases it


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    url: str
    #: The link opens this parcel's form; otherwise the page tells the customer to enter the number.
    carries_number: bool
    tracking_number: str | None


@dataclass(frozen=True)
class Pickup:
    """Where a parcel waits for the customer and until when."""

    place: Handover | None
    #: The store or office as the carrier names it (its name holds the town and branch).
    location: str | None
    #: The last local day it is held; the carrier sends it back after that.
    until: date | None
    #: The pickup point's address, when the carrier gives one.
    address: str | None = None


@dataclass(frozen=True)
class Customs:
    """What customs means for a cross-border parcel, for the words around it."""

    #: Customs has the parcel now (checking it, or waiting for the duties).
    held: bool
    #: The carrier says import duties and taxes are to be paid before it delivers.
    duties_due: bool
    #: Who pays duties by the order's terms (None: the order does not say).
    terms: DutiesTerms | None

    @property
    def collected_on_arrival(self) -> bool:
        """Duties will be asked of the customer: the carrier says so, or the order is DDU."""
        return self.duties_due or self.terms == DutiesTerms.ddu


@dataclass(frozen=True)
class Delay:
    #: The day the customer was promised (None when only the prediction has passed).
    promised: date | None
    #: The new expected day (None: late, and no new day is known yet).
    new_date: date | None


@dataclass(frozen=True)
class CustomerView:
    stage: Stage
    #: Where the parcel is on the progress bar (index into ``steps``); None: no bar (returns).
    step: int | None
    steps: tuple[Step, ...]
    #: Something went wrong and the customer may need to act or wait for us (shown in red).
    problem: bool
    #: The expected delivery day, or the first day of a window; None when nothing is promised.
    expected: date | None
    #: The last day of a multi-day window; None for a single day.
    expected_until: date | None
    time_slot: TimeSlot | None
    delay: Delay | None
    delivered_at: datetime | None
    #: Where a delivered parcel was left (None: the scans do not say).
    handover: Handover | None
    pickup: Pickup | None
    #: The delivery option the shop booked, while it still describes what will happen.
    delivery_option: DeliveryOption | None
    action: Action | None
    #: Customs and duties, for a parcel whose order names duty terms or that customs has seen.
    customs: Customs | None = None
    #: The expected day is a later one because the parcel misses the requested slot's cut-off.
    slot_moved: SlotMove | None = None

    @property
    def shows_date(self) -> bool:
        return self.expected is not None


_STAGE = {
    Status.pending: Stage.preparing,
    Status.info_received: Stage.shipped,
    Status.in_transit: Stage.in_transit,
    Status.export_cleared: Stage.in_transit,
    Status.held_at_customs: Stage.customs_hold,
    Status.duties_due: Stage.duties_due,
    Status.import_cleared: Stage.in_transit,
    Status.out_for_delivery: Stage.out_for_delivery,
    Status.attempt_fail: Stage.attempt_failed,
    Status.available_for_pickup: Stage.ready_for_pickup,
    Status.delivered: Stage.delivered,
    Status.exception: Stage.exception,
    Status.returning_to_sender: Stage.returning,
    Status.returned: Stage.returned,
    Status.expired: Stage.stalled,
}

#: Stages whose predicted date still means something: the parcel is moving towards the door (a
#: customs check is part of the way; unpaid duties stop it until the customer pays).
_PREDICTED = frozenset(
    {Stage.preparing, Stage.shipped, Stage.in_transit, Stage.customs_hold, Stage.out_for_delivery}
)
_PROBLEM = frozenset(
    {
        Stage.attempt_failed,
        Stage.exception,
        Stage.returning,
        Stage.returned,
        Stage.stalled,
        Stage.duties_due,
    }
)
_STEP = {
    Stage.preparing: 0,
    Stage.shipped: 1,
    Stage.in_transit: 1,
    Stage.customs_hold: 1,
    Stage.duties_due: 1,
    Stage.exception: 1,
    Stage.stalled: 1,
    Stage.out_for_delivery: 2,
    Stage.attempt_failed: 2,
    Stage.ready_for_pickup: 2,
    Stage.delivered: 3,
}
_PICKUP_OPTIONS = frozenset(
    {DeliveryOption.convenience_store, DeliveryOption.depot_pickup, DeliveryOption.locker}
)


def pickup_hold_days(brand: Brand) -> int:
    """How many days a carrier holds a parcel for pickup, as the brand's messages say it."""
    return settings_for(brand).messaging.pickup_hold_days


def _stage(shipment: ShipmentView) -> Stage:
    if shipment.status == Status.pending and shipment.shipped_at is not None:
        return Stage.shipped
    return _STAGE[shipment.status]


def _last(shipment: ShipmentView, status: Status) -> EventView | None:
    return next((e for e in reversed(shipment.events) if e.status == status), None)


def _pickup(shipment: ShipmentView, hold_days: int, timezone: str) -> Pickup | None:
    """The pickup scan's place and deadline; None when the parcel never waited for pickup.

    What the carrier said and we stored comes first; rows from before it was stored fall back to
    the scan's words and the brand's usual holding days.
    """
    event = _last(shipment, Status.available_for_pickup)
    if event is None:
        return None
    waiting = shipment.status == Status.available_for_pickup
    place = (shipment.delivered_to if waiting else None) or event.delivered_to
    if place is None:
        place = handover_place(event.description, event.carrier_code, event.location)
    if place is None and waiting:
        place = HANDOVER_SUB_STATUS.get(shipment.sub_status or "")
    until = shipment.pickup_deadline if waiting else None
    if until is None:
        until = to_local(event.occurred_at + timedelta(days=hold_days), timezone).date()
    return Pickup(
        place=place,
        location=(shipment.pickup_name if waiting else None) or event.location,
        until=until,
        address=shipment.pickup_address if waiting else None,
    )


def _handover(shipment: ShipmentView, pickup: Pickup | None) -> Handover | None:
    """Where the delivered parcel was left: as stored from the carrier's answer, else (rows from
    before it was stored) the delivery scan's words, then its pickup counter, then a signature
    (handed over in person). A delivery scan's location is the carrier's office it left from, so
    only its description and code count."""
    if shipment.delivered_to is not None:
        return shipment.delivered_to
    event = _last(shipment, Status.delivered)
    said = handover_place(event.description, event.carrier_code) if event else None
    if said is not None:
        return said
    if pickup is not None:
        return pickup.place
    return Handover.in_person if shipment.signed_by else None


def _delay(shipment: ShipmentView, today: date) -> Delay | None:
    predicted, promised = shipment.predicted_date, shipment.promised_date
    if predicted is not None and predicted < today:
        return Delay(promised=promised or predicted, new_date=None)
    if predicted is not None and promised is not None and predicted > promised:
        return Delay(promised=promised, new_date=predicted)
    if predicted is None and promised is not None and promised < today:
        return Delay(promised=promised, new_date=None)
    return None


def _customs(shipment: ShipmentView, stage: Stage) -> Customs | None:
    """Customs and duties while they still lie ahead or hold the parcel; None once it is past."""
    seen = any(e.status in CUSTOMS for e in shipment.events) or shipment.status in CUSTOMS
    if shipment.duties_terms is None and not seen:
        return None
    if stage not in _PREDICTED and stage != Stage.duties_due:
        return None
    return Customs(
        held=stage in (Stage.customs_hold, Stage.duties_due),
        duties_due=stage == Stage.duties_due,
        terms=shipment.duties_terms,
    )


def _action(shipment: ShipmentView, stage: Stage) -> Action | None:
    links = shipment.links
    if stage == Stage.duties_due and links.tracking_url:
        # Carriers take duties on their own tracking page, which opens at this parcel.
        return Action(
            kind=ActionKind.pay_duties,
            url=links.tracking_url,
            carries_number=True,
            tracking_number=shipment.tracking_number,
        )
    if not links.redelivery_url:
        return None
    if stage == Stage.attempt_failed or (
        stage == Stage.ready_for_pickup and shipment.sub_status == "depot"
    ):
        kind = ActionKind.redeliver
    elif stage in (Stage.shipped, Stage.in_transit, Stage.out_for_delivery):
        kind = ActionKind.change
    else:
        return None
    return Action(
        kind=kind,
        url=links.redelivery_url,
        carries_number=links.redelivery_takes_number,
        tracking_number=shipment.tracking_number,
    )


def customer_view(
    shipment: ShipmentView, *, today: date, timezone: str, pickup_hold_days: int
) -> CustomerView:
    """What ``shipment`` means for its customer on ``today`` (a local day in ``timezone``).

    Predicted dates are shown only while the parcel is on its way to the door: a parcel that
    waits for pickup, failed an attempt, has a problem, is going back or has arrived shows none.
    """
    stage = _stage(shipment)
    pickup = _pickup(shipment, pickup_hold_days, timezone)
    pickup_parcel = stage == Stage.ready_for_pickup or (
        stage == Stage.delivered and pickup is not None
    )
    delay = _delay(shipment, today) if stage in _PREDICTED else None
    expected = until = None
    if stage in _PREDICTED and (delay is None or delay.new_date is not None):
        expected = shipment.predicted_date or shipment.promised_date
        if shipment.window:
            expected, until = shipment.window
    return CustomerView(
        stage=stage,
        step=_STEP.get(stage),
        steps=PICKUP_STEPS
        if pickup_parcel or shipment.delivery_option in _PICKUP_OPTIONS
        else DOOR_STEPS,
        problem=stage in _PROBLEM or delay is not None,
        expected=expected,
        expected_until=until,
        time_slot=shipment.time_slot if expected is not None and until is None else None,
        delay=delay,
        delivered_at=shipment.delivered_at if stage == Stage.delivered else None,
        handover=_handover(shipment, pickup) if stage == Stage.delivered else None,
        pickup=pickup if stage == Stage.ready_for_pickup else None,
        delivery_option=shipment.delivery_option if stage in _PREDICTED else None,
        action=_action(shipment, stage),
        customs=_customs(shipment, stage),
        slot_moved=shipment.slot_moved if expected is not None and shipment.time_slot else None,
    )
