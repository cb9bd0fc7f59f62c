"""Failed attempts are counted in the database: a sliding window per scope and key."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from postpurchase import throttle
from postpurchase.clock import utcnow
from postpurchase.models import ThrottleAttempt

WINDOW = timedelta(minutes=15)


def _fail(session, key: str = "a", times: int = 1, scope: str = "test") -> None:
    for _ in range(times):
        throttle.record_failure(session=session, scope=scope, key=key, window=WINDOW, now=utcnow())


def _check(session, key: str = "a", scope: str = "test") -> throttle.Verdict:
    return throttle.check(
        session=session, scope=scope, key=key, limit=3, window=WINDOW, now=utcnow()
    )


def test_a_key_is_allowed_until_it_reaches_the_limit(session) -> None:
    _fail(session, times=2)
    assert _check(session).allowed
    _fail(session)
    assert _check(session) == throttle.Verdict(allowed=False, retry_after=15 * 60)


def test_retry_after_counts_down_to_when_the_oldest_counted_failure_leaves_the_window(
    session, clock
) -> None:
    _fail(session)
    clock.advance(minutes=5)
    _fail(session, times=2)
    clock.advance(minutes=1)
    assert _check(session).retry_after == 9 * 60
    clock.advance(minutes=9)
    assert _check(session).allowed


def test_keys_and_scopes_are_counted_apart(session) -> None:
    _fail(session, key="a", times=3)
    assert _check(session, key="b").allowed
    assert _check(session, key="a", scope="other").allowed


def test_reset_forgets_the_keys_failures(session) -> None:
    _fail(session, times=3)
    throttle.reset(session=session, scope="test", key="a")
    assert _check(session).allowed


def test_recording_prunes_failures_that_left_the_window(session, clock) -> None:
    _fail(session, key="old", times=2)
    clock.advance(minutes=16)
    _fail(session, key="new")
    assert len(session.exec(select(ThrottleAttempt)).all()) == 1


def test_keys_are_stored_hashed(session) -> None:
    _fail(session, key="ops@acme.example")
    assert "ops@acme.example" not in session.exec(select(ThrottleAttempt.key_hash)).one()
