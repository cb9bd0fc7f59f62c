"""How long customs takes on a lane: learnt from the brand's own parcels to that country.

A parcel's customs stage runs from the first scan that puts it in customs' hands (export cleared,
held at customs, duties due) to its ``import_cleared`` scan, counted in business days of the
destination country between the brand's local dates. A lane's duration is the median over its
parcels of the last :data:`HISTORY_DAYS`; a lane with fewer than :data:`MIN_PARCELS` of them uses
the prior :data:`PRIOR_BUSINESS_DAYS`, and says so.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from carriers.status import CUSTOMS, Status
from postpurchase.edd.calendar import CarrierCalendar
from postpurchase.models import Shipment, TrackingEvent

#: Business days customs takes on a lane the brand has too few parcels through: the prior.
PRIOR_BUSINESS_DAYS = 2
#: Parcels through customs a lane needs before its own median replaces the prior.
MIN_PARCELS = 5
#: How far back a lane's parcels are read (customs practice changes; old clearances say little).
HISTORY_DAYS = 365
#: Scans that put a parcel in customs' hands: the stage starts at the first of them.
ENTERING = tuple(sorted(CUSTOMS - {Status.import_cleared}))


@dataclass(frozen=True)
class CustomsStage:
    """The business days customs takes on the lane to ``country``, and what the number rests on."""

    country: str
    business_days: int
    #: The lane's parcels that went through customs in the period read (0: none measured).
    parcels: int
    #: ``learnt`` from those parcels, or ``prior`` when there were fewer than :data:`MIN_PARCELS`.
    source: str

    def basis(self) -> dict[str, Any]:
        return {
            "lane": self.country,
            "release_business_days": self.business_days,
            "source": self.source,
            "parcels": self.parcels,
            "prior_business_days": PRIOR_BUSINESS_DAYS,
            "min_parcels": MIN_PARCELS,
        }


def customs_stage(
    *,
    session: Session,
    brand_id: int,
    calendar: CarrierCalendar,
    timezone: str,
    now: datetime,
) -> CustomsStage:
    """The customs stage of the brand's lane to ``calendar.country`` (the destination's calendar)."""
    entered = func.min(case((col(TrackingEvent.status).in_(ENTERING), TrackingEvent.occurred_at)))
    cleared = func.min(
        case((col(TrackingEvent.status) == Status.import_cleared, TrackingEvent.occurred_at))
    )
    rows = session.exec(
        select(entered, cleared)
        .join(Shipment, col(Shipment.id) == TrackingEvent.shipment_id)
        .where(
            TrackingEvent.brand_id == brand_id,
            Shipment.brand_id == brand_id,
            func.upper(Shipment.destination_country) == calendar.country,
            col(TrackingEvent.status).in_([*ENTERING, Status.import_cleared]),
            col(TrackingEvent.occurred_at) >= now - timedelta(days=HISTORY_DAYS),
        )
        .group_by(col(TrackingEvent.shipment_id))
    ).all()
    zone = ZoneInfo(timezone)

    def day(moment: datetime) -> date:
        return _aware(moment).astimezone(zone).date()

    durations = [
        calendar.business_days_between(day(start), day(end))
        for start, end in rows
        if start is not None and end is not None and end >= start
    ]
    if len(durations) < MIN_PARCELS:
        return CustomsStage(calendar.country, PRIOR_BUSINESS_DAYS, len(durations), "prior")
    return CustomsStage(
        calendar.country, int(statistics.median_high(durations)), len(durations), "learnt"
    )


def entered_customs(*, session: Session, shipment_id: int) -> datetime | None:
    """When the parcel's first scan put it in customs' hands; None when no scan did."""
    moment = session.exec(
        select(func.min(TrackingEvent.occurred_at)).where(
            TrackingEvent.shipment_id == shipment_id,
            col(TrackingEvent.status).in_(ENTERING),
        )
    ).one()
    return None if moment is None else _aware(moment)


def _aware(moment: datetime) -> datetime:
    """An aggregate's moment as stored (UTC); SQLite may hand it back without its zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
