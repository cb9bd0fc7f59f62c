"""Failed attempts counted in the database, so every worker process shares one count.

A key (a sign-in email, a client address) may fail ``limit`` times within a sliding ``window``;
past that it is refused until its oldest counted failure leaves the window. Callers check before
doing the guarded work, record a failure when it fails, and commit even though the request fails.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from postpurchase.models import ThrottleAttempt


@dataclass(frozen=True)
class Verdict:
    """Whether another attempt is allowed now; if not, the seconds until it is."""

    allowed: bool
    retry_after: int = 0


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def check(*, session: Session, scope: str, key: str, limit: int, window: timedelta, now: datetime) -> Verdict:
    """Allowed while fewer than ``limit`` failures of ``key`` lie within ``window`` before ``now``."""
    # The limit-th most recent failure in the window: while it exists the key is refused, and it
    # is the failure whose expiry makes room for the next attempt.
    blocking = session.exec(
        select(ThrottleAttempt.attempted_at)
        .where(ThrottleAttempt.scope == scope, ThrottleAttempt.key_hash == _key_hash(key),
               col(ThrottleAttempt.attempted_at) > now - window)
        .order_by(col(ThrottleAttempt.attempted_at).desc())
        .offset(limit - 1)
        .limit(1)
    ).first()
    if blocking is None:
        return Verdict(allowed=True)
    return Verdict(allowed=False, retry_after=max(1, math.ceil((blocking + window - now).total_seconds())))


def record_failure(*, session: Session, scope: str, key: str, window: timedelta, now: datetime) -> None:
    """Count a failure of ``key``, and drop the scope's failures that have left the window."""
    session.execute(delete(ThrottleAttempt).where(
        col(ThrottleAttempt.scope) == scope, col(ThrottleAttempt.attempted_at) <= now - window))
    session.add(ThrottleAttempt(scope=scope, key_hash=_key_hash(key), attempted_at=now))
    session.flush()


def reset(*, session: Session, scope: str, key: str) -> None:
    """Forget the failures of ``key`` (after it proved itself, e.g. a correct password)."""
    session.execute(delete(ThrottleAttempt).where(
        col(ThrottleAttempt.scope) == scope, col(ThrottleAttempt.key_hash) == _key_hash(key)))
    session.flush()
