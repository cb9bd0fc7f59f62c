"""Respect: consent, suppression, quiet hours, frequency caps, and messages that went stale.

The frequency cap rule: at most ``daily_cap`` (default 2) *non-essential* messages per customer per
local day. Essential messages (the ones a customer needs to receive the parcel or their money:
order confirmed, shipped, delayed, arriving tomorrow, out for delivery, failed attempt, available for
pickup, return updates) are never capped and do not count; a capped message waits for the next day.
Quiet hours (default 21:00–08:00 in the customer's timezone) hold every message until they end,
unless the brand turns them off for a trigger (``"quiet_hours": false``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from carriers.status import FINAL, Status
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.reasons import Reason, Why, because
from postpurchase.models import (
    Channel,
    Customer,
    OutboxMessage,
    ReturnRequest,
    Shipment,
    Suppression,
)

#: Statuses after which a message about an earlier stage no longer helps the customer.
_DONE = {*FINAL, Status.returning_to_sender}
#: For each trigger: the parcel statuses that make it stale when reached before it is sent.
STALE_AFTER: dict[str, set[Status]] = {
    Trigger.shipped: _DONE,
    Trigger.delayed: _DONE,
    Trigger.arriving_tomorrow: _DONE
    | {Status.out_for_delivery, Status.attempt_fail, Status.available_for_pickup},
    Trigger.out_for_delivery: _DONE | {Status.attempt_fail},
    Trigger.attempt_fail: _DONE,
    Trigger.available_for_pickup: _DONE,
}
#: A consent entry's ``scope`` when the customer opted in for some parcels only.
PARCEL_SCOPE = "parcel"
#: Triggers that make no sense once the customer has started a return of the order.
USELESS_AFTER_RETURN = {Trigger.unboxing, Trigger.review_request, Trigger.replenishment}


def consent_allows(
    customer: Customer | None, channel: Channel, purpose: str, *, shipment_id: int | None = None
) -> bool:
    """Consent from ``Customer.consent``; without an answer, transactional yes, marketing no (opt-in).

    An opt-in given for some parcels only (``"scope": "parcel"`` with their ``"shipments"``, see
    :mod:`postpurchase.messaging.optin`) covers messages about those parcels and nothing else.
    """
    if channel == Channel.webhook:
        return True  # the brand's own system, not a person
    consent = (customer.consent if customer else None) or {}
    key = "line" if channel == Channel.line_notification else str(channel)
    entry = consent.get(key, consent.get(str(channel), {}))
    if isinstance(entry, bool):
        return entry
    if entry.get("scope") == PARCEL_SCOPE and shipment_id not in entry.get("shipments", []):
        return False
    return bool(entry.get(purpose, purpose == "transactional"))


#: ``session.info`` key: suppressions read ahead for a unit of work, per brand id.
_PRELOADED = "preloaded_suppressions"


@dataclass
class _Preloaded:
    addresses: set[str] = field(default_factory=set)
    #: The suppressions of ``addresses``, in id order.
    rows: list[Suppression] = field(default_factory=list)


def preload_suppressions(*, session: Session, brand_id: int, addresses: Iterable[str]) -> None:
    """Read the suppressions of ``addresses`` in one query and keep them for the rest of the unit
    of work, so that :func:`suppression_reasons` answers for these addresses without a query each
    (an inbox batch's customers: one query instead of one per message enqueued).

    The send path checks suppressions again when a message goes out, so one added by another
    process meanwhile is still respected; one added in this session forgets what was read
    (:func:`forget_preloaded_suppressions`)."""
    wanted = {address for address in addresses if address}
    known = session.info.setdefault(_PRELOADED, {}).setdefault(brand_id, _Preloaded())
    wanted -= known.addresses
    if not wanted:
        return
    with session.no_autoflush:
        found = session.exec(
            select(Suppression)
            .where(Suppression.brand_id == brand_id, col(Suppression.address).in_(wanted))
            .order_by(col(Suppression.id))
        ).all()
    known.addresses |= wanted
    known.rows = sorted([*known.rows, *found], key=lambda row: row.id or 0)


def forget_preloaded_suppressions(session: Session) -> None:
    """Whoever adds a suppression calls this, so nothing read ahead hides it."""
    session.info.pop(_PRELOADED, None)


def blocking_purposes(purpose: str) -> tuple[str, ...]:
    """The suppression purposes that stop a ``purpose`` message: ``all`` always, ``marketing``
    only a marketing one."""
    return ("all", "marketing") if purpose == "marketing" else ("all",)


def suppression_reasons(
    *, session: Session, brand_id: int, addresses: dict[str, str], purpose: str
) -> dict[str, str]:
    """Why each of ``addresses`` (channel → address) must not get a ``purpose`` message; one query,
    none for addresses read ahead (:func:`preload_suppressions`).

    Without autoflush: whoever adds a suppression flushes it at once (an unsubscribe, a bounce),
    so nothing pending can change the answer, and in a batch of new parcels a flush here would
    write each parcel's dates and first poll with a statement of its own instead of one for all.
    """
    if not addresses:
        return {}
    purposes = blocking_purposes(purpose)
    values = set(addresses.values())
    known: _Preloaded | None = session.info.get(_PRELOADED, {}).get(brand_id)
    if known is not None and values <= known.addresses:
        rows = [row for row in known.rows if row.address in values and row.purpose in purposes]
    else:
        with session.no_autoflush:
            rows = list(
                session.exec(
                    select(Suppression)
                    .where(
                        Suppression.brand_id == brand_id,
                        col(Suppression.address).in_(values),
                        col(Suppression.purpose).in_(purposes),
                    )
                    .order_by(col(Suppression.id))
                ).all()
            )
    found: dict[str, str] = {}
    for row in rows:
        channel = str(row.channel)
        if addresses.get(channel) == row.address and channel not in found:
            found[channel] = row.reason
    return found


def clock_time(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def quiet_until(now: datetime, timezone: str, start: str, end: str) -> datetime | None:
    """The UTC moment quiet hours end if ``now`` falls inside them (across midnight too); else None."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    begin, finish = clock_time(start), clock_time(end)
    moment = local.time()
    if begin == finish:
        return None
    if begin < finish:
        inside, end_day = begin <= moment < finish, local.date()
    else:
        inside = moment >= begin or moment < finish
        end_day = local.date() + timedelta(days=1) if moment >= begin else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, finish, tzinfo=zone).astimezone(UTC)


def local_day_start(now: datetime, timezone: str) -> datetime:
    zone = ZoneInfo(timezone)
    return datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone).astimezone(UTC)


def next_day_at(now: datetime, timezone: str, at: str) -> datetime:
    zone = ZoneInfo(timezone)
    day: date = now.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(day, clock_time(at), tzinfo=zone).astimezone(UTC)


def stale_reason(
    *,
    session: Session,
    message: OutboxMessage,
    shipment: Shipment | None,
    now: datetime,
    timezone: str,
) -> Reason | None:
    """Why the data says this message would be useless now, or None."""
    if shipment is not None:
        if shipment.status in STALE_AFTER.get(message.trigger, set()):
            return because(Why.parcel_already, status=shipment.status)
        if message.trigger == Trigger.arriving_tomorrow:
            promised = message.payload.get("predicted_date")
            today = now.astimezone(ZoneInfo(timezone)).date()
            if shipment.predicted_date is None or promised != shipment.predicted_date.isoformat():
                return because(Why.prediction_changed)
            if today >= shipment.predicted_date:
                return because(Why.delivery_day_reached)
        if (
            message.trigger == Trigger.delayed
            and shipment.promised_date
            and shipment.predicted_date
            and shipment.predicted_date <= shipment.promised_date
        ):
            return because(Why.back_on_time)
    if message.trigger in USELESS_AFTER_RETURN and message.order_id is not None:
        returned = session.exec(
            select(ReturnRequest.id).where(ReturnRequest.order_id == message.order_id)
        ).first()
        if returned is not None:
            return because(Why.order_returning)
    return None
