"""The poll planner: claim due shipments, ask their carriers in batches, apply, plan the next poll.

A run (:func:`poll_due`, the ``tracking.poll`` job) works like this:

1. (Before: new shipments got their first poll planned on ``shipment_created`` (re-planned when the
   EDD's first prediction follows, :func:`replan_first_poll`), or by the hourly
   :func:`maintain` sweep, which also marks shipments without scans for ``expire_after``
   ``expired``.)
2. Due shipments are *claimed*: in one short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
   ``BEGIN IMMEDIATE`` on SQLite) their ``next_poll_at`` is pushed ``lease`` ahead, so an
   overlapping run, another process or a crash never polls them twice. Shipments a carrier webhook
   updated within ``webhook_quiet`` are not claimed but rescheduled after the quiet period.
3. Claimed shipments are grouped per carrier *account* (see :mod:`routing`) and sent in batches of
   the adapter's ``capabilities.max_batch``, paced to ``requests_per_second`` and counted against
   ``requests_per_day``. When the last batch has room, the account's shipments due within
   ``fill_ahead`` are claimed to fill it: the request costs the same, and it spares them a request
   of their own a few minutes later (calls, not numbers, are what carriers limit and bill).
   The core never looks at a carrier's name, only at its capabilities.
4. Errors: :class:`RateLimited` stops calls to that account until ``retry_after`` (at most
   ``rate_limit_max_wait``; the HTTP client never sleeps through it) and puts the unasked
   shipments back, spread over that wait; :class:`TemporaryError`/:class:`ParseError`/
   :class:`AuthError` back off the batch's shipments exponentially with jitter and count towards
   the account's circuit breaker (:mod:`circuit`), which stops all calls while open.
5. Each batch's answers are applied (:func:`apply.apply_result`) in one transaction, and every
   shipment gets its next poll from :func:`policy.next_poll_at`.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from carriers.base import (
    AuthError,
    CarrierError,
    NotFound,
    RateLimited,
    TrackingResult,
    Unsupported,
)
from carriers.status import FINAL, Status
from postpurchase.clock import as_utc, utcnow
from postpurchase.db import affected_rows, claim_scope, is_postgres, session_scope
from postpurchase.models import Brand, Shipment
from postpurchase.models.types import id_of
from postpurchase.tracking import circuit
from postpurchase.tracking.apply import apply_result, set_status
from postpurchase.tracking.intervals import (
    PollPolicy,
    backoff,
    delivery_window,
    first_poll_at,
    next_poll_at,
    policy_from_config,
)
from postpurchase.tracking.routing import Account, account_for, extension

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class Claimed:
    id: int
    brand_id: int
    carrier_code: str
    tracking_number: str


@dataclass
class PollReport:
    claimed: int = 0
    requests: int = 0
    numbers: int = 0
    changed: int = 0
    failed_requests: int = 0
    #: Shipments put back unasked (rate limit, open circuit, daily quota).
    deferred: int = 0
    skipped_webhook: int = 0
    expired: int = 0
    scheduled: int = 0
    #: Seconds until a deferred account may be asked again (rate limit, open circuit, quota): what
    #: a caller asking for a refresh is told to wait. The longest of the run.
    retry_after: float = 0.0
    #: Requests and failed requests per carrier code, for the operations metrics.
    carrier_requests: Counter[str] = field(default_factory=Counter)
    carrier_failures: Counter[str] = field(default_factory=Counter)

    def add(self, other: PollReport) -> None:
        for name in self.__dataclass_fields__:
            if name == "retry_after":
                self.retry_after = max(self.retry_after, other.retry_after)
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def normalize_number(number: str) -> str:
    return "".join(number.split()).replace("-", "").upper()


def plan_shipment(
    shipment: Shipment,
    *,
    now: datetime,
    tz_name: str,
    policy: PollPolicy,
    result: TrackingResult | None = None,
) -> datetime | None:
    """The next poll of ``shipment`` after an answer (or none) at ``now``."""
    return next_poll_at(
        status=Status(shipment.status),
        now=now,
        tz=_zone(tz_name),
        policy=policy,
        expected_date=shipment.carrier_estimated_date or shipment.predicted_date,
        window=delivery_window(result.extra) if result is not None else None,
    )


def schedule_new(session: Session, *, now: datetime, policy: PollPolicy) -> int:
    """Plan the first poll of shipments nobody planned yet (new rows from intake)."""
    return affected_rows(
        session.execute(
            update(Shipment)
            .where(
                col(Shipment.next_poll_at).is_(None),
                col(Shipment.last_polled_at).is_(None),
                col(Shipment.tracking_number).is_not(None),
                col(Shipment.status).not_in(FINAL),
            )
            .values(next_poll_at=first_poll_at(now, policy))
        )
    )


def expire_stale(app: Flask, *, now: datetime, policy: PollPolicy, limit: int = 500) -> int:
    """Mark shipments without any scan for ``expire_after`` as ``expired`` (emits the signal)."""
    since = func.coalesce(Shipment.last_event_at, Shipment.shipped_at, Shipment.created_at)
    with session_scope(app) as session:
        ids = session.exec(
            select(Shipment.id)
            .where(col(Shipment.status).not_in(FINAL), since < now - policy.expire_after)
            .limit(limit)
        ).all()
        for shipment_id in filter(None, ids):
            set_status(session=session, shipment_id=shipment_id, status=Status.expired, now=now)
    return len(ids)


def claim_due(
    app: Flask,
    *,
    now: datetime,
    policy: PollPolicy,
    limit: int | None = None,
    report: PollReport | None = None,
    until: datetime | None = None,
    carrier_code: str | None = None,
    brand_ids: Collection[int] = (),
    exclude: Collection[int] = (),
) -> list[Claimed]:
    """Claim shipments due for a poll (``next_poll_at`` up to ``until``, default ``now``) by
    pushing their ``next_poll_at`` one lease ahead; optionally only one carrier's, of some brands."""
    report = report if report is not None else PollReport()
    with claim_scope(app) as session:
        query = (
            # sqlmodel's select() is typed for at most four columns; this one needs five
            select(  # type: ignore[call-overload]
                Shipment.id,
                Shipment.brand_id,
                Shipment.carrier_code,
                Shipment.tracking_number,
                Shipment.last_webhook_at,
            )
            .where(
                col(Shipment.next_poll_at) <= (until or now),
                col(Shipment.status).not_in(FINAL),
                col(Shipment.tracking_number).is_not(None),
            )
            .order_by(Shipment.next_poll_at)
            .limit(limit or policy.batch_limit)
        )
        if carrier_code is not None:
            query = query.where(Shipment.carrier_code == carrier_code)
        if brand_ids:
            query = query.where(col(Shipment.brand_id).in_(brand_ids))
        if exclude:
            query = query.where(col(Shipment.id).not_in(exclude))
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        claimed: list[Claimed] = []
        for shipment_id, brand_id, code, number, webhook_at in session.exec(query).all():
            if webhook_at is not None and as_utc(webhook_at) > now - policy.webhook_quiet:
                session.execute(
                    update(Shipment)
                    .where(Shipment.id == shipment_id)
                    .values(next_poll_at=as_utc(webhook_at) + policy.webhook_quiet)
                )
                report.skipped_webhook += 1
                continue
            claimed.append(Claimed(shipment_id, brand_id, code, number))
        if claimed:
            session.execute(
                update(Shipment)
                .where(col(Shipment.id).in_([c.id for c in claimed]))
                .values(next_poll_at=now + policy.lease)
            )
    report.claimed += len(claimed)
    return claimed


def _fill(
    app: Flask,
    items: list[Claimed],
    size: int,
    *,
    now: datetime,
    policy: PollPolicy,
    report: PollReport,
) -> list[Claimed]:
    """``items`` plus shipments due within ``fill_ahead`` of the same carrier and brands, up to a
    whole number of batches: the last request has room that costs nothing to use."""
    room = -len(items) % size
    if not room or not policy.fill_ahead:
        return items
    extra = claim_due(
        app,
        now=now,
        policy=policy,
        limit=room,
        report=report,
        until=now + policy.fill_ahead,
        carrier_code=items[0].carrier_code,
        brand_ids={i.brand_id for i in items},
        exclude={i.id for i in items},
    )
    return items + extra


def _put_back(
    app: Flask,
    items: Sequence[Claimed],
    at: datetime,
    rng: random.Random,
    spread: timedelta = timedelta(seconds=30),
) -> None:
    """Give claimed shipments back for a later run, spread a little so they do not return at once."""
    with session_scope(app) as session:
        for item in items:
            session.execute(
                update(Shipment)
                .where(col(Shipment.id) == item.id)
                .values(next_poll_at=at + spread * rng.random())
            )


def _back_off(
    app: Flask, items: Sequence[Claimed], now: datetime, policy: PollPolicy, rng: random.Random
) -> None:
    with session_scope(app) as session:
        for item in items:
            shipment = session.get(Shipment, item.id)
            if shipment is None:
                continue
            shipment.poll_failures += 1
            shipment.next_poll_at = now + backoff(shipment.poll_failures, policy, rng)


def _apply_batch(
    app: Flask,
    items: Sequence[Claimed],
    results: Sequence[TrackingResult],
    *,
    now: datetime,
    policy: PollPolicy,
    source: str,
    zones: dict[int, str],
) -> int:
    """Apply one batch's answers in one transaction; return how many shipments changed status."""
    by_number = {normalize_number(r.tracking_number): r for r in results}
    changed = 0
    with claim_scope(app) as session:
        for item in items:
            result = by_number.get(normalize_number(item.tracking_number))
            if result is not None:
                changed += apply_result(
                    session=session, shipment_id=item.id, result=result, source=source, now=now
                ).changed
            shipment = session.get(Shipment, item.id)
            assert shipment is not None
            shipment.last_polled_at = now
            shipment.poll_failures = 0
            shipment.next_poll_at = plan_shipment(
                shipment, now=now, tz_name=zones[item.brand_id], policy=policy, result=result
            )
    return changed


def poll_shipments(
    app: Flask,
    items: Sequence[Claimed],
    *,
    clock: Clock = utcnow,
    sleep: Sleep = time.sleep,
    policy: PollPolicy | None = None,
    rng: random.Random | None = None,
    source: str = "poll",
) -> PollReport:
    """Ask the carriers about claimed shipments and apply the answers (steps 3–5 above)."""
    policy = policy or policy_from_config(app.config)
    rng = rng or random.Random()  # noqa: S311 (jitter that spreads polls, not a secret)
    report = PollReport()
    groups: dict[str, tuple[Account, list[Claimed]]] = {}
    with session_scope(app) as session:
        brands = {
            id_of(b): b
            for b in session.exec(
                select(Brand).where(col(Brand.id).in_({i.brand_id for i in items}))
            )
        }
    zones = {brand_id: brand.timezone for brand_id, brand in brands.items()}
    for item in items:
        try:
            account = account_for(app, brands[item.brand_id], item.carrier_code)
        except Unsupported:
            log.warning("no adapter for carrier %r (shipment %s)", item.carrier_code, item.id)
            _back_off(app, [item], clock(), policy, rng)
            continue
        groups.setdefault(account.key, (account, []))[1].append(item)
    for account, group in groups.values():
        _poll_account(
            app,
            account,
            group,
            clock=clock,
            sleep=sleep,
            policy=policy,
            rng=rng,
            source=source,
            zones=zones,
            report=report,
        )
    return report


def rate_limit_wait(retry_after: float | None, policy: PollPolicy) -> timedelta:
    """How long to leave an account alone after a 429: its ``Retry-After``, capped."""
    if retry_after is None:
        return policy.rate_limit_default
    return min(timedelta(seconds=max(0.0, retry_after)), policy.rate_limit_max_wait)


def _defer(report: PollReport, count: int, now: datetime, until: datetime) -> None:
    report.deferred += count
    report.retry_after = max(report.retry_after, (until - now).total_seconds())


def _poll_account(
    app: Flask,
    account: Account,
    items: list[Claimed],
    *,
    clock: Clock,
    sleep: Sleep,
    policy: PollPolicy,
    rng: random.Random,
    source: str,
    zones: dict[int, str],
    report: PollReport,
) -> None:
    caps = account.adapter.capabilities
    size = max(1, caps.max_batch)
    items = _fill(app, items, size, now=clock(), policy=policy, report=report)
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    state = extension(app)
    for index, chunk in enumerate(chunks):
        rest = [item for later in chunks[index:] for item in later]
        now = clock()
        permit = circuit.permit(app, account.key, now, policy)
        if not permit.allowed:
            until = permit.until or now + policy.circuit_cooldown
            _put_back(app, rest, until, rng)
            _defer(report, len(rest), now, until)
            return
        if caps.requests_per_day and not circuit.reserve_daily(
            app, account.key, now, caps.requests_per_day
        ):
            tomorrow = datetime.combine(
                now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo
            )
            _put_back(app, rest, tomorrow, rng, spread=timedelta(hours=1))
            _defer(report, len(rest), now, tomorrow)
            return
        last = state.last_request_at.get(account.key)
        if last is not None and caps.requests_per_second > 0:
            interval = 1 / caps.requests_per_second
            # Never more than one interval: a clock that went back (a replay's simulated clock, an
            # NTP step) must not turn the pacing into a long sleep.
            wait = min(interval, (last + timedelta(seconds=interval) - now).total_seconds())
            if wait > 0:
                sleep(wait)
                now = clock()
        state.last_request_at[account.key] = now
        report.requests += 1
        report.carrier_requests[account.code] += 1
        try:
            results = account.adapter.track([item.tracking_number for item in chunk])
        except NotFound:
            results = []
        except RateLimited as exc:
            report.failed_requests += 1
            report.carrier_failures[account.code] += 1
            retry = rate_limit_wait(exc.retry_after, policy)
            until = circuit.record_rate_limited(app, account.key, now, retry)
            _put_back(app, rest, until, rng, spread=max(retry, timedelta(seconds=1)))
            _defer(report, len(rest), now, until)
            return
        except (CarrierError, OSError) as exc:
            report.failed_requests += 1
            report.carrier_failures[account.code] += 1
            # Never log the exception text of auth failures at length: it may echo credentials.
            message = type(exc).__name__ if isinstance(exc, AuthError) else str(exc)
            log.warning("carrier account %s failed: %s", account.key, message)
            opened = circuit.record_failure(app, account.key, now, message, policy, rng)
            _back_off(app, chunk, now, policy, rng)
            if opened or isinstance(exc, AuthError):
                later = [item for item in rest if item not in chunk]
                _put_back(app, later, now + policy.circuit_cooldown, rng)
                _defer(report, len(later), now, now + policy.circuit_cooldown)
                return
            continue
        circuit.record_success(app, account.key, now)
        report.numbers += len(chunk)
        report.changed += _apply_batch(
            app, chunk, results, now=now, policy=policy, source=source, zones=zones
        )


def poll_due(
    app: Flask,
    *,
    clock: Clock = utcnow,
    sleep: Sleep = time.sleep,
    policy: PollPolicy | None = None,
    rng: random.Random | None = None,
    limit: int | None = None,
) -> PollReport:
    """One planner run: claim what is due and poll it (the ``tracking.poll`` job)."""
    policy = policy or policy_from_config(app.config)
    report = PollReport()
    now = clock()
    claimed = claim_due(app, now=now, policy=policy, limit=limit, report=report)
    if claimed:
        report.add(poll_shipments(app, claimed, clock=clock, sleep=sleep, policy=policy, rng=rng))
    return report


def maintain(app: Flask, *, now: datetime, policy: PollPolicy | None = None) -> PollReport:
    """Hourly upkeep (the ``tracking.maintain`` job): plan unplanned shipments, expire stale ones."""
    policy = policy or policy_from_config(app.config)
    report = PollReport()
    with claim_scope(app) as session:
        report.scheduled = schedule_new(session, now=now, policy=policy)
    report.expired = expire_stale(app, now=now, policy=policy)
    return report


def _first_poll(
    session: Session, shipment: Shipment, now: datetime, policy: PollPolicy
) -> datetime:
    brand = session.get(Brand, shipment.brand_id)
    return first_poll_at(
        now,
        policy,
        tz=_zone(brand.timezone) if brand is not None else None,
        earliest=shipment.window_start or shipment.predicted_date,
    )


def schedule_first_poll(
    *, session: Session, shipment_id: int, now: datetime, policy: PollPolicy
) -> None:
    """Plan the first poll of a new parcel (on ``shipment_created``, in the sender's session).

    Not flushed here: the next flush writes it in the same UPDATE as the EDD's dates, which the
    prediction that follows on the same signal sets (one UPDATE of the new row instead of two).
    """
    shipment = session.get(Shipment, shipment_id)
    if shipment is not None and shipment.next_poll_at is None and shipment.tracking_number:
        shipment.next_poll_at = _first_poll(session, shipment, now, policy)


def replan_first_poll(
    *, session: Session, shipment_id: int, now: datetime, policy: PollPolicy
) -> None:
    """Re-plan the first poll of a parcel the carrier has told us nothing about yet from its new
    prediction (on ``shipment_prediction_changed``: the EDD may predict after ``shipment_created``
    planned it). Written with the next flush, like the prediction's dates."""
    shipment = session.get(Shipment, shipment_id)
    if (
        shipment is not None
        and shipment.status == Status.pending
        and shipment.last_polled_at is None
        and shipment.next_poll_at is not None
        and shipment.tracking_number
    ):
        shipment.next_poll_at = _first_poll(session, shipment, now, policy)
