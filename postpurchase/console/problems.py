"""Which parcels need a person: one problem per parcel, its age, and the next step to suggest.

Pure functions of a parcel's fields and today's date, so the queue, the dashboard and the tests
agree on what "stalled" or "late" means without a database or a request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from carriers.status import Status
from postpurchase.edd.calendar import CarrierCalendar
from postpurchase.models import Shipment


class Problem(StrEnum):
    """Kinds of trouble, most urgent first (a parcel is filed under the first that applies)."""

    sent_back = "sent_back"  # on its way back to us, or back already
    lost = "lost"  # suspected lost: the carrier gave up, or silent for a long time
    #: The carrier reported a problem (damage, wrong address, ...).
    carrier_exception = "carrier_exception"
    failed_attempt = "failed_attempt"  # 不在: nobody was home; needs 再配達
    held = "held"  # waiting at a depot or pickup point, half its holding period gone
    late = "late"  # the promised date passed and it is not delivered
    stalled = "stalled"  # no scan for several business days


@dataclass(frozen=True)
class Rules:
    """Thresholds of the queue, in the carrier's business days where days are counted."""

    calendar: CarrierCalendar
    timezone: str
    #: No scan for this many business days: stalled (``exceptions.stalled_business_days``).
    stall_business_days: int
    #: No scan for this many business days: suspected lost (``exceptions.lost_business_days``).
    lost_business_days: int
    #: Days a depot or pickup point keeps a parcel before sending it back
    #: (``messaging.pickup_hold_days``, the deadline customers are told).
    holding_days: int


@dataclass(frozen=True)
class Finding:
    problem: Problem
    #: The local date the problem started (the scan, the promised date, the last sign of life).
    since: date

    def age_days(self, today: date) -> int:
        return max((today - self.since).days, 0)


#: Parcels no longer anyone's concern: delivered or called off.
_SETTLED = (Status.delivered,)


def local_date(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


def last_sign_of_life(shipment: Shipment) -> datetime | None:
    """The last moment the carrier said anything about the parcel (or it was handed over)."""
    return shipment.last_event_at or shipment.shipped_at


def classify(shipment: Shipment, *, today: date, rules: Rules) -> Finding | None:
    """The problem of ``shipment`` on local date ``today``; None when it needs nobody."""
    if shipment.status in _SETTLED or shipment.cancelled_at is not None:
        return None
    tz = rules.timezone
    changed = local_date(shipment.status_changed_at, tz) if shipment.status_changed_at else today
    status = Status(shipment.status)
    if status in (Status.returning_to_sender, Status.returned):
        return Finding(Problem.sent_back, changed)
    last = last_sign_of_life(shipment)
    silent = (
        rules.calendar.business_days_between(local_date(last, tz), today) if last is not None else 0
    )
    if status == Status.expired or silent >= rules.lost_business_days:
        return Finding(Problem.lost, local_date(last, tz) if last else changed)
    if status == Status.exception:
        return Finding(Problem.carrier_exception, changed)
    if status == Status.attempt_fail:
        return Finding(Problem.failed_attempt, changed)
    if status == Status.available_for_pickup and (today - changed).days * 2 >= rules.holding_days:
        return Finding(Problem.held, changed)
    if shipment.promised_date is not None and shipment.promised_date < today:
        return Finding(Problem.late, shipment.promised_date + timedelta(days=1))
    if last is not None and silent >= rules.stall_business_days:
        return Finding(Problem.stalled, local_date(last, tz))
    return None


def silent_since(rules: Rules, today: date, business_days: int) -> datetime:
    """The UTC moment before which a last scan makes a parcel ``business_days`` silent by ``today``.

    Lets a query pick the candidates in SQL; :func:`classify` has the last word.
    """
    day = today - timedelta(days=1)
    while rules.calendar.business_days_between(day, today) < business_days:
        day -= timedelta(days=1)
    return datetime.combine(day + timedelta(days=1), time(), ZoneInfo(rules.timezone))
