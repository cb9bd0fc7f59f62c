"""Nothing lost, nothing doubled: duplicates, out-of-order arrival, stale updates, failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from intake_helpers import event, example, inbox, process, rows
from sqlalchemy import event as sa_event
from sqlmodel import col, select

from postpurchase import inbox as inbox_module
from postpurchase import signals
from postpurchase.cli import main
from postpurchase.clock import utcnow
from postpurchase.db import get_db, session_scope
from postpurchase.inbox import Received, move_spooled, process_events, receive
from postpurchase.insights import figures as figures_module
from postpurchase.intake.examples import EXAMPLES
from postpurchase.intake.generic import apply_data
from postpurchase.intake.schemas import EventType, OrderData
from postpurchase.models import (
    InboxEvent,
    InboxState,
    InventoryLevel,
    Order,
    Shipment,
    ShipmentFigures,
)
from tests.sql import query_plan, recorded

ORDER = EXAMPLES[EventType.order_created]
SHIPMENT = EXAMPLES[EventType.shipment_created]


@pytest.fixture
def emitted():
    """Signals sent during the test, as ``(name, sender, kwargs)``."""
    seen: list[tuple[str, object, dict]] = []
    receivers = []
    for name in (
        "order_upserted",
        "order_cancelled",
        "shipment_created",
        "inventory_updated",
        "return_updated",
    ):

        def receiver(sender, _name=name, **kwargs):
            seen.append((_name, sender, kwargs))

        receivers.append(receiver)
        getattr(signals, name).connect(receiver)
    yield seen
    for name, receiver in zip(
        (
            "order_upserted",
            "order_cancelled",
            "shipment_created",
            "inventory_updated",
            "return_updated",
        ),
        receivers,
        strict=True,
    ):
        getattr(signals, name).disconnect(receiver)


def test_same_event_id_twice_is_answered_duplicate_and_applied_once(
    app, post_event, emitted
) -> None:
    first = post_event(ORDER)
    again = post_event(ORDER)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json == {"id": first.json["id"], "status": "duplicate"}
    process(app)
    assert len(rows(app, Order)) == 1 and len(rows(app, InboxEvent)) == 1
    assert [name for name, *_ in emitted] == ["order_upserted"]


def test_same_event_id_with_another_body_is_a_duplicate(post_event) -> None:
    first = post_event(ORDER)
    changed = {**ORDER, "occurred_at": "2026-11-20T21:15:00+09:00"}
    assert post_event(changed).json == {"id": first.json["id"], "status": "duplicate"}


def test_same_body_under_another_delivery_is_a_duplicate(session, brand) -> None:
    body = json.dumps(ORDER).encode()
    first = receive(
        session=session, brand_id=brand.brand_id, source="shopify", external_id="d-1", raw_body=body
    )
    second = receive(
        session=session, brand_id=brand.brand_id, source="shopify", external_id="d-2", raw_body=body
    )
    assert second.duplicate and second.id == first.id


def test_a_new_event_is_stored_with_one_statement_and_a_duplicate_is_found(
    app, session, brand
) -> None:
    """The accept path's write: one INSERT for a new event; a duplicate inserts nothing and gets
    the id it duplicates with one more query (same body first, else same event id)."""
    statements: list[str] = []

    def seen(_conn, _cursor, sql, *_args) -> None:
        if not sql.startswith("BEGIN"):
            statements.append(sql.split(None, 1)[0])

    def store(external_id: str, body: bytes):
        return receive(
            session=session,
            brand_id=brand.brand_id,
            source="wms",
            external_id=external_id,
            raw_body=body,
        )

    engine = get_db(app).engine
    sa_event.listen(engine, "before_cursor_execute", seen)
    try:
        first = store("e-1", b'{"a": 1}')
        new_event = list(statements)
        statements.clear()
        same_body = store("e-2", b'{"a": 1}')
        same_id = store("e-1", b'{"a": 2}')
        other = store("e-3", b'{"a": 3}')
        both = store("e-3", b'{"a": 1}')  # e-1's body under e-3's id
    finally:
        sa_event.remove(engine, "before_cursor_execute", seen)
    assert new_event == ["INSERT"]
    assert (same_body, same_id) == (Received(first.id, True), Received(first.id, True))
    assert not other.duplicate and other.id != first.id
    assert both == Received(first.id, True)
    assert statements == ["INSERT", "SELECT", "INSERT", "SELECT", "INSERT", "INSERT", "SELECT"]
    assert len(session.exec(select(InboxEvent)).all()) == 2


def test_reprocessing_an_applied_event_changes_nothing(app, post_event, emitted) -> None:
    post_event(ORDER)
    post_event(SHIPMENT)
    process(app)
    with session_scope(app) as s:
        for stored in s.exec(select(InboxEvent)):
            stored.state = InboxState.pending
    process(app)
    assert len(rows(app, Shipment)) == 2
    assert [name for name, *_ in emitted].count("shipment_created") == 2  # one per parcel, once


def test_shipment_before_its_order_waits_then_applies_when_the_order_arrives(
    app, post_event
) -> None:
    post_event(SHIPMENT)
    process(app)
    [waiting] = inbox(app)
    assert (waiting.state, waiting.waiting_for) == (InboxState.deferred, "order:SO-2026-10234")
    assert rows(app, Shipment) == []
    post_event(ORDER)
    process(app)
    assert [e.state for e in inbox(app)] == [InboxState.processed, InboxState.processed]
    [order] = rows(app, Order)
    assert {s.order_id for s in rows(app, Shipment)} == {order.id}


def test_deferred_event_applies_in_the_same_unit_of_work_as_its_order(app, post_event) -> None:
    shipment_id = post_event(SHIPMENT).json["id"]
    process_events(app, [shipment_id])
    order_id = post_event(ORDER).json["id"]
    stats = process_events(app, [order_id])
    assert stats.processed == 2
    assert {e.state for e in inbox(app)} == {InboxState.processed}


def test_shipment_update_before_the_shipment_waits_for_it(app, post_event) -> None:
    post_event(ORDER)
    post_event(EXAMPLES[EventType.shipment_updated])
    process(app)
    assert inbox(app)[1].waiting_for == "shipment:SH-883201"
    post_event(SHIPMENT)
    process(app)
    assert {e.state for e in inbox(app)} == {InboxState.processed}


def test_older_order_update_does_not_overwrite_newer_state(app, post_event) -> None:
    post_event(EXAMPLES[EventType.order_updated])  # 22:03, total 14740
    post_event(ORDER)  # created at 21:14, total 12760, arrives late
    process(app)
    [order] = rows(app, Order)
    assert order.total_amount == 14740
    assert order.source_updated_at == datetime(2026, 11, 20, 13, 3, 40, tzinfo=UTC)


def test_older_inventory_snapshot_does_not_overwrite_newer(app, post_event) -> None:
    newer = event(
        "inventory.updated",
        "inv-2",
        "2026-11-21T16:00:00+09:00",
        fc_code="FC1",
        items=[{"sku": "A", "available": 5}],
    )
    older = event(
        "inventory.updated",
        "inv-1",
        "2026-11-21T15:00:00+09:00",
        fc_code="FC1",
        items=[{"sku": "A", "available": 9}],
    )
    post_event(newer)
    post_event(older)
    process(app)
    assert [level.available for level in rows(app, InventoryLevel)] == [5]


def test_return_for_an_unknown_order_waits_for_it(app, post_event) -> None:
    post_event(EXAMPLES[EventType.return_received])
    process(app)
    assert inbox(app)[0].waiting_for == "order:SO-2026-10234"


def test_signals_carry_session_and_now(app, post_event, emitted) -> None:
    post_event(ORDER)
    post_event(SHIPMENT)
    process(app)
    for _name, _sender, kwargs in emitted:
        assert kwargs["session"] is not None and kwargs["now"].tzinfo is not None
    assert [(n, kw.get("created")) for n, _, kw in emitted if n == "order_upserted"] == [
        ("order_upserted", True)
    ]


@pytest.fixture
def broken_operation(monkeypatch):
    """Make shipment.created raise until the returned switch is turned off."""
    from postpurchase.intake import generic

    state = {"broken": True}
    real = generic.OPERATIONS[EventType.shipment_created]

    def flaky(**kwargs):
        if state["broken"]:
            raise RuntimeError("carrier code table unavailable")
        return real(**kwargs)

    monkeypatch.setitem(generic.OPERATIONS, EventType.shipment_created, flaky)
    return state


def test_processing_failure_keeps_the_event_failed_with_error_and_attempts(
    app, post_event, broken_operation
) -> None:
    post_event(ORDER)
    post_event(SHIPMENT)
    process(app)
    order_event, shipment_event = inbox(app)
    assert order_event.state == InboxState.processed
    assert (shipment_event.state, shipment_event.attempts) == (InboxState.failed, 1)
    assert shipment_event.error == "RuntimeError: carrier code table unavailable"
    assert shipment_event.next_attempt_at is not None
    assert rows(app, Shipment) == []


def test_failed_event_is_retried_with_backoff(app, post_event, broken_operation) -> None:
    post_event(ORDER)
    post_event(SHIPMENT)
    now = utcnow()
    inbox_module.process_pending(app, now=now)
    failed = inbox(app)[1]
    assert inbox_module.process_pending(app, now=now).total == 0  # not due yet
    broken_operation["broken"] = False
    assert inbox_module.process_pending(app, now=failed.next_attempt_at).processed == 1
    assert inbox(app)[1].state == InboxState.processed


def test_a_batch_takes_its_due_retries_then_the_oldest_pending_events(
    app, post_event, broken_operation
) -> None:
    post_event(ORDER)
    retried = post_event(SHIPMENT).json["id"]
    now = utcnow()
    inbox_module.process_pending(app, now=now)
    pending = []
    for index in range(3):
        envelope = example(EventType.order_created, order_id=f"SO-LATER-{index}")
        envelope["id"] = f"evt-later-{index}"
        pending.append(post_event(envelope).json["id"])
    broken_operation["broken"] = False
    due = inbox(app)[1].next_attempt_at

    assert process_events(app, limit=2, now=due).processed == 2

    states = {e.id: e.state for e in inbox(app)}
    assert [states[i] for i in (retried, *pending)] == [
        InboxState.processed,
        InboxState.processed,
        InboxState.pending,
        InboxState.pending,
    ]


def test_the_next_pending_events_are_read_in_order_not_sorted(app, post_event) -> None:
    """One query for pending events and due retries read and sorted every waiting event for each
    batch (38 ms per batch with 117,000 waiting on SQLite), or walked the whole inbox in id order."""
    for index in range(3):
        post_event(example(EventType.order_created, order_id=f"SO-{index}") | {"id": f"e-{index}"})
    engine = get_db(app).engine
    with recorded(engine, starting="SELECT", containing="FROM inboxevent") as seen:
        process_events(app, limit=2)
    claims = [s for s in seen if "inboxevent.state = " in s.sql and "LIMIT" in s.sql]
    assert len(claims) == 1, [s.sql for s in seen]
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            plan = query_plan(connection, claims[0])
        assert plan == "SEARCH inboxevent USING INDEX ix_inboxevent_state_id (state=?)", plan


def test_cli_lists_failed_events_and_retries_them(
    app, post_event, runner, broken_operation
) -> None:
    post_event(ORDER)
    post_event(SHIPMENT)
    process(app)
    listed = runner.invoke(main, args=["inbox", "list", "--state", "failed", "--brand", "acme"])
    assert listed.exit_code == 0
    assert "shipment.created" in listed.output and "RuntimeError" in listed.output
    assert "order.created" not in listed.output
    broken_operation["broken"] = False
    retried = runner.invoke(main, args=["inbox", "retry", "--all-failed"])
    assert retried.exit_code == 0, retried.output
    assert "1 processed" in retried.output
    assert inbox(app)[1].state == InboxState.processed


def test_cli_retries_events_by_id(app, post_event, runner, broken_operation) -> None:
    post_event(ORDER)
    post_event(SHIPMENT)
    process(app)
    broken_operation["broken"] = False
    result = runner.invoke(main, args=["inbox", "retry", str(inbox(app)[1].id)])
    assert "retried 1 event(s): 1 processed" in result.output


def test_a_failure_does_not_undo_the_other_events_of_the_batch(
    app, post_event, broken_operation
) -> None:
    post_event(ORDER)
    post_event(SHIPMENT)
    post_event(EXAMPLES[EventType.inventory_updated])
    process(app)
    assert len(rows(app, Order)) == 1 and len(rows(app, InventoryLevel)) == 3


def test_data_can_be_applied_without_the_inbox(app, brand) -> None:
    data = OrderData.model_validate(example("order.created")["data"])
    now = utcnow()
    with (
        app.app_context(),
        session_scope(app) as s,
    ):  # receivers of the signals read the app's settings
        apply_data(
            session=s,
            brand_id=brand.brand_id,
            event_type="order.created",
            data=data,
            occurred_at=now,
            now=now,
        )
    assert len(rows(app, Order)) == 1


def test_an_event_claimed_by_one_worker_is_skipped_by_another(app, post_event) -> None:
    from postpurchase.db import claim_scope, get_db

    if get_db(app).is_sqlite:
        pytest.skip("SQLite serializes claims with BEGIN IMMEDIATE; row locks are PostgreSQL's")
    post_event(ORDER)
    with claim_scope(app) as first_worker:
        claimed = inbox_module._claim(first_worker, select(InboxEvent))
        assert len(claimed) == 1
        assert inbox_module.process_pending(app).total == 0


def test_shipment_before_its_order_in_the_same_batch_is_applied_in_that_batch(
    app, post_event
) -> None:
    ids = [post_event(SHIPMENT).json["id"], post_event(ORDER).json["id"]]
    stats = process_events(app, ids)
    assert (stats.processed, stats.deferred) == (2, 1)  # deferred once, then released
    assert {e.state for e in inbox(app)} == {InboxState.processed}


def _new_parcels(post_event, prefix: str, count: int, **changes) -> list[int]:
    ids = []
    for index in range(count):
        envelope = example(EventType.shipment_created, shipment_id=f"{prefix}-{index}", **changes)
        envelope["id"] = f"evt-{prefix}-{index}"
        ids.append(post_event(envelope).json["id"])
    return ids


def test_a_batch_of_shipments_refreshes_the_insights_rollup_once(
    app, post_event, monkeypatch
) -> None:
    post_event(ORDER)
    process(app)
    calls = []
    original = figures_module.refresh_rollup

    def counting(**kwargs):
        calls.append(sorted(kwargs["shipment_ids"]))
        original(**kwargs)

    monkeypatch.setattr(figures_module, "refresh_rollup", counting)
    ids = _new_parcels(post_event, "SH-BATCH", 3)
    assert process_events(app, ids).processed == 3
    parcels = rows(app, Shipment, col(Shipment.external_id).startswith("SH-BATCH-"))
    assert calls == [sorted(parcel.id for parcel in parcels)]
    figures = rows(app, ShipmentFigures)
    assert {parcel.id for parcel in parcels} <= {row.shipment_id for row in figures}


def test_a_new_order_reads_no_parcels_for_the_rollup_and_an_updated_one_refreshes_them(
    app, post_event
) -> None:
    """A new order has no parcels yet (one that came first waits for it), so its upsert looks none
    up for the insights rollup; an update of a known order refreshes its parcels' figures."""
    engine = get_db(app).engine
    rollup_lookup = {"starting": "SELECT shipment.id ", "containing": "WHERE shipment.order_id"}
    with recorded(engine, **rollup_lookup) as lookups:
        post_event(ORDER)
        process(app)
    assert lookups == []
    post_event(SHIPMENT)
    process(app)
    updated = example(EventType.order_updated, total_amount=99_000)
    updated["id"], updated["occurred_at"] = "evt-order-updated", "2026-11-22T10:00:00+09:00"
    post_event(updated)
    with recorded(engine, **rollup_lookup) as lookups:
        process(app)
    assert len(lookups) == 1
    figures = rows(app, ShipmentFigures)
    assert figures and {row.order_value for row in figures} == {99_000}


def test_a_batch_records_its_verdicts_in_one_update_with_a_failure_in_the_middle(
    app, post_event, broken_operation
) -> None:
    from postpurchase.db import get_db

    ids = [
        post_event(ORDER).json["id"],
        post_event(SHIPMENT).json["id"],  # fails: the broken operation
        post_event(EXAMPLES[EventType.inventory_updated]).json["id"],
        post_event(example(EventType.return_received, order_id="SO-UNKNOWN")).json["id"],
    ]
    with recorded(get_db(app).engine, starting="UPDATE inboxevent") as updates:
        stats = process_events(app, ids)
    assert (stats.processed, stats.failed, stats.deferred) == (2, 1, 1)
    # PostgreSQL looks at the deferred event once more after the commit (its order may have been
    # applied by another worker meanwhile): a second unit of work, a second UPDATE.
    assert len(updates) == (1 if get_db(app).is_sqlite else 2)
    order, shipment, inventory, waiting = inbox(app)
    assert (order.state, order.attempts, order.error) == (InboxState.processed, 1, None)
    assert order.processed_at is not None
    assert (shipment.state, shipment.attempts) == (InboxState.failed, 1)
    assert shipment.error == "RuntimeError: carrier code table unavailable"
    assert shipment.processed_at is None and shipment.next_attempt_at is not None
    assert inventory.state == InboxState.processed
    assert (waiting.state, waiting.attempts) == (InboxState.deferred, 0)
    assert waiting.waiting_for == "order:SO-UNKNOWN" and waiting.next_attempt_at is not None


def test_new_parcels_are_written_once_with_their_prediction_and_first_poll(app, post_event) -> None:
    """Two parcels of one order in one batch: each row's EDD dates go out in one UPDATE with its
    first poll, the first poll is planned from the prediction, and the shipped message knows
    the predicted date (the EDD's receiver runs before messaging's, in connection order)."""
    from postpurchase.db import get_db
    from postpurchase.models import Brand, OutboxMessage
    from postpurchase.tracking.intervals import first_poll_at, policy_from_config

    post_event(ORDER)
    process(app)
    ids = [post_event(SHIPMENT).json["id"]]
    with recorded(get_db(app).engine, starting="UPDATE shipment ") as updates:
        assert process_events(app, ids).processed == 1
    parcels = sorted(rows(app, Shipment), key=lambda parcel: parcel.parcel_index)
    dated = [update.sql for update in updates if "predicted_date" in update.sql]
    assert len(parcels) == 2 and len(dated) == 2
    assert all("next_poll_at" in sql for sql in dated)
    (brand,) = rows(app, Brand)
    from zoneinfo import ZoneInfo

    now = utcnow()
    messages = {
        message.payload["ref"]: message
        for message in rows(app, OutboxMessage, OutboxMessage.trigger == "shipped")
    }
    for parcel in parcels:
        assert parcel.predicted_date is not None
        assert parcel.next_poll_at == first_poll_at(
            now,
            policy_from_config(app.config),
            tz=ZoneInfo(brand.timezone),
            earliest=parcel.window_start or parcel.predicted_date,
        )
        shipped = messages[f"s{parcel.id}"]
        assert shipped.payload["predicted_date"] == parcel.predicted_date.isoformat()


def test_a_spent_budget_leaves_the_rest_of_the_batch_pending_for_the_next_one(
    app, post_event
) -> None:
    """On SQLite a batch holds the only write lock: the worker commits when its time is up (a
    budget of 0 is spent after the first event), and the events it did not reach stay pending."""
    post_event(ORDER)
    process(app)
    _new_parcels(post_event, "SH-BUDGET", 3)
    first = process_events(app, budget=0)
    assert (first.processed, first.deferred, first.failed) == (1, 0, 0)
    assert [e.state for e in inbox(app)][1:] == [
        InboxState.processed,
        InboxState.pending,
        InboxState.pending,
    ]
    app.config["INBOX_UNIT_MS"] = 0
    assert process(app).processed == 2  # on SQLite one per unit of work
    assert {e.state for e in inbox(app)} == {InboxState.processed}


def test_events_released_by_a_batch_are_applied_with_it_even_past_its_budget(
    app, post_event
) -> None:
    ids = [post_event(SHIPMENT).json["id"], post_event(ORDER).json["id"]]
    stats = process_events(app, budget=0)
    # The shipment waits for its order (deferred; a deferral is a verdict, so the budget is spent
    # and the order is left for the next batch) ...
    assert (stats.processed, stats.deferred) == (0, 1)
    stats = process_events(app, budget=0)
    # ... which applies the order and, past its budget, the shipment it released.
    assert (stats.processed, stats.deferred) == (2, 0)
    assert {e.state for e in inbox(app) if e.id in ids} == {InboxState.processed}


def test_a_deferred_event_is_looked_at_again_soon_while_young_and_once_a_minute_when_old(
    app, post_event, clock
) -> None:
    """Its order usually releases it; the recheck bounds how late one that slipped past is."""
    from datetime import timedelta

    event_id = post_event(SHIPMENT).json["id"]
    move_spooled(app)  # into the inbox, as the first unit of work would
    received = clock.now
    rechecks = []
    for age in (timedelta(0), timedelta(seconds=40), timedelta(minutes=10)):
        now = received + age
        with get_db(app).session() as s:  # due now, as the sweep would find it
            row = s.get(InboxEvent, event_id)
            row.next_attempt_at = now
            s.add(row)
            s.commit()
        assert process_events(app, now=now).deferred == 1
        (stored,) = [e for e in inbox(app) if e.id == event_id]
        rechecks.append(stored.next_attempt_at.replace(tzinfo=UTC) - now)
    assert rechecks == [timedelta(seconds=5), timedelta(seconds=20), timedelta(minutes=1)]


def test_a_batch_of_new_parcels_writes_predictions_and_messages_with_one_statement_each(
    app, post_event
) -> None:
    """The parcels of a batch are flushed once, then their receivers run; the predictions and the
    shipped messages of all of them go out in one ``executemany`` each, with the same content as
    when each event is applied alone."""
    from postpurchase.db import get_db
    from postpurchase.models import DeliveryPrediction, OutboxMessage

    post_event(ORDER)
    process(app)
    alone = _new_parcels(post_event, "SH-ALONE", 1)
    assert process_events(app, alone).processed == 1
    together = _new_parcels(post_event, "SH-TOGETHER", 3)
    engine = get_db(app).engine
    with (
        recorded(engine, starting="INSERT INTO deliveryprediction") as predictions,
        recorded(engine, starting="INSERT INTO outboxmessage") as messages,
    ):
        assert process_events(app, together).processed == 3
    assert (len(predictions), len(messages)) == (1, 1)
    parcels = rows(app, Shipment, col(Shipment.external_id).startswith("SH-"))
    assert len(parcels) == 8  # two parcels per event

    def written(parcel: Shipment) -> tuple:
        [prediction] = rows(app, DeliveryPrediction, DeliveryPrediction.shipment_id == parcel.id)
        [shipped] = rows(app, OutboxMessage, OutboxMessage.shipment_id == parcel.id)
        return (
            parcel.predicted_date,
            parcel.next_poll_at,
            prediction.predicted_date,
            prediction.window_end,
            shipped.trigger,
            shipped.state,
            shipped.payload["predicted_date"],
        )

    by_index: dict[int, set[tuple]] = {}
    for parcel in parcels:
        by_index.setdefault(parcel.parcel_index, set()).add(written(parcel))
    assert [len(seen) for seen in by_index.values()] == [1, 1]  # alone or together, the same


def test_a_batch_reads_its_customers_suppressions_once_and_still_respects_them(
    app, post_event
) -> None:
    """The shipped messages of a batch of three customers' parcels look up suppressions with one
    query; the customer whose address bounced still gets a suppressed row naming why."""
    from postpurchase.models import OutboxMessage, OutboxState

    for who in ("a", "b", "c"):
        customer = {**ORDER["data"]["customer"], "customer_id": f"C-{who}"}
        customer["email"] = f"{who}@example.jp"
        post_event(
            {
                **example(EventType.order_created, order_id=f"SO-{who}", customer=customer),
                "id": f"evt-order-{who}",
            }
        )
    process(app)
    _bounced(app, "b@example.jp")
    parcels = []
    for who in ("a", "b", "c"):
        envelope = example(
            EventType.shipment_created, shipment_id=f"SH-{who}", order_id=f"SO-{who}"
        )
        envelope["id"] = f"evt-parcel-{who}"
        parcels.append(post_event(envelope).json["id"])
    with recorded(get_db(app).engine, starting="SELECT", containing="FROM suppression") as reads:
        assert process_events(app, parcels).processed == 3
    assert len(reads) == 1
    shipped = {
        message.recipient: message
        for message in rows(app, OutboxMessage, OutboxMessage.trigger == "shipped")
    }
    assert shipped["b@example.jp"].state == OutboxState.suppressed
    assert "hard_bounce" in (shipped["b@example.jp"].error or "")
    assert {shipped[f"{who}@example.jp"].state for who in "ac"} == {OutboxState.pending}


def _bounced(app, address: str) -> None:
    """The stored brand's email ``address`` is suppressed after a hard bounce."""
    from postpurchase.models import Suppression

    with session_scope(app) as s:
        brand_id = s.exec(select(Order.brand_id)).first()
        s.add(
            Suppression(
                brand_id=brand_id,
                channel="email",
                address=address,
                purpose="all",
                reason="hard_bounce",
            )
        )


def test_a_receiver_failing_for_one_new_parcel_fails_only_its_event(
    app, post_event, monkeypatch
) -> None:
    """A batch whose deferred work raises is rolled back whole and applied event by event: the
    failing event is failed, the others are applied once (one prediction and one message per
    parcel, none left over from the rolled-back attempt). The parcels come from a centre known
    only by its code, created by the first event: the rollback took it away, so the second try
    must not reuse the id it had."""
    from postpurchase.edd import receivers as edd_receivers
    from postpurchase.models import DeliveryPrediction, FulfillmentCentre, OutboxMessage

    post_event(ORDER)
    process(app)
    ids = _new_parcels(post_event, "SH-RECEIVER", 3, fc_code="KAZO-2", fulfillment_centre=None)
    real = edd_receivers.predict_for_shipment
    with session_scope(app) as s:
        known = {row.id for row in s.exec(select(Shipment))}

    def failing_for_the_second_event(*, session, shipment_id, **kwargs):
        parcel = session.get(Shipment, shipment_id)
        if parcel.external_id == "SH-RECEIVER-1":
            raise RuntimeError("model file unreadable")
        return real(session=session, shipment_id=shipment_id, **kwargs)

    monkeypatch.setattr(edd_receivers, "predict_for_shipment", failing_for_the_second_event)
    stats = process_events(app, ids)
    assert (stats.processed, stats.failed) == (2, 1)
    states = {e.id: e.state for e in inbox(app)}
    assert [states[i] for i in ids] == [
        InboxState.processed,
        InboxState.failed,
        InboxState.processed,
    ]
    parcels = [p for p in rows(app, Shipment) if p.id not in known]
    assert sorted(p.external_id for p in parcels) == ["SH-RECEIVER-0"] * 2 + ["SH-RECEIVER-2"] * 2
    for parcel in parcels:
        assert len(rows(app, DeliveryPrediction, DeliveryPrediction.shipment_id == parcel.id)) == 1
        assert len(rows(app, OutboxMessage, OutboxMessage.shipment_id == parcel.id)) == 1
    assert len(rows(app, OutboxMessage, OutboxMessage.trigger == "shipped")) == 4
    [centre] = rows(app, FulfillmentCentre, FulfillmentCentre.code == "KAZO-2")
    assert {parcel.fc_id for parcel in parcels} == {centre.id}


def test_an_event_waiting_for_its_order_leaves_the_rest_of_the_batch_applied_together(
    app, post_event
) -> None:
    """A deferral is a verdict, not a failure: the batch is not rolled back and redone, its other
    new parcels still go out together."""
    from postpurchase.db import get_db

    post_event(ORDER)
    process(app)
    ids = _new_parcels(post_event, "SH-AROUND", 3)
    waiting = example(EventType.shipment_created, shipment_id="SH-WAITS", order_id="SO-LATER")
    waiting["id"] = "evt-waits"
    ids.insert(1, post_event(waiting).json["id"])
    with recorded(get_db(app).engine, starting="INSERT INTO deliveryprediction") as predictions:
        stats = process_events(app, ids)
    assert (stats.processed, stats.deferred, stats.failed) == (3, 1, 0)
    assert len(predictions) == 1
    states = {e.id: (e.state, e.waiting_for) for e in inbox(app)}
    assert states[ids[1]] == (InboxState.deferred, "order:SO-LATER")
    assert rows(app, Shipment, Shipment.external_id == "SH-WAITS") == []


def _late_order(post_event, order_id: str, **customer_changes) -> int:
    customer = {**ORDER["data"]["customer"], **customer_changes}
    envelope = example(EventType.order_created, order_id=order_id, number=f"#{order_id}")
    envelope["data"]["customer"] = customer
    envelope["id"] = f"evt-{order_id}"
    return post_event(envelope).json["id"]


def test_a_new_customers_order_arriving_mid_batch_leaves_the_new_parcels_together(
    app, post_event
) -> None:
    """No parcel waiting in the batch reads what a new customer's new order writes, so the batch
    is not settled before it: every message of the batch, the order's confirmation too, goes out
    in one statement."""
    from postpurchase.db import get_db
    from postpurchase.models import OutboxMessage

    post_event(ORDER)
    process(app)
    ids = _new_parcels(post_event, "SH-MID", 3)
    ids.insert(1, _late_order(post_event, "SO-NEW", customer_id="C-NEW", email="new@example.jp"))
    with recorded(get_db(app).engine, starting="INSERT INTO outboxmessage") as messages:
        assert process_events(app, ids).processed == 4
    assert len(messages) == 1
    written = {(m.trigger, m.recipient) for m in rows(app, OutboxMessage)}
    assert ("order_confirmed", "new@example.jp") in written
    parcels = rows(app, Shipment, col(Shipment.external_id).startswith("SH-MID-"))
    shipped = rows(app, OutboxMessage, OutboxMessage.trigger == "shipped")
    assert {m.shipment_id for m in shipped} >= {p.id for p in parcels} and len(parcels) == 6


def test_an_order_changing_a_waiting_parcels_customer_settles_the_batch_before_it(
    app, post_event
) -> None:
    """The parcel's shipped message is written as when each event is applied alone: to the
    address its customer had before the later order of the same customer changed it."""
    from postpurchase.models import OutboxMessage

    post_event(ORDER)
    process(app)
    before = ORDER["data"]["customer"]["email"]
    ids = _new_parcels(post_event, "SH-SAME", 1)
    ids.append(_late_order(post_event, "SO-SECOND", email="moved@example.jp"))
    assert process_events(app, ids).processed == 2
    [parcel, *_] = rows(app, Shipment, col(Shipment.external_id).startswith("SH-SAME-"))
    [shipped] = rows(app, OutboxMessage, OutboxMessage.shipment_id == parcel.id)
    [second] = rows(app, Order, Order.external_id == "SO-SECOND")
    [confirmed] = rows(app, OutboxMessage, OutboxMessage.order_id == second.id)
    assert (shipped.recipient, confirmed.recipient) == (before, "moved@example.jp")


@pytest.mark.parametrize(
    ("event_type", "changes"),
    [
        (EventType.shipment_created, {"order_id": "SO-NONE"}),
        (EventType.shipment_updated, {"shipment_id": "SH-NONE"}),
        (EventType.shipment_cancelled, {"shipment_id": "SH-NONE"}),
        (EventType.return_received, {"order_id": "SO-NONE"}),
    ],
)
def test_an_operation_waits_before_it_changes_anything(app, brand, event_type, changes) -> None:
    """What lets a batch go on past a deferred event without a savepoint per event
    (:class:`postpurchase.inbox.Deferred`)."""
    from postpurchase.inbox import Deferred
    from postpurchase.intake.schemas import envelope_model

    envelope = envelope_model(event_type).model_validate(example(event_type, **changes))
    now = utcnow()
    with app.app_context(), session_scope(app) as s:
        with pytest.raises(Deferred):
            apply_data(
                session=s,
                brand_id=brand.brand_id,
                event_type=event_type,
                data=envelope.data,
                occurred_at=now,
                now=now,
            )
        assert (list(s.new), list(s.dirty), list(s.deleted)) == ([], [], [])


@pytest.mark.parametrize("spool", [True, False])
def test_the_time_budget_of_a_unit_of_work_applies_only_where_webhooks_wait_for_it(
    app, post_event, spool
) -> None:
    """On SQLite without the accept spool a unit of work holds the lock webhooks wait for, so
    ``INBOX_UNIT_MS`` bounds it; with the spool, or on PostgreSQL, a batch is one unit of work."""
    from postpurchase.db import get_db

    app.config["INBOX_SPOOL"] = spool
    post_event(ORDER)
    process(app)
    _new_parcels(post_event, "SH-UNIT", 3)
    app.config["INBOX_UNIT_MS"] = 0
    with recorded(get_db(app).engine, starting="UPDATE inboxevent") as verdicts:
        assert inbox_module.process_pending(app).processed == 3
    bounded = get_db(app).is_sqlite and not spool
    assert inbox_module.webhooks_wait_for_units(app) is bounded
    assert len(verdicts) == (3 if bounded else 1)


def test_a_unit_of_work_claims_at_most_inbox_batch_events(app, post_event) -> None:
    """Each unit of work writes its verdicts in one statement: 5 events in units of 2 take 3; by
    default all 5 fit in one unit (50 on SQLite, 200 on PostgreSQL)."""
    from postpurchase.db import get_db

    post_event(ORDER)
    process(app)
    assert inbox_module.batch_size(app) == (50 if get_db(app).is_sqlite else 200)
    _new_parcels(post_event, "SH-BATCH-A", 5)
    app.config["INBOX_BATCH"] = 2
    assert inbox_module.batch_size(app) == 2
    with recorded(get_db(app).engine, starting="UPDATE inboxevent") as verdicts:
        assert inbox_module.process_pending(app).processed == 5
    assert len(verdicts) == 3
    app.config["INBOX_BATCH"] = 0
    _new_parcels(post_event, "SH-BATCH-B", 5)
    with recorded(get_db(app).engine, starting="UPDATE inboxevent") as verdicts:
        assert inbox_module.process_pending(app).processed == 5
    assert len(verdicts) == 1


def test_a_batch_of_orders_looks_its_customers_up_once_and_writes_each_order_once(
    app, post_event
) -> None:
    """The batch's customers are read in one query by their ids in the events (none per order);
    a new order is written with its customer in one INSERT (no UPDATE after it), and a customer
    known before is updated, not written again."""
    from postpurchase.models import Customer

    post_event(ORDER)
    process(app)
    known = ORDER["data"]["customer"]["customer_id"]
    ids = [_late_order(post_event, f"SO-BATCH-{n}", customer_id=f"C-BATCH-{n}") for n in range(3)]
    ids.append(_late_order(post_event, "SO-BATCH-KNOWN", customer_id=known, name="改名 花子"))
    engine = get_db(app).engine
    with (
        recorded(engine, starting="SELECT", containing="FROM customer") as lookups,
        recorded(engine, starting='UPDATE "order"') as order_updates,
    ):
        assert process_events(app, ids).processed == 4
    assert len(lookups) == 1
    assert order_updates == []
    customers = {c.external_id: c for c in rows(app, Customer)}
    assert {f"C-BATCH-{n}" for n in range(3)} | {known} == set(customers)
    assert customers[known].name == "改名 花子"
    orders = {
        o.external_id: o for o in rows(app, Order, col(Order.external_id).startswith("SO-BATCH"))
    }
    assert orders["SO-BATCH-1"].customer_id == customers["C-BATCH-1"].id
    assert orders["SO-BATCH-KNOWN"].customer_id == customers[known].id


def test_new_customers_orders_read_their_suppressions_once_and_a_suppressed_one_is_kept(
    app, post_event
) -> None:
    """The order events of a batch name their customers' addresses, new customers' too: their
    suppressions are read in one query for all the confirmations, and a new customer whose
    address is suppressed still gets none."""
    from postpurchase.models import OutboxMessage, OutboxState

    post_event(ORDER)
    process(app)
    _bounced(app, "new-b@example.jp")
    ids = [
        _late_order(
            post_event, f"SO-NEW-{who}", customer_id=f"C-NEW-{who}", email=f"new-{who}@example.jp"
        )
        for who in "abc"
    ]
    with recorded(get_db(app).engine, starting="SELECT", containing="FROM suppression") as reads:
        assert process_events(app, ids).processed == 3
    assert len(reads) == 1
    confirmed = {
        message.recipient: message
        for message in rows(app, OutboxMessage, OutboxMessage.trigger == "order_confirmed")
    }
    assert confirmed["new-b@example.jp"].state == OutboxState.suppressed
    assert {confirmed[f"new-{who}@example.jp"].state for who in "ac"} == {OutboxState.pending}
