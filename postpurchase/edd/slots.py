"""Time slots (時間帯指定) and lead-time tables in the delivery date.

The model predicts the day a parcel reaches the destination's area. Whether it goes out that day
depends on the requested slot: a parcel that reaches the delivering depot after the slot's
cut-off (:mod:`carriers.slots`) goes out in that slot the next day. When the parcel reaches the
depot is read from the route's lead-time row (the earliest slot the carrier makes there means
"arrives by that slot's cut-off") and, once it is moving, from its last scan: a parcel still in
transit at a moment after the cut-off has not made that day's slot.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

from carriers.slots import SLOT_GRIDS, Slot, slot_day, slot_grid
from postpurchase.edd.calendar import CarrierCalendar
from postpurchase.edd.leadtimes import LeadTimeRow, blend
from postpurchase.edd.model import Estimate

Dates = tuple[date, date, date, date]

#: Depot cut-off by slot code (the same hours in every grid that offers the slot).
CUTOFFS: dict[str, time] = {s.code: s.cutoff for grid in SLOT_GRIDS.values() for s in grid}


def depot_arrival_time(
    row: LeadTimeRow | None, cutoffs: Mapping[str, time] | None = None
) -> time | None:
    """When parcels on this route typically reach the delivering depot (local time), or None.

    ``cutoffs``: the brand's own cut-offs by slot code, over the default ones.
    """
    if row is None or not row.earliest_slot:
        return None
    return (cutoffs or {}).get(row.earliest_slot) or CUTOFFS.get(row.earliest_slot)


def cold_start(estimate: Estimate, row: LeadTimeRow | None, calendar: CarrierCalendar) -> Dates:
    """The estimate's dates blended with the lead-time row (see :func:`leadtimes.blend`).

    Every date moves by the same number of business days, so the window keeps its width.
    """
    dates = (
        estimate.predicted_date,
        estimate.window_start,
        estimate.window_end,
        estimate.promise_date,
    )
    if row is None:
        return dates
    days = blend(estimate.predicted_business_days, estimate.basis.sample_size, row.days)
    shift = days - estimate.predicted_business_days
    if shift == 0:
        return dates
    target = calendar.add_business_days(estimate.anchor, days)
    delta = target - estimate.predicted_date
    return target, dates[1] + delta, dates[2] + delta, dates[3] + delta


def slot_aware(
    dates: Dates,
    *,
    slot: Slot,
    arrival: time | None,
    last_scan: datetime | None,
    calendar: CarrierCalendar,
) -> tuple[Dates, dict[str, Any]]:
    """Move the predicted day to the day the parcel can go out in ``slot``.

    ``arrival``: the route's typical depot arrival time; ``last_scan`` (local): the latest scan of
    a parcel still in transit, a lower bound of its depot arrival.
    """
    predicted = dates[0]
    moments = []
    if arrival is not None:
        moments.append(datetime.combine(predicted, arrival))
    if last_scan is not None:
        moments.append(last_scan.replace(tzinfo=None))
    basis: dict[str, Any] = {**slot.to_dict(), "moved_to_next_day": False}
    if not moments:
        return dates, basis
    reached = max(moments)
    basis["depot_arrival"] = reached.isoformat(timespec="minutes")
    day = slot_day(reached, slot)
    if day <= predicted:
        return dates, basis
    day = calendar.roll_forward(day)
    basis["moved_to_next_day"] = True
    basis["moved_from"] = predicted.isoformat()
    # A slot is only ever delivered in its hours: the parcel cannot come on a day before the moved
    # one, so the window starts there too (else the page would still show the old day first).
    return (day, max(dates[1], day), max(dates[2], day), max(dates[3], day)), basis


def slot_offers(
    carrier: str | None,
    day: date,
    arrival: time | None,
    calendar: CarrierCalendar,
    cutoffs: Mapping[str, time] | None = None,
) -> list[dict[str, str]]:
    """The carrier's slots with the first day each can be made for a parcel due on ``day``."""
    offers = []
    for slot in slot_grid(carrier, cutoffs):
        made = day
        if arrival is not None:
            made = slot_day(datetime.combine(day, arrival), slot)
            if made != day:
                made = calendar.roll_forward(made)
        offers.append({**slot.to_dict(), "date": made.isoformat()})
    return offers


def next_slots(
    carrier: str | None,
    now: datetime,
    calendar: CarrierCalendar,
    *,
    count: int = 3,
    cutoffs: Mapping[str, time] | None = None,
) -> list[tuple[date, Slot]]:
    """The next ``count`` slots, soonest first, that a parcel held at the delivering depot at
    ``now`` (local) can still go out in: after a failed attempt, what to offer for redelivery.

    Each slot of the grid is made today while its cut-off has not passed, else on the next
    business day; one turn of the grid holds every slot once, so the soonest ``count`` are there.
    """
    local = now.replace(tzinfo=None)
    offers = [
        (calendar.roll_forward(slot_day(local, slot)), slot) for slot in slot_grid(carrier, cutoffs)
    ]
    return sorted(offers, key=lambda offer: (offer[0], offer[1].start))[:count]
