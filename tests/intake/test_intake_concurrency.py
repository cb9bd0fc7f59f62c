"""Two workers' units of work at the same time on PostgreSQL (disjoint events, shared rows)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from intake_helpers import inbox, rows
from sqlalchemy import text
from sqlmodel import select

from postpurchase import inbox as inbox_module
from postpurchase.db import get_db
from postpurchase.inbox import process_events
from postpurchase.intake.examples import EXAMPLES
from postpurchase.intake.operations import ensure_fulfillment_centre
from postpurchase.intake.schemas import EventType
from postpurchase.models import FulfillmentCentre, InboxState, Shipment
from tests.conftest import PG_URL

ORDER = EXAMPLES[EventType.order_created]
SHIPMENT = EXAMPLES[EventType.shipment_created]


class OtherWorker(threading.Thread):
    """Another worker's unit of work in a thread; keeps what it returned or what it raised (so the
    test reports it instead of the thread swallowing it)."""

    def __init__(self, work: Callable[[], object]) -> None:
        super().__init__()
        self.work = work
        self.result: object = None
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            self.result = self.work()
        except Exception as error:  # reported by the test's assertion
            self.error = error


@pytest.mark.skipif(not PG_URL, reason="two units of work at once need PostgreSQL")
def test_two_units_of_work_meeting_a_new_centre_share_it(app, brand) -> None:
    """The second waits for the first one's commit on the centre's unique key, then uses that
    centre instead of failing its whole batch."""
    database = get_db(app)
    first, second = database.session(), database.session()

    def other_worker() -> int:
        centre = ensure_fulfillment_centre(session=second, brand_id=brand.brand_id, code="NEW-FC")
        second.commit()
        return centre

    try:
        mine = ensure_fulfillment_centre(session=first, brand_id=brand.brand_id, code="NEW-FC")
        thread = OtherWorker(other_worker)
        thread.start()
        with database.engine.connect() as watcher:  # until the other insert waits for ours
            waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted"
            for _ in range(3000):
                if not thread.is_alive() or watcher.execute(text(waiting)).scalar():
                    break
                watcher.rollback()
                time.sleep(0.01)
        first.commit()
        thread.join(30)
    finally:
        first.close()
        second.close()
    assert thread.error is None, thread.error
    assert thread.result == mine
    with database.session() as session:
        centres = session.exec(select(FulfillmentCentre).where(FulfillmentCentre.code == "NEW-FC"))
        assert len(centres.all()) == 1


def test_a_new_centre_has_the_models_defaults(app, brand) -> None:
    """Inserted as a statement, not an ORM object: the defaults must still be the model's."""
    database = get_db(app)
    with database.session() as session:
        made = ensure_fulfillment_centre(session=session, brand_id=brand.brand_id, code="FC-9")
        again = ensure_fulfillment_centre(session=session, brand_id=brand.brand_id, code="FC-9")
        session.commit()
        centre = session.get(FulfillmentCentre, made)
    assert again == made
    assert centre is not None
    assert (centre.name, centre.country, centre.timezone, centre.cutoff_time) == (
        "FC-9",
        "JP",
        "Asia/Tokyo",
        "15:00",
    )
    assert centre.handling_days == 0


@pytest.mark.skipif(not PG_URL, reason="two units of work at once need PostgreSQL")
def test_a_shipment_deferred_while_another_worker_applies_its_order_is_not_left_waiting(
    app, post_event, monkeypatch
) -> None:
    """Worker A defers the shipment (its order is not there yet) while worker B applies that order
    and commits; B cannot release what A has not yet stored as deferred (the row is A's, skipped).
    A must notice after its commit instead of leaving the shipment to its retry a minute later."""
    shipment_id = post_event(SHIPMENT).json["id"]
    order_id = post_event(ORDER).json["id"]
    deferring, order_applied = threading.Event(), threading.Event()
    record = inbox_module.record_verdicts

    def record_after_the_order(session, verdicts) -> None:  # type: ignore[no-untyped-def]
        if threading.current_thread() is worker_a and any(
            v.state == InboxState.deferred for v in verdicts
        ):
            deferring.set()
            order_applied.wait(30)
        record(session, verdicts)

    monkeypatch.setattr(inbox_module, "record_verdicts", record_after_the_order)
    worker_a = OtherWorker(lambda: process_events(app, [shipment_id]))
    worker_a.start()
    assert deferring.wait(30)
    try:
        stats_b = process_events(app, [order_id])
    finally:
        order_applied.set()
        worker_a.join(30)
    assert worker_a.error is None, worker_a.error
    assert stats_b.processed == 1  # the order alone: the shipment was not B's to release
    assert {e.id: e.state for e in inbox(app)} == {
        shipment_id: InboxState.processed,
        order_id: InboxState.processed,
    }
    shipments = rows(app, Shipment)
    assert shipments
    assert all(shipment.order_id is not None for shipment in shipments)


@pytest.mark.skipif(not PG_URL, reason="two units of work at once need PostgreSQL")
def test_an_order_committed_after_the_shipment_was_looked_at_again_still_releases_it(
    app, post_event, monkeypatch
) -> None:
    """Worker B has applied the order and searched for waiting events (none yet) but not
    committed; worker A defers the shipment, commits and looks again (the order is not committed
    yet). B's second search after its commit must find the shipment."""
    shipment_id = post_event(SHIPMENT).json["id"]
    order_id = post_event(ORDER).json["id"]
    searched, shipment_deferred = threading.Event(), threading.Event()
    search = inbox_module._waiting

    def search_then_pause(session, brand_id, keys, **kwargs):  # type: ignore[no-untyped-def]
        found = search(session, brand_id, keys, **kwargs)
        if threading.current_thread() is worker_b and not searched.is_set():
            searched.set()
            shipment_deferred.wait(30)
        return found

    monkeypatch.setattr(inbox_module, "_waiting", search_then_pause)
    worker_b = OtherWorker(lambda: process_events(app, [order_id]))
    worker_b.start()
    try:
        assert searched.wait(30)
        stats_a = process_events(app, [shipment_id])
    finally:
        shipment_deferred.set()
        worker_b.join(30)
    assert worker_b.error is None, worker_b.error
    assert stats_a.deferred == 1
    assert {e.id: e.state for e in inbox(app)} == {
        shipment_id: InboxState.processed,
        order_id: InboxState.processed,
    }
