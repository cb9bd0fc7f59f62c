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
#: thread's niceness rose.
_NICENESS_AFTER = """
import os, sys, threading
from postpurchase.cli import lower_priority
asked, answered = threading.Event(), threading.Event()
seen = []
def earlier_thread():
    asked.wait()
    seen.append(os.getpriority(os.PRIO_PROCESS, 0))
    answered.set()
thread = threading.Thread(target=earlier_thread)
thread.start()
before = os.getpriority(os.PRIO_PROCESS, 0)
lower_priority(int(sys.argv[1]))
asked.set()
answered.wait()
print(os.getpriority(os.PRIO_PROCESS, 0) - before, seen[0] - before)
"""


def _niceness_after(niceness: int) -> list[int]:
    run = subprocess.run(
        [sys.executable, "-c", _NICENESS_AFTER, str(niceness)],
        capture_output=True,
        text=True,
        check=True,
    )
    return [int(rise) for rise in run.stdout.split()]


@pytest.mark.skipif(
    not hasattr(os, "getpriority") or os.getpriority(os.PRIO_PROCESS, 0) > 12,
    reason="Unix niceness, with room to lower it",
)
def test_a_worker_lowers_its_priority_by_the_setting_in_every_thread() -> None:
    assert _niceness_after(7) == [7, 7]
    assert _niceness_after(0) == [0, 0]


def test_a_niceness_outside_unix_range_is_a_clear_error() -> None:
    from postpurchase.cli import lower_priority

    with pytest.raises(click.UsageError, match="WORKER_NICE must be between 0 and 19, not -5"):
        lower_priority(-5)
