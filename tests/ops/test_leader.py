"""One scheduler leader across processes: a lease in the database, taken over when it runs out.

Two "processes" are two lease holders sharing the database, on the pinned clock; nothing sleeps.
"""

from __future__ import annotations

from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_PAUSED

from postpurchase import lease
from postpurchase.db import session_scope
from postpurchase.jobs import SchedulerLeader

TTL = timedelta(seconds=15)


def take(app, holder: str, now) -> bool:
    with session_scope(app) as session:
        return lease.acquire(session=session, name=lease.SCHEDULER, holder=holder, now=now, ttl=TTL)


def holder_at(app, now) -> str | None:
    with session_scope(app) as session:
        current = lease.current(session=session, name=lease.SCHEDULER, now=now)
        return current.holder if current else None


def test_the_first_process_to_ask_becomes_the_leader(app, clock) -> None:
    assert take(app, "a", clock.now)
    assert holder_at(app, clock.now) == "a"


def test_a_second_process_is_refused_while_the_lease_runs(app, clock) -> None:
    take(app, "a", clock.now)
    assert not take(app, "b", clock.now + TTL - timedelta(seconds=1))
    assert holder_at(app, clock.now) == "a"


def test_the_holder_renews_its_lease(app, clock) -> None:
    take(app, "a", clock.now)
    assert take(app, "a", clock.now + timedelta(seconds=10))
    assert not take(app, "b", clock.now + timedelta(seconds=20))
    assert holder_at(app, clock.now + timedelta(seconds=20)) == "a"


def test_another_process_takes_over_once_the_lease_runs_out(app, clock) -> None:
    take(app, "a", clock.now)
    assert take(app, "b", clock.now + TTL)
    assert holder_at(app, clock.now + TTL) == "b"
    assert not take(app, "a", clock.now + TTL + timedelta(seconds=1))


def test_a_released_lease_is_taken_at_once(app, clock) -> None:
    take(app, "a", clock.now)
    with session_scope(app) as session:
        lease.release(session=session, name=lease.SCHEDULER, holder="a", now=clock.now)
    assert holder_at(app, clock.now) is None
    assert take(app, "b", clock.now)


def test_nobody_leads_after_the_lease_runs_out(app, clock) -> None:
    take(app, "a", clock.now)
    assert holder_at(app, clock.now + TTL) is None


def leader(app, holder: str) -> SchedulerLeader:
    return SchedulerLeader(app, holder=holder, scheduler=BackgroundScheduler(timezone="UTC"))


def test_exactly_one_of_two_processes_runs_the_jobs(app, clock) -> None:
    first, second = leader(app, "web-1"), leader(app, "worker-1")
    assert [first.step(clock.now), second.step(clock.now)] == [True, False]
    clock.advance(seconds=5)
    assert [first.step(clock.now), second.step(clock.now)] == [True, False]


def test_a_new_leader_takes_over_within_the_lease_after_the_old_one_dies(app, clock) -> None:
    first, second = leader(app, "web-1"), leader(app, "worker-1")
    first.step(clock.now)
    second.step(clock.now)
    # ``first`` dies: it renews no more. ``second`` keeps trying every renew interval.
    took_over_after = None
    for tick in range(1, 10):
        clock.advance(seconds=second.renew_seconds)
        if second.step(clock.now):
            took_over_after = tick * second.renew_seconds
            break
    assert took_over_after is not None
    assert took_over_after <= TTL.total_seconds() + second.renew_seconds


def test_a_leader_that_lost_its_lease_pauses_its_jobs(app, clock) -> None:
    first = leader(app, "web-1")
    first.scheduler.start(paused=True)
    try:
        first.step(clock.now)
        assert first.leading
        clock.advance(
            seconds=TTL.total_seconds()
        )  # stalled past its lease; another process took over meanwhile
        assert take(app, "worker-1", clock.now)
        assert first.step(clock.now) is False
        assert first.scheduler.state == STATE_PAUSED
    finally:
        first.scheduler.shutdown(wait=False)


def test_stopping_the_leader_hands_the_lease_back(app, clock) -> None:
    first = leader(app, "web-1")
    first.step(clock.now)
    first.stop()
    assert take(app, "worker-1", clock.now)


def test_a_process_that_cannot_reach_the_database_does_not_lead(app_config, clock) -> None:
    from postpurchase import create_app

    cut_off = create_app(
        {**app_config, "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"}
    )
    assert leader(cut_off, "web-1").step(clock.now) is False
