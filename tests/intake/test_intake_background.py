"""With INBOX_INLINE the web process applies events itself, right after answering."""

from __future__ import annotations

import threading

import pytest
from intake_helpers import example, inbox, rows

from postpurchase.inbox import process_events
from postpurchase.intake.examples import EXAMPLES
from postpurchase.intake.schemas import EventType
from postpurchase.jobs import JOBS
from postpurchase.models import InboxState, Order


@pytest.fixture
def app_config(app_config):
    return {**app_config, "INBOX_INLINE": True}


def test_accepted_event_is_processed_by_the_background_thread(app, post_event, monkeypatch) -> None:
    done = threading.Event()

    def process_and_signal(app_, ids, **kwargs):
        stats = process_events(app_, ids, **kwargs)
        done.set()
        return stats

    monkeypatch.setattr("postpurchase.inbox.worker.process_events", process_and_signal)
    assert post_event(EXAMPLES[EventType.order_created]).status_code == 202
    assert done.wait(10), "the background thread did not process the event"
    assert [e.state for e in inbox(app)] == [InboxState.processed]
    assert len(rows(app, Order)) == 1


def test_duplicates_are_not_queued_again(app, post_event, monkeypatch) -> None:
    queued: list[int] = []
    monkeypatch.setattr(
        "postpurchase.inbox.wakeup.submit", lambda _app, event_id: queued.append(event_id)
    )
    post_event(example("order.created"))
    post_event(example("order.created"))
    assert len(queued) == 1


def test_the_sweep_is_a_scheduler_job(app) -> None:
    assert "inbox.sweep" in {job.id for job in JOBS}
