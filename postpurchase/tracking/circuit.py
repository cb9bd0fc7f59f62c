"""Per-carrier-account circuit breaker, rate-limit back-off and daily quota, kept in the database.

State lives in :class:`CarrierCircuit` rows and changes through single ``UPDATE`` statements, so
every process (web workers asking for a refresh, the scheduler, a CLI run) sees and respects the
same state. Each function runs its own short transaction and commits at once.

closed ──(``circuit_threshold`` failures in a row)──▶ open ──(``open_until`` passes)──▶ half_open:
one caller wins the probe ──success──▶ closed, ──failure──▶ open again with a doubled cool-down.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import and_, or_, update
from sqlmodel import Session, col

from postpurchase.db import affected_rows, session_scope
from postpurchase.models import CarrierCircuit
from postpurchase.models.types import table_of, upsert
from postpurchase.tracking.intervals import PollPolicy

C = CarrierCircuit


@dataclass(frozen=True)
class Permit:
    """May this process call the account now? ``probe``: this call decides the half-open circuit."""

    allowed: bool
    until: datetime | None = None
    probe: bool = False


def _ensure(session: Session, key: str, now: datetime) -> None:
    session.execute(
        upsert(session, table_of(C))
        .values(
            key=key,
            state="closed",
            failures=0,
            opened_count=0,
            day_requests=0,
            updated_at=now,
        )
        .on_conflict_do_nothing()
    )


def permit(app: Flask, key: str, now: datetime, policy: PollPolicy) -> Permit:
    """Whether calls to ``key`` may go out now; takes the probe when a cool-down has passed."""
    with session_scope(app) as session:
        _ensure(session, key, now)
        row = session.get(C, key, populate_existing=True)
        assert row is not None
        if row.retry_at is not None and row.retry_at > now:
            return Permit(False, row.retry_at)
        if row.state == "closed":
            return Permit(True)
        taken = affected_rows(
            session.execute(
                update(C)
                .where(
                    col(C.key) == key,
                    or_(
                        and_(col(C.state) == "open", col(C.open_until) <= now),
                        and_(col(C.state) == "half_open", col(C.probe_until) <= now),
                    ),
                )
                .values(state="half_open", probe_until=now + policy.lease, updated_at=now)
            )
        )
        if taken:
            return Permit(True, probe=True)
        return Permit(False, row.open_until if row.state == "open" else row.probe_until)


def record_success(app: Flask, key: str, now: datetime) -> None:
    with session_scope(app) as session:
        session.execute(
            update(C)
            .where(col(C.key) == key, or_(col(C.state) != "closed", col(C.failures) != 0))
            .values(
                state="closed",
                failures=0,
                opened_count=0,
                probe_until=None,
                open_until=None,
                updated_at=now,
            )
        )


def record_failure(
    app: Flask, key: str, now: datetime, error: str, policy: PollPolicy, rng: random.Random
) -> bool:
    """Count a failed call; return True when the circuit is (now) open."""
    with session_scope(app) as session:
        _ensure(session, key, now)
        session.execute(
            update(C)
            .where(col(C.key) == key)
            .values(failures=C.failures + 1, last_error=error[:300], updated_at=now)
        )
        row = session.get(C, key, populate_existing=True)
        assert row is not None
        if row.state == "half_open" or row.failures >= policy.circuit_threshold:
            cooldown = min(
                policy.circuit_cooldown_max,
                policy.circuit_cooldown * 2 ** min(row.opened_count, 10),
            )
            row.state = "open"
            row.open_until = now + cooldown * (1 + 0.2 * rng.random())
            row.opened_count += 1
            row.probe_until = None
            return True
        return False


def record_rate_limited(app: Flask, key: str, now: datetime, retry_after: timedelta) -> datetime:
    until = now + retry_after
    with session_scope(app) as session:
        _ensure(session, key, now)
        session.execute(update(C).where(col(C.key) == key).values(retry_at=until, updated_at=now))
    return until


def reserve_daily(app: Flask, key: str, now: datetime, limit: int) -> bool:
    """Count one request against today's (UTC) quota; False when it is used up."""
    today = now.date()
    with session_scope(app) as session:
        _ensure(session, key, now)
        counted = affected_rows(
            session.execute(
                update(C)
                .where(col(C.key) == key, col(C.day) == today, col(C.day_requests) < limit)
                .values(day_requests=C.day_requests + 1)
            )
        )
        if not counted:
            counted = affected_rows(
                session.execute(
                    update(C)
                    .where(col(C.key) == key, or_(col(C.day).is_(None), col(C.day) != today))
                    .values(day=today, day_requests=1)
                )
            )
        return bool(counted)
