"""Limits counted in the database, so every worker process shares one count.

Two kinds, one home:

- **Failed attempts** (:func:`check`, :func:`record_failure`, :func:`reset`): a key (a sign-in
  email, a client address) may fail ``limit`` times within a sliding ``window``; past that it is
  refused until its oldest counted failure leaves the window. Callers check before doing the
  guarded work, record a failure when it fails, and commit even though the request fails.
- **Request rates** (:func:`hit`, :func:`retry_after`): every request of a key counts in a fixed
  window, one upsert per request, for public endpoints anyone may call (the checkout estimate).
  :func:`upsert` is the dialect's ``INSERT ... ON CONFLICT`` that other bounded counters
  (webhook rejections) use too.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, delete
from sqlmodel import Session, col, select

from postpurchase.models import RateLimitWindow, ThrottleAttempt
from postpurchase.models.types import table_of, upsert


@dataclass(frozen=True)
class Verdict:
    """Whether another attempt is allowed now; if not, the seconds until it is."""

    allowed: bool
    retry_after: int = 0


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def check(
    *, session: Session, scope: str, key: str, limit: int, window: timedelta, now: datetime
) -> Verdict:
    """Allowed while fewer than ``limit`` failures of ``key`` lie within ``window`` before ``now``."""
    # The limit-th most recent failure in the window: while it exists the key is refused, and it
    # is the failure whose expiry makes room for the next attempt.
    blocking = session.exec(
        select(ThrottleAttempt.attempted_at)
        .where(
            ThrottleAttempt.scope == scope,
            ThrottleAttempt.key_hash == _key_hash(key),
            col(ThrottleAttempt.attempted_at) > now - window,
        )
        .order_by(col(ThrottleAttempt.attempted_at).desc())
        .offset(limit - 1)
        .limit(1)
    ).first()
    if blocking is None:
        return Verdict(allowed=True)
    return Verdict(
        allowed=False, retry_after=max(1, math.ceil((blocking + window - now).total_seconds()))
    )


def record_failure(
    *, session: Session, scope: str, key: str, window: timedelta, now: datetime
) -> None:
    """Count a failure of ``key``, and drop the scope's failures that have left the window."""
    session.execute(
        delete(ThrottleAttempt).where(
            col(ThrottleAttempt.scope) == scope, col(ThrottleAttempt.attempted_at) <= now - window
        )
    )
    session.add(ThrottleAttempt(scope=scope, key_hash=_key_hash(key), attempted_at=now))
    session.flush()


def reset(*, session: Session, scope: str, key: str) -> None:
    """Forget the failures of ``key`` (after it proved itself, e.g. a correct password)."""
    session.execute(
        delete(ThrottleAttempt).where(
            col(ThrottleAttempt.scope) == scope, col(ThrottleAttempt.key_hash) == _key_hash(key)
        )
    )
    session.flush()


def window_start(now: datetime, window: timedelta) -> datetime:
    """The start of the fixed window of length ``window`` that contains ``now``."""
    seconds = int(window.total_seconds())
    return datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, UTC)


def hit(*, session: Session | Connection, key: str, now: datetime, window: timedelta) -> int:
    """Count one request for ``key``; returns the requests counted in the current window.

    The first request of a window also deletes every expired window, of any key, so the table
    holds about one row per key active in the last window.
    """
    table = table_of(RateLimitWindow)
    start = window_start(now, window)
    statement = upsert(session, table).values(key=key[:128], window_start=start, count=1)
    statement = statement.on_conflict_do_update(
        index_elements=["key", "window_start"], set_={"count": table.c.count + 1}
    ).returning(table.c.count)
    count = int(session.execute(statement).scalar_one())
    if count == 1:
        session.execute(delete(table).where(table.c.window_start < start))
    return count


def retry_after(now: datetime, window: timedelta) -> int:
    """Seconds until the current window ends (for a ``Retry-After`` header)."""
    end = window_start(now, window) + window
    return max(1, int((end - now).total_seconds() + 0.999))
