"""Accepting an event wakes the workers: their own thread (INBOX_INLINE) or a PostgreSQL NOTIFY."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest

from postpurchase.db import get_db
from postpurchase.inbox.wakeup import InboxListener, listening, wait_for_notifications
from postpurchase.models import InboxState
from tests.conftest import PG_URL
from tests.intake.intake_helpers import example


def test_without_inbox_inline_the_web_process_does_not_process(post_event, monkeypatch) -> None:
    queued: list[int] = []
    monkeypatch.setattr("postpurchase.inbox.wakeup.submit", lambda _a, i: queued.append(i))
    assert post_event(example("order.created")).status_code == 202
    assert queued == []


def test_the_listener_processes_pending_events_on_each_wake_up(app, post_event) -> None:
    event_id = post_event(example("order.created")).json["id"]
    InboxListener(app)._process()
    with get_db(app).session() as session:
        from postpurchase.models import InboxEvent

        assert session.get(InboxEvent, event_id).state == InboxState.processed


@pytest.mark.skipif(not PG_URL, reason="LISTEN/NOTIFY is PostgreSQL's")
def test_an_accepted_event_notifies_listening_workers(app, post_event) -> None:
    with listening(get_db(app).url) as connection:
        event_id = post_event(example("order.created")).json["id"]
        # The notification is already queued: this returns at once, not after the timeout.
        assert wait_for_notifications(connection, timeout=5) == [event_id]


@pytest.mark.skipif(not PG_URL, reason="LISTEN/NOTIFY is PostgreSQL's")
def test_a_burst_of_notifications_is_one_wake_up(app, post_event) -> None:
    with listening(get_db(app).url) as connection:
        ids = [post_event(example(kind)).json["id"] for kind in ("order.created", "order.updated")]
        # A round trip makes the server hand over both committed notifications before it answers,
        # so the burst is waiting in full: without it the second may still be on its way.
        connection.execute("SELECT 1")
        assert wait_for_notifications(connection, timeout=5) == ids


#: Run in a child process (a process cannot raise its priority back, so never in the test's
#: own): a thread started before ``lower_priority``, then how much the main thread's and that
#: thread's niceness rose, and whether each runs under ``SCHED_IDLE``.
_PRIORITY_AFTER = """
import os, sys, threading
from postpurchase.cli import lower_priority
asked, answered = threading.Event(), threading.Event()
seen = []
def idle():
    return int(os.sched_getscheduler(0) == os.SCHED_IDLE)
def earlier_thread():
    asked.wait()
    seen.extend([os.getpriority(os.PRIO_PROCESS, 0), idle()])
    answered.set()
thread = threading.Thread(target=earlier_thread)
thread.start()
before = os.getpriority(os.PRIO_PROCESS, 0)
lower_priority(sys.argv[1])
asked.set()
answered.wait()
print(os.getpriority(os.PRIO_PROCESS, 0) - before, idle(), seen[0] - before, seen[1])
"""


def _priority_after(setting: str) -> list[int]:
    """The main thread's rise in niceness and whether it is idle, then the earlier thread's."""
    run = subprocess.run(
        [sys.executable, "-c", _PRIORITY_AFTER, setting],
        capture_output=True,
        text=True,
        check=True,
    )
    return [int(value) for value in run.stdout.split()]


@pytest.mark.skipif(
    not hasattr(os, "SCHED_IDLE") or os.getpriority(os.PRIO_PROCESS, 0) > 12,
    reason="Linux scheduling policies, with room to lower the niceness",
)
def test_a_worker_lowers_its_priority_by_the_setting_in_every_thread() -> None:
    assert _priority_after("7") == [7, 0, 7, 0]
    assert _priority_after("0") == [0, 0, 0, 0]
    assert _priority_after("idle") == [0, 1, 0, 1]


@pytest.mark.parametrize("setting", ["-5", "20", "low"])
def test_a_priority_neither_idle_nor_a_unix_niceness_is_a_clear_error(setting: str) -> None:
    from postpurchase.cli import lower_priority

    with pytest.raises(
        click.UsageError,
        match=f"WORKER_NICE must be 'idle' or a niceness between 0 and 19, not '{setting}'",
    ):
        lower_priority(setting)
