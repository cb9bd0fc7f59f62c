"""apply_result: idempotent events, the status state machine, the domain event, raw retention."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import func, select

from carriers.status import Status
from postpurchase.db import claim_scope, get_db
from postpurchase.models import CarrierResponse, TrackingEvent
from postpurchase.signals import shipment_status_changed
from postpurchase.tracking.apply import apply_result
from postpurchase.tracking.operations import purge_raw
from tests.tracking.conftest import result

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.fixture
def transitions():
    seen: list[dict] = []

    def receiver(sender, **kwargs):
        seen.append({"shipment_id": sender, **kwargs})

    shipment_status_changed.connect(receiver)
    yield seen
    shipment_status_changed.disconnect(receiver)


def apply(app, shipment_id, res, now=T0 + 10 * H, source="poll"):
    with claim_scope(app) as session:
        return apply_result(
            session=session, shipment_id=shipment_id, result=res, source=source, now=now
        )


def events_of(app, shipment_id):
    with get_db(app).session() as session:
        return session.exec(
            select(TrackingEvent)
            .where(TrackingEvent.shipment_id == shipment_id)
            .order_by(TrackingEvent.occurred_at)
        ).all()


def test_applying_the_same_answer_twice_inserts_its_events_once(app, make_shipment):
    sid = make_shipment()
    answer = result(
        "T1", (T0, Status.info_received, "RECEIVED"), (T0 + H, Status.in_transit, "SHIPPED")
    )
    first = apply(app, sid, answer)
    second = apply(app, sid, answer)
    assert (first.new_events, second.new_events) == (2, 0)
    assert len(events_of(app, sid)) == 2


def test_duplicate_scans_within_one_answer_are_stored_once(app, make_shipment):
    sid = make_shipment()
    scan = (T0, Status.in_transit, "IN_TRANSIT")
    assert apply(app, sid, result("T1", scan, scan)).new_events == 1


def test_shipment_takes_carrier_status_and_delivery_details(app, make_shipment, load):
    sid = make_shipment()
    apply(
        app,
        sid,
        result(
            "T1",
            (T0, Status.out_for_delivery, "OFD"),
            (T0 + H, Status.delivered, "DLV"),
            signed_by="佐藤",
            estimated_delivery=T0.date(),
        ),
    )
    shipment = load(sid)
    assert shipment.status == Status.delivered
    assert shipment.delivered_at == T0 + H == shipment.status_changed_at == shipment.last_event_at
    assert shipment.signed_by == "佐藤" and shipment.carrier_estimated_date == T0.date()


def test_signal_is_sent_once_per_transition_with_documented_kwargs(app, make_shipment, transitions):
    sid = make_shipment()
    answer = result(
        "T1",
        (T0, Status.info_received, "R"),
        (T0 + H, Status.out_for_delivery, "O"),
        (T0 + 2 * H, Status.delivered, "D"),
    )
    apply(app, sid, answer)
    apply(app, sid, answer)
    assert len(transitions) == 1
    sent = transitions[0]
    assert sent["shipment_id"] == sid and sent["session"] is not None
    assert (sent["previous"], sent["current"]) == (Status.pending, Status.delivered)
    assert sent["occurred_at"] == T0 + 2 * H and sent["now"] == T0 + 10 * H
    assert sent["passed_through"] == (Status.info_received, Status.out_for_delivery)


def test_delivered_sticks_when_a_later_answer_lacks_the_delivery_scan(
    app, make_shipment, load, transitions
):
    sid = make_shipment()
    apply(
        app, sid, result("T1", (T0, Status.out_for_delivery, "O"), (T0 + H, Status.delivered, "D"))
    )
    change = apply(
        app,
        sid,
        result(
            "T1",
            (T0, Status.out_for_delivery, "O"),
            (T0 + H, Status.delivered, "D"),
            status=Status.in_transit,
        ),
    )
    assert not change.changed and load(sid).status == Status.delivered
    assert len(transitions) == 1


def test_delivered_reopens_on_a_later_correcting_scan(app, make_shipment, load, transitions):
    sid = make_shipment()
    apply(app, sid, result("T1", (T0, Status.delivered, "D")))
    change = apply(
        app,
        sid,
        result("T1", (T0, Status.delivered, "D"), (T0 + H, Status.exception, "INVESTIGATING")),
    )
    shipment = load(sid)
    assert (
        change.corrected and shipment.status == Status.exception and shipment.delivered_at is None
    )
    assert [t["current"] for t in transitions] == [Status.delivered, Status.exception]
    assert transitions[1]["corrected"] is True


def test_a_stale_answer_adds_its_scans_but_does_not_move_status_back(app, make_shipment, load):
    sid = make_shipment()
    apply(app, sid, result("T1", (T0 + 2 * H, Status.out_for_delivery, "O")))
    change = apply(app, sid, result("T1", (T0, Status.in_transit, "IT")), source="webhook")
    assert change.stale and change.new_events == 1
    assert load(sid).status == Status.out_for_delivery


def test_an_answer_without_scans_only_moves_forward(app, make_shipment, load):
    sid = make_shipment()
    apply(app, sid, result("T1", (T0, Status.in_transit, "IT")))
    assert not apply(app, sid, result("T1", status=Status.info_received)).changed
    assert apply(app, sid, result("T1", status=Status.out_for_delivery)).changed
    assert load(sid).status == Status.out_for_delivery


def test_expired_shipment_reopens_on_a_new_scan(app, make_shipment, load):
    sid = make_shipment(status=Status.expired, last_event_at=T0)
    assert apply(app, sid, result("T1", (T0 + H, Status.in_transit, "IT"))).changed
    assert load(sid).status == Status.in_transit


def test_raw_answer_is_kept_then_purged_after_retention(app, make_shipment):
    sid = make_shipment()
    apply(app, sid, result("T1", (T0, Status.in_transit, "IT")), now=T0)
    with get_db(app).session() as session:
        stored = session.exec(select(CarrierResponse)).one()
        assert (
            stored.payload["events"][0]["code"] == "IT" and stored.payload["status"] == "in_transit"
        )
        assert purge_raw(session=session, now=T0 + timedelta(days=29), retention_days=30) == 0
        assert purge_raw(session=session, now=T0 + timedelta(days=31), retention_days=30) == 1
        session.commit()
        assert session.exec(select(func.count()).select_from(CarrierResponse)).one() == 0


def test_concurrent_applies_of_one_answer_store_events_once_and_signal_once(
    app, make_shipment, transitions
):
    sid = make_shipment()
    answer = result(
        "T1",
        *[(T0 + i * H, Status.in_transit, f"C{i}") for i in range(5)],
        (T0 + 6 * H, Status.delivered, "D"),
    )
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def work():
        try:
            barrier.wait()
            apply(app, sid, answer)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(events_of(app, sid)) == 6
    assert len(transitions) == 1


def test_every_failed_attempt_scan_is_counted_once(app, make_shipment, load):
    sid = make_shipment()
    answer = result(
        "T1",
        (T0, Status.attempt_fail, "NA1"),
        (T0 + H, Status.out_for_delivery, "OFD"),
        (T0 + 2 * H, Status.attempt_fail, "NA2"),
    )
    apply(app, sid, answer)
    apply(app, sid, answer)
    assert load(sid).failed_attempts == 2


def test_where_the_parcel_was_left_is_stored_on_the_shipment_and_its_scan(app, make_shipment, load):
    from dataclasses import replace

    from carriers.base import PickupPoint
    from carriers.status import Handover

    sid = make_shipment()
    answer = result("T1", (T0, Status.available_for_pickup, "STORE"))
    answer = replace(
        answer,
        events=(replace(answer.events[0], delivered_to=Handover.convenience_store),),
        delivered_to=Handover.convenience_store,
        pickup=PickupPoint("ローソン 渋谷店", "東京都渋谷区1-1", T0.date() + timedelta(days=7)),
    )
    apply(app, sid, answer)
    shipment = load(sid)
    assert shipment.delivered_to == Handover.convenience_store
    assert (shipment.pickup_name, shipment.pickup_address, shipment.pickup_deadline) == (
        "ローソン 渋谷店",
        "東京都渋谷区1-1",
        T0.date() + timedelta(days=7),
    )
    assert [e.delivered_to for e in events_of(app, sid)] == [Handover.convenience_store]
