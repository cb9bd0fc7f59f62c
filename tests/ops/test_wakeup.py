"""Accepting an event wakes the workers: their own thread (INBOX_INLINE) or a PostgreSQL NOTIFY."""

from __future__ import annotations

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


@pytest.mark.skipif(not PG_URL, reason="LISTEN/NOTIFY is PostgreSQL's")
def test_notifications_arriving_soon_after_the_first_join_its_wake_up(app, post_event) -> None:
    """The listener gathers a burst for a moment, so a worker claims a batch rather than one
    event per wake-up. The second notification is sent once the first has woken the listener."""
    import threading

    import psycopg

    from postpurchase.inbox.wakeup import CHANNEL

    url = get_db(app).url
    with listening(url) as connection:
        first = post_event(example("order.created")).json["id"]
        woken = threading.Event()

        def notify_once_woken() -> None:
            woken.wait(5)
            dsn = url.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(dsn, autocommit=True) as other:
                other.execute("SELECT pg_notify(%s, '424242')", (CHANNEL,))

        sender = threading.Thread(target=notify_once_woken)
        sender.start()
        original = connection.notifies

        def notifies(**kwargs):
            for note in original(**kwargs):
                yield note
                woken.set()

        connection.notifies = notifies
        try:
            ids = wait_for_notifications(connection, timeout=5, gather=2)
        finally:
            sender.join()
    assert ids == [first, 424242]
