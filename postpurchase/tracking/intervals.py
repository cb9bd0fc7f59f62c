"""When to ask a carrier next: pure functions of a shipment's state and "now".

The expensive part of tracking is the day of delivery, so polls are rare while a parcel is far
from its expected date and dense only when a scan can matter to the customer:

* a new parcel: after ``first_poll``, or, when the EDD predicts it for a later day, the first
  delivery ``morning`` after hand-over (at most ``first_poll_within`` after it); see
  :func:`first_poll_at`.
* ``pending`` (the carrier does not know the number yet): every ``pending_every``.
* ``info_received``/``in_transit``: sleep until the morning of the expected date (the carrier's
  estimate, else our prediction), checking at least every ``far_every``; on and after the expected
  date every ``near_every`` within delivery hours; unknown date, or more than a day past it:
  every ``unknown_every``.
* ``out_for_delivery``: every ``out_for_delivery_every`` within delivery hours; when the carrier
  announced a delivery window (``TrackingResult.extra["delivery_window"]``), not before the
  window starts and every ``window_every`` inside it.
* ``attempt_fail``: the morning of the redelivery date when the carrier gives one, else every
  ``attempt_fail_every`` within delivery hours (redelivery may be tonight).
* ``available_for_pickup`` (the customer collects it): every ``pickup_every`` within hours;
  ``exception``/``returning_to_sender``: their own slow intervals.
* ``delivered``/``returned``/``expired``: never.

Delivery hours are local to the brand (Japanese carriers deliver 08:00–21:00); a poll that would
fall outside them moves to ``morning`` of the next day. Every poll time is finally rounded to the
``align`` grid so batches fill up.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from carriers.status import FINAL, Status


@dataclass(frozen=True)
class PollPolicy:
    """Every interval of the planner; override any field with ``TRACKING_<FIELD>`` (seconds)."""

    day_start: time = time(8, 0)
    day_end: time = time(21, 0)
    #: First look on a day when something may happen (out-for-delivery scans come 07:30–09:30).
    morning: time = time(9, 0)
    #: First poll of a new shipment that may arrive today (carriers often learn a number an hour
    #: after the label); one predicted for a later day is first asked about the next ``morning``.
    first_poll: timedelta = timedelta(hours=1)
    #: ... but never later than this after hand-over, so a wrong number is noticed within a day.
    first_poll_within: timedelta = timedelta(hours=24)
    pending_every: timedelta = timedelta(hours=6)
    far_every: timedelta = timedelta(hours=48)
    near_every: timedelta = timedelta(minutes=45)
    unknown_every: timedelta = timedelta(hours=12)
    out_for_delivery_every: timedelta = timedelta(minutes=50)
    window_every: timedelta = timedelta(minutes=50)
    attempt_fail_every: timedelta = timedelta(minutes=90)
    pickup_every: timedelta = timedelta(minutes=90)
    exception_every: timedelta = timedelta(hours=4)
    returning_every: timedelta = timedelta(hours=12)
    min_interval: timedelta = timedelta(minutes=5)
    #: Polls land on a grid of this step (0: off) so that parcels due at about the same time share
    #: one batched request instead of each run sending a nearly empty batch.
    align: timedelta = timedelta(minutes=10)
    #: A request that is going out anyway with room left is filled with the same account's
    #: shipments due within this long (0: off): they cost no extra request, and their own request
    #: a few minutes later may then not be needed at all.
    fill_ahead: timedelta = timedelta(minutes=30)
    #: No scan for this long: the shipment becomes ``expired`` and is not polled any more.
    expire_after: timedelta = timedelta(days=30)
    #: A carrier webhook updated the shipment this recently: do not poll it.
    webhook_quiet: timedelta = timedelta(hours=6)
    #: How long a claim holds a shipment before another run may take it (crash safety).
    lease: timedelta = timedelta(minutes=10)
    #: Back-off after a failed poll: ``backoff_base * 2**(failures-1)``, at most ``backoff_max``.
    backoff_base: timedelta = timedelta(minutes=2)
    backoff_max: timedelta = timedelta(hours=6)
    #: Consecutive failures that open a carrier's circuit, and how long it stays open at first.
    circuit_threshold: int = 5
    circuit_cooldown: timedelta = timedelta(minutes=5)
    circuit_cooldown_max: timedelta = timedelta(hours=2)
    #: A carrier's ``Retry-After`` is honoured up to this long (a bogus day-long value must not stop
    #: an account for a day); without one, calls to the account wait ``rate_limit_default``.
    rate_limit_max_wait: timedelta = timedelta(minutes=30)
    rate_limit_default: timedelta = timedelta(seconds=60)
    #: ``POST /shipments/<id>/refresh`` at most once per this long per shipment.
    refresh_every: timedelta = timedelta(seconds=60)
    #: Shipments claimed per run.
    batch_limit: int = 2000


def policy_from_config(config: Mapping[str, Any]) -> PollPolicy:
    """The default policy with ``TRACKING_<FIELD>`` overrides (seconds for intervals).

    Built once per distinct set of overrides: every new parcel asks for it (twice), and building
    it costs more than reading the settings.
    """
    return _policy_of(tuple(config.get(key) for key in _CONFIG_KEYS))


_CONFIG_KEYS = tuple(f"TRACKING_{f.name.upper()}" for f in fields(PollPolicy))


@lru_cache(maxsize=16)
def _policy_of(raws: tuple[Any, ...]) -> PollPolicy:
    changes: dict[str, Any] = {}
    for f, raw in zip(fields(PollPolicy), raws, strict=True):
        if raw in (None, ""):
            continue
        default = getattr(PollPolicy, f.name)
        if isinstance(default, timedelta):
            changes[f.name] = timedelta(seconds=float(raw))
        elif isinstance(default, int):
            changes[f.name] = int(raw)
    return replace(PollPolicy(), **changes)


def _local_at(day: date, at: time, tz: tzinfo) -> datetime:
    return datetime.combine(day, at, tz)


def _within_hours(at: datetime, tz: tzinfo, policy: PollPolicy) -> datetime:
    """``at``, or the next morning when it falls outside delivery hours."""
    local = at.astimezone(tz)
    if local.time() < policy.day_start:
        return _local_at(local.date(), policy.morning, tz)
    if local.time() >= policy.day_end:
        return _local_at(local.date() + timedelta(days=1), policy.morning, tz)
    return at


def next_poll_at(
    *,
    status: Status,
    now: datetime,
    tz: tzinfo,
    policy: PollPolicy,
    expected_date: date | None = None,
    window: tuple[datetime, datetime] | None = None,
) -> datetime | None:
    """When to poll a shipment in ``status`` next (None: never); see the module docstring."""
    status = Status(status)
    if status in FINAL:
        return None
    if status == Status.pending:
        at = now + policy.pending_every
    elif status in (Status.info_received, Status.in_transit):
        at = _transit(now, tz, policy, expected_date)
    elif status == Status.out_for_delivery:
        at = _out_for_delivery(now, tz, policy, window)
    elif status == Status.attempt_fail:
        at = _attempt_failed(now, tz, policy, expected_date)
    elif status == Status.available_for_pickup:
        at = _within_hours(now + policy.pickup_every, tz, policy)
    elif status == Status.exception:
        at = now + policy.exception_every
    else:
        at = now + policy.returning_every
    return _aligned(max(at, now + policy.min_interval), now + policy.min_interval, policy.align)


def _aligned(at: datetime, earliest: datetime, step: timedelta) -> datetime:
    """``at`` moved to the nearest point of the ``step`` grid, not before ``earliest``."""
    if not step:
        return at
    seconds = step.total_seconds()
    stamp = round(at.timestamp() / seconds) * seconds
    while stamp < earliest.timestamp():
        stamp += seconds
    return datetime.fromtimestamp(stamp, at.tzinfo)


def _transit(now: datetime, tz: tzinfo, policy: PollPolicy, expected: date | None) -> datetime:
    if expected is None:
        return now + policy.unknown_every
    today = now.astimezone(tz).date()
    if today < expected:
        return min(now + policy.far_every, _local_at(expected, policy.morning, tz))
    if today > expected + timedelta(days=1):
        return now + policy.unknown_every  # the estimate is stale; the carrier will give a new one
    return _within_hours(now + policy.near_every, tz, policy)


def _attempt_failed(
    now: datetime, tz: tzinfo, policy: PollPolicy, expected: date | None
) -> datetime:
    """After 持戻: wait for the redelivery day the carrier gives; if none or today, keep watching."""
    if expected is not None and now.astimezone(tz).date() < expected:
        return _local_at(expected, policy.morning, tz)
    return _within_hours(now + policy.attempt_fail_every, tz, policy)


def first_poll_at(
    now: datetime, policy: PollPolicy, *, tz: tzinfo | None = None, earliest: date | None = None
) -> datetime:
    """The first poll of a new shipment, on the grid so that new parcels share batches.

    ``earliest`` is the first day the parcel is expected to arrive on (the EDD window's start).
    Without one, or when it is today, the parcel may be out for delivery soon: ask after
    ``first_poll``. When it is a later day, nothing the carrier says before the next delivery
    morning changes what we do, so the first look is that morning (at most ``first_poll_within``
    away): it confirms the carrier knows the number, brings its own estimate, and already sees
    the parcels that go out on the next day, which the 1-hour poll would have needed a second
    lookup for. The next morning, not the predicted day: a prediction can be a day early or late.
    The next morning is the first one after hand-over: a parcel handed over at 00:30 is first
    asked about at 09:00 the same day, not the day after (33 hours later).
    """
    at = now + policy.first_poll
    if tz is not None and earliest is not None and now.astimezone(tz).date() < earliest:
        at = max(
            at,
            min(
                _next_morning(now, tz, policy),
                _within_hours(now + policy.first_poll_within, tz, policy),
            ),
        )
    return _aligned(at, now + policy.min_interval, policy.align)


def _next_morning(now: datetime, tz: tzinfo, policy: PollPolicy) -> datetime:
    """The first ``morning`` after ``now`` (today's when it is still ahead)."""
    today = now.astimezone(tz).date()
    morning = _local_at(today, policy.morning, tz)
    return morning if morning > now else _local_at(today + timedelta(days=1), policy.morning, tz)


def _out_for_delivery(
    now: datetime, tz: tzinfo, policy: PollPolicy, window: tuple[datetime, datetime] | None
) -> datetime:
    if window is not None and now < window[1]:
        start, _end = window
        if now < start:  # parcels are delivered inside their window: nothing to see before it
            return start + policy.window_every
        return now + policy.window_every
    return _within_hours(now + policy.out_for_delivery_every, tz, policy)


def delivery_window(extra: Mapping[str, Any] | None) -> tuple[datetime, datetime] | None:
    """The window an adapter announced in ``extra["delivery_window"]`` (ISO start/end), if any."""
    value = (extra or {}).get("delivery_window")
    if not isinstance(value, Mapping):
        return None
    try:
        start = datetime.fromisoformat(str(value["start"]))
        end = datetime.fromisoformat(str(value["end"]))
    except (KeyError, ValueError):
        return None
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        return None
    return start, end


def backoff(failures: int, policy: PollPolicy, rng: random.Random) -> timedelta:
    """Exponential back-off with jitter: half the step fixed, half random, so retries spread."""
    step = min(policy.backoff_max, policy.backoff_base * 2 ** max(failures - 1, 0))
    half: timedelta = step / 2
    return half + half * rng.random()
