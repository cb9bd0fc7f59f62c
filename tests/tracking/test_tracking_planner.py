"""The poll planner against a controllable clock: batches, pacing, back-off, circuit, overlap."""

from __future__ import annotations

import itertools
import random
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from carriers.base import AuthError, Capabilities, RateLimited, TemporaryError
from carriers.status import Status
from postpurchase.db import get_db
from postpurchase.models import Brand, CarrierCircuit
from postpurchase.signals import shipment_created, shipment_status_changed
from postpurchase.tracking.intervals import PollPolicy
from postpurchase.tracking.planner import claim_due, maintain, poll_due, schedule_first_poll
from postpurchase.tracking.routing import account_for, credentials
from tests.tracking.conftest import result

POLICY = PollPolicy(align=timedelta(0))
JST = ZoneInfo("Asia/Tokyo")


def run(app, clock, **kwargs):
    return poll_due(
        app, clock=clock, sleep=lambda seconds: clock.advance(seconds=seconds), **kwargs
    )


def due(make_shipment, clock, count, **fields):
    return [make_shipment(f"N{i}", next_poll_at=clock.now, **fields) for i in range(count)]


def test_due_shipments_are_asked_in_batches_of_the_carriers_max_batch(
    app, fake, make_shipment, clock
):
    due(make_shipment, clock, 7)
    report = run(app, clock)
    assert [len(numbers) for _, numbers in fake.requests] == [3, 3, 1]
    assert report.requests == 3 and report.numbers == 7


def test_requests_are_paced_to_the_carriers_requests_per_second(app, fake, make_shipment, clock):
    due(make_shipment, clock, 9)
    run(app, clock)
    times = [at for at, _ in fake.requests]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert len(gaps) == 2 and all(gap >= 1 / fake.capabilities.requests_per_second for gap in gaps)


def test_a_request_with_room_is_filled_with_shipments_due_soon(
    app, fake, make_shipment, clock, load
):
    due(make_shipment, clock, 4)
    soon = [
        make_shipment(f"S{i}", next_poll_at=clock.now + POLICY.fill_ahead - timedelta(minutes=i))
        for i in range(3)
    ]
    later = make_shipment("L", next_poll_at=clock.now + POLICY.fill_ahead + timedelta(seconds=1))
    report = run(app, clock)
    assert [len(numbers) for _, numbers in fake.requests] == [3, 3]  # 4 due + the 2 soonest, not 3
    assert {n for _, numbers in fake.requests for n in numbers} == {
        "N0",
        "N1",
        "N2",
        "N3",
        "S1",
        "S2",
    }
    assert (
        report.numbers == 6
        and load(soon[0]).last_polled_at is None
        and load(later).last_polled_at is None
    )


def test_shipments_due_soon_never_cause_a_request_of_their_own(app, fake, make_shipment, clock):
    make_shipment("SOON", next_poll_at=clock.now + timedelta(minutes=1))
    assert run(app, clock).requests == 0


def test_filling_takes_only_the_same_carriers_shipments(app, fake, make_shipment, clock):
    due(make_shipment, clock, 1)
    make_shipment("OTHER", carrier_code="sandbox", next_poll_at=clock.now + timedelta(minutes=1))
    run(app, clock)
    assert [numbers for _, numbers in fake.requests] == [("N0",)]


def test_shipments_not_yet_due_are_not_asked(app, fake, make_shipment, clock):
    make_shipment("LATER", next_poll_at=clock.now + timedelta(minutes=1))
    assert run(app, clock).requests == 0 and fake.requests == []


def test_new_shipment_predicted_for_a_later_day_is_first_polled_the_next_morning(
    app, fake, make_shipment, clock, load
):
    sid = make_shipment("NEW")  # 10:00 JST; the EDD predicts it after the planner saw it created
    with get_db(app).session() as session, app.app_context():
        shipment_created.send(1, session=session, shipment_id=sid, now=clock.now)
        session.commit()
    shipment = load(sid)
    assert (
        shipment.window_start is not None
        and shipment.window_start > clock.now.astimezone(JST).date()
    )
    assert shipment.next_poll_at == datetime(2026, 11, 21, 9, 0, tzinfo=JST)
    clock.advance(seconds=(shipment.next_poll_at - clock.now).total_seconds() - 1)
    assert run(app, clock).numbers == 0
    clock.advance(seconds=1)
    assert run(app, clock).numbers == 1


def test_new_shipment_without_a_prediction_is_first_polled_soon(
    app, fake, make_shipment, clock, load
):
    sid = make_shipment("NEW")
    with get_db(app).session() as session:
        schedule_first_poll(session=session, shipment_id=sid, now=clock.now, policy=POLICY)
        session.commit()
    assert load(sid).next_poll_at == clock.now + POLICY.first_poll


def test_hourly_upkeep_plans_shipments_nobody_planned(app, fake, make_shipment, clock, load):
    sid = make_shipment("MISSED")
    assert run(app, clock).requests == 0
    assert maintain(app, now=clock.now).scheduled == 1
    assert load(sid).next_poll_at == clock.now + POLICY.first_poll


def test_answers_are_applied_and_the_next_poll_planned_from_the_new_status(
    app, fake, make_shipment, clock, load
):
    sid = make_shipment("A1", next_poll_at=clock.now)
    fake.answers["A1"] = result(
        "A1", (clock.now - timedelta(minutes=30), Status.out_for_delivery, "OFD")
    )
    run(app, clock)
    shipment = load(sid)
    assert shipment.status == Status.out_for_delivery and shipment.last_polled_at == clock.now
    assert (
        shipment.next_poll_at == clock.now + POLICY.out_for_delivery_every
    )  # 10:00 JST: within hours


def test_delivered_shipment_is_not_polled_again(app, fake, make_shipment, clock, load):
    sid = make_shipment("D1", next_poll_at=clock.now)
    fake.answers["D1"] = result("D1", (clock.now, Status.delivered, "DLV"))
    run(app, clock)
    assert load(sid).next_poll_at is None
    clock.advance(days=3)
    assert run(app, clock).requests == 0


def test_unknown_number_stays_pending_and_is_asked_again_later(
    app, fake, make_shipment, clock, load
):
    sid = make_shipment("UNKNOWN", next_poll_at=clock.now)
    run(app, clock)
    assert load(sid).status == Status.pending
    assert load(sid).next_poll_at == clock.now + POLICY.pending_every


def test_rate_limited_stops_calls_until_retry_after(app, fake, make_shipment, clock, load):
    ids = due(make_shipment, clock, 7)
    fake.errors.append(RateLimited("slow down", carrier="fake", retry_after=120))
    report = run(app, clock)
    assert len(fake.requests) == 1 and report.deferred == 7
    assert all(load(i).next_poll_at >= clock.now + timedelta(seconds=120) for i in ids)
    clock.advance(seconds=60)
    assert run(app, clock).requests == 0
    clock.advance(seconds=200)
    assert run(app, clock).numbers == 7


def test_a_huge_retry_after_is_capped_and_the_account_rescheduled_without_sleeping(
    app, fake, make_shipment, clock, load
):
    ids = due(make_shipment, clock, 4)
    start = clock.now
    fake.errors.append(RateLimited("slow down", carrier="fake", retry_after=100000))
    waits: list[float] = []
    report = poll_due(app, clock=clock, sleep=waits.append, policy=POLICY)
    assert report.deferred == 4 and all(w <= 1 for w in waits)  # only the pacing between requests
    cap = POLICY.rate_limit_max_wait
    assert circuit_row(app).retry_at == start + cap
    assert all(start + cap <= load(i).next_poll_at <= start + 2 * cap for i in ids)
    clock.advance(seconds=cap.total_seconds() * 2 + 1)
    assert run(app, clock).numbers == 4


def test_temporary_error_backs_off_the_batch_with_jitter(app, fake, make_shipment, clock, load):
    ids = due(make_shipment, clock, 3)
    start = clock.now
    fake.errors.append(TemporaryError("503", carrier="fake"))
    run(app, clock, policy=POLICY)
    waits = [load(i).next_poll_at - start for i in ids]
    assert all(
        POLICY.backoff_base / 2 <= w <= POLICY.backoff_base + timedelta(seconds=1) for w in waits
    )
    assert len(set(waits)) == 3
    assert all(load(i).poll_failures == 1 for i in ids)


def circuit_row(app):
    with get_db(app).session() as session:
        return session.exec(select(CarrierCircuit).where(CarrierCircuit.key == "fake")).one()


def test_circuit_opens_after_repeated_failures_and_stops_calls(app, fake, make_shipment, clock):
    policy = PollPolicy(circuit_threshold=2, align=timedelta(0))
    due(make_shipment, clock, 9)
    fake.errors.extend(TemporaryError("down", carrier="fake") for _ in range(5))
    report = run(app, clock, policy=policy)
    assert len(fake.requests) == 2 and report.deferred == 3
    assert circuit_row(app).state == "open"
    clock.advance(minutes=1)
    assert run(app, clock, policy=policy).requests == 0


def test_open_circuit_lets_one_probe_through_after_cooldown_then_closes(
    app, fake, make_shipment, clock
):
    policy = PollPolicy(circuit_threshold=1, backoff_base=timedelta(seconds=10))
    due(make_shipment, clock, 6)
    fake.errors.append(TemporaryError("down", carrier="fake"))
    run(app, clock, policy=policy)
    assert circuit_row(app).state == "open"
    assert run(app, clock, policy=policy).requests == 0  # still open
    clock.advance(seconds=policy.circuit_cooldown.total_seconds() * 1.3)
    fake.errors.append(TemporaryError("still down", carrier="fake"))
    report = run(app, clock, policy=policy)
    assert report.requests == 1  # the probe only
    row = circuit_row(app)
    assert row.state == "open" and row.opened_count == 2
    assert row.open_until - clock.now >= 2 * policy.circuit_cooldown  # cool-down doubled
    clock.advance(hours=1)
    report = run(app, clock, policy=policy)
    assert report.numbers == 6 and circuit_row(app).state == "closed"


def test_half_open_circuit_gives_the_probe_to_one_caller_only(app, fake, clock):
    from postpurchase.tracking import circuit

    policy = PollPolicy(circuit_threshold=1)
    circuit.record_failure(app, "fake", clock.now, "down", policy, random.Random(1))
    clock.advance(hours=1)
    permits = [circuit.permit(app, "fake", clock.now, policy) for _ in range(3)]
    assert [p.allowed for p in permits] == [True, False, False] and permits[0].probe


def test_auth_error_defers_the_rest_of_the_account(app, fake, make_shipment, clock):
    due(make_shipment, clock, 9)
    fake.errors.append(AuthError("token expired", carrier="fake"))
    report = run(app, clock)
    assert len(fake.requests) == 1 and report.deferred == 6


def test_daily_quota_defers_shipments_to_the_next_day(app, fake, make_shipment, clock, load):
    fake.capabilities = Capabilities(max_batch=1, requests_per_second=100, requests_per_day=2)
    ids = due(make_shipment, clock, 3)
    report = run(app, clock)
    assert report.requests == 2 and report.deferred == 1
    assert load(ids[2]).next_poll_at.date() == clock.now.date() + timedelta(days=1)


def test_shipment_updated_by_webhook_recently_is_not_polled(app, fake, make_shipment, clock, load):
    sid = make_shipment(
        "W1", next_poll_at=clock.now, last_webhook_at=clock.now - timedelta(minutes=10)
    )
    report = run(app, clock)
    assert report.skipped_webhook == 1 and fake.requests == []
    assert load(sid).next_poll_at == clock.now - timedelta(minutes=10) + POLICY.webhook_quiet


def test_a_claimed_shipment_is_not_claimed_again_by_an_overlapping_run(app, make_shipment, clock):
    due(make_shipment, clock, 5)
    first = claim_due(app, now=clock.now, policy=POLICY)
    second = claim_due(app, now=clock.now + timedelta(seconds=30), policy=POLICY)
    assert len(first) == 5 and second == []
    later = claim_due(app, now=clock.now + POLICY.lease, policy=POLICY)
    assert len(later) == 5  # the lease expired: a crashed run's shipments come back


def test_concurrent_claims_split_the_due_shipments_without_overlap(app, make_shipment, clock):
    ids = due(make_shipment, clock, 40)
    barrier = threading.Barrier(2)
    got: list[list[int]] = [[], []]

    def claim(slot):
        barrier.wait()
        got[slot] = [c.id for c in claim_due(app, now=clock.now, policy=POLICY, limit=25)]

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not set(got[0]) & set(got[1])
    assert sorted(got[0] + got[1]) == sorted(ids)


def test_shipment_without_scans_for_expiry_period_becomes_expired(
    app, fake, make_shipment, clock, load
):
    seen = []
    receiver = lambda sender, **kw: seen.append(kw["current"])  # noqa: E731
    shipment_status_changed.connect(receiver)
    try:
        old = make_shipment(
            "OLD", created_at=clock.now - timedelta(days=31), next_poll_at=clock.now
        )
        fresh = make_shipment(
            "FRESH", last_event_at=clock.now - timedelta(days=2), status=Status.in_transit
        )
        report = maintain(app, now=clock.now)
    finally:
        shipment_status_changed.disconnect(receiver)
    assert report.expired == 1 and seen == [Status.expired]
    assert load(old).status == Status.expired and load(old).next_poll_at is None
    assert load(fresh).status == Status.in_transit


def test_brand_route_sends_a_carrier_through_another_adapter(app, fake, make_shipment, clock):
    with get_db(app).session() as session:
        brand = session.exec(select(Brand)).one()
        brand.settings = {"carrier_routes": {"yamato": "fake"}}
        session.commit()
    make_shipment("Y1", carrier_code="yamato", next_poll_at=clock.now)
    run(app, clock)
    assert fake.requests and fake.requests[0][1] == ("Y1",)


def test_brand_credentials_override_global_ones_and_get_their_own_account(app, fake):
    app.config.update(
        {"CARRIER_FAKE_TOKEN": "global-secret", "BRAND_ACME_CARRIER_FAKE_TOKEN": "acme-secret"}
    )
    creds, own = credentials(app.config, "fake", "acme")
    assert creds == {"token": "acme-secret"} and own
    assert credentials(app.config, "fake", "other") == ({"token": "global-secret"}, False)
    brand = Brand(slug="acme", name="Acme", signing_secret="x", settings={})
    account = account_for(app, brand, "fake")
    assert account.key == "fake@acme" and "acme-secret" not in repr(account)


def test_sandbox_parcels_end_in_their_journeys_final_status_through_the_planner(
    app, make_shipment, clock, load
):
    from carriers import sandbox
    from postpurchase.tracking.routing import configure_adapter

    configure_adapter(app, "sandbox", clock=clock)
    numbers = [sandbox.tracking_number(clock.now - timedelta(hours=1), i) for i in range(20)]
    ids = [
        make_shipment(number, carrier_code="sandbox", next_poll_at=clock.now) for number in numbers
    ]
    end = clock.now + timedelta(days=5)
    while clock.now < end:
        run(app, clock)
        clock.advance(minutes=5)
    finals = [sandbox.journey(number)[-1] for number in numbers]
    settled = [
        (sid, final)
        for sid, final in zip(ids, finals, strict=True)
        if final.at < end - timedelta(hours=12)
    ]
    assert len(settled) >= 15
    assert all(load(sid).status == final.status.value for sid, final in settled)


def test_a_clock_that_went_back_never_makes_the_pacing_wait_more_than_one_interval(
    app, fake, make_shipment, clock
):
    from postpurchase.tracking.routing import extension

    due(make_shipment, clock, 4)
    extension(app).last_request_at["fake"] = clock.now + timedelta(
        days=3
    )  # asked "later", on another clock
    waits: list[float] = []
    poll_due(app, clock=clock, sleep=waits.append)
    assert waits and max(waits) <= 1 / fake.capabilities.requests_per_second
