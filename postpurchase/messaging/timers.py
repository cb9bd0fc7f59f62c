"""Timer triggers: arriving tomorrow, unboxing, review/NPS request, replenishment reminder.

:func:`run_timers` scans recent parcels per brand and enqueues what is due. It may run as often as
the scheduler likes: idempotency keys make a second run a no-op, and parcels that already have the
message are skipped before any rendering.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from carriers.status import Status
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.config import brand_settings, trigger_settings
from postpurchase.messaging.context import replenishment_plan
from postpurchase.messaging.respect import clock_time
from postpurchase.messaging.settings import MessagingSettings
from postpurchase.messaging.triggers import enqueue
from postpurchase.models import Brand, OrderLine, OutboxMessage, Shipment

#: How far back a timer looks for parcels it may have missed (scheduler downtime).
LOOKBACK = timedelta(days=3)
IN_FLIGHT = (Status.pending, Status.info_received, Status.in_transit)
#: The triggers timers send, in the order :func:`run_timers` counts them.
TIMED = (Trigger.arriving_tomorrow, Trigger.unboxing, Trigger.review_request, Trigger.replenishment)


def _already(session: Session, trigger: Trigger, shipment_ids: Iterable[int]) -> set[int]:
    ids = list(shipment_ids)
    if not ids:
        return set()
    rows = session.exec(
        select(OutboxMessage.shipment_id).where(
            OutboxMessage.trigger == trigger, col(OutboxMessage.shipment_id).in_(ids)
        )
    ).all()
    return {row for row in rows if row is not None}


def _enqueue_each(
    session: Session,
    messaging: MessagingSettings,
    brand: Brand,
    trigger: Trigger,
    shipments: list[Shipment],
    now: datetime,
    due_at: datetime | None = None,
) -> int:
    done = _already(session, trigger, (s.id for s in shipments if s.id is not None))
    count = 0
    for shipment in shipments:
        if shipment.id in done:
            continue
        if enqueue(
            session=session,
            messaging=messaging,
            brand=brand,
            trigger=trigger,
            shipment=shipment,
            now=now,
            due_at=due_at,
        ):
            count += 1
    return count


def _delivered_between(
    session: Session, brand: Brand, start: datetime, end: datetime
) -> list[Shipment]:
    return list(
        session.exec(
            select(Shipment).where(
                Shipment.brand_id == brand.id,
                Shipment.status == Status.delivered,
                Shipment.imported == False,  # noqa: E712 (SQL, not Python)
                col(Shipment.delivered_at) > start,
                col(Shipment.delivered_at) <= end,
            )
        ).all()
    )


def arriving_tomorrow(
    session: Session, messaging: MessagingSettings, brand: Brand, now: datetime
) -> int:
    """Parcels predicted for tomorrow (brand's local day), sent from ``send_at`` local time today."""
    settings = trigger_settings(brand, Trigger.arriving_tomorrow)
    if not settings.enabled:
        return 0
    zone = ZoneInfo(brand.timezone)
    today = now.astimezone(zone).date()
    shipments = list(
        session.exec(
            select(Shipment).where(
                Shipment.brand_id == brand.id,
                Shipment.predicted_date == today + timedelta(days=1),
                col(Shipment.status).in_(IN_FLIGHT),
            )
        ).all()
    )
    send_at = datetime.combine(
        today, clock_time(str(settings.options.get("send_at", "17:00"))), tzinfo=zone
    )
    return _enqueue_each(
        session,
        messaging,
        brand,
        Trigger.arriving_tomorrow,
        shipments,
        now,
        max(now, send_at.astimezone(UTC)),
    )


def after_delivery(
    session: Session,
    messaging: MessagingSettings,
    brand: Brand,
    now: datetime,
    trigger: Trigger,
    wait: timedelta,
) -> int:
    """``trigger`` for parcels delivered at least ``wait`` ago (and not longer than the lookback)."""
    if not trigger_settings(brand, trigger).enabled:
        return 0
    shipments = _delivered_between(session, brand, now - wait - LOOKBACK, now - wait)
    return _enqueue_each(session, messaging, brand, trigger, shipments, now)


def replenishment(
    session: Session, messaging: MessagingSettings, brand: Brand, now: datetime
) -> int:
    """Consumables whose run-out (quantity × usage days after delivery) is ``lead_days`` away."""
    settings = trigger_settings(brand, Trigger.replenishment)
    if not settings.enabled:
        return 0
    config = brand_settings(brand)
    if not (config["consumables"].get("sku") or config["consumables"].get("category")):
        return 0
    lead = timedelta(days=int(settings.options.get("lead_days", 5)))
    zone = ZoneInfo(brand.timezone)
    today = now.astimezone(zone).date()
    longest = max(
        [
            *config["consumables"].get("sku", {}).values(),
            *config["consumables"].get("category", {}).values(),
        ]
    )
    recent = _delivered_between(session, brand, now - timedelta(days=int(longest) * 12), now)
    done = _already(session, Trigger.replenishment, (s.id for s in recent if s.id is not None))
    due: list[Shipment] = []
    for shipment in recent:
        if shipment.id in done or shipment.order_id is None or shipment.delivered_at is None:
            continue
        lines = list(
            session.exec(select(OrderLine).where(OrderLine.order_id == shipment.order_id)).all()
        )
        plan = replenishment_plan(config, lines, shipment.delivered_at.astimezone(zone).date())
        if plan and plan[0] - lead <= today <= plan[0]:
            due.append(shipment)
    return _enqueue_each(session, messaging, brand, Trigger.replenishment, due, now)


def run_timers(
    *, session: Session, messaging: MessagingSettings, now: datetime
) -> dict[Trigger, int]:
    """Enqueue every timer message that is due for every brand; returns counts per trigger."""
    counts = dict.fromkeys(TIMED, 0)
    for brand in session.exec(select(Brand)).all():
        unboxing = trigger_settings(brand, Trigger.unboxing).options
        review = trigger_settings(brand, Trigger.review_request).options
        counts[Trigger.arriving_tomorrow] += arriving_tomorrow(session, messaging, brand, now)
        counts[Trigger.unboxing] += after_delivery(
            session,
            messaging,
            brand,
            now,
            Trigger.unboxing,
            timedelta(hours=float(unboxing.get("delay_hours", 24))),
        )
        counts[Trigger.review_request] += after_delivery(
            session,
            messaging,
            brand,
            now,
            Trigger.review_request,
            timedelta(days=float(review.get("delay_days", 7))),
        )
        counts[Trigger.replenishment] += replenishment(session, messaging, brand, now)
    session.flush()
    return counts
