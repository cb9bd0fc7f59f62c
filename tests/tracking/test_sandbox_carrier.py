"""The sandbox carrier: deterministic Japanese journeys over a clock, with its own rate limit."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from carriers import registry, sandbox
from carriers.base import RateLimited, Unsupported
from carriers.registry import CarrierSettings
from carriers.status import PROGRESS, Status

HANDOVER = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
NUMBERS = [sandbox.tracking_number(HANDOVER + timedelta(minutes=7 * i), i) for i in range(400)]


def adapter(clock, **options):
    return registry.create("sandbox", CarrierSettings(options={"clock": clock, **options}))


def test_sandbox_is_registered_first_with_batch_and_rate_capabilities():
    assert registry.ADAPTER_MODULES[0] == "carriers.sandbox" and "sandbox" in registry.codes()
    caps = registry.create("sandbox").capabilities
    assert caps.max_batch == 40 and caps.requests_per_second == 10


def test_number_encodes_its_hand_over_time():
    number = sandbox.tracking_number(HANDOVER, 42)
    assert number == "SB202611200300000042" and sandbox.handed_over_at(number) == HANDOVER
    assert sandbox.handed_over_at("1234") is None


def test_journey_is_deterministic_and_in_time_order():
    for number in NUMBERS[:50]:
        scans = sandbox.journey(number)
        assert scans == sandbox.journey(number)
        assert [s.at for s in scans] == sorted(s.at for s in scans)
        assert scans[0].status == Status.info_received and scans[0].at == HANDOVER + (
            sandbox.handed_over_at(number) - HANDOVER
        )


def test_every_journey_ends_delivered_or_returned_with_japanese_texts():
    finals = Counter(sandbox.journey(n)[-1].status for n in NUMBERS)
    assert set(finals) <= {Status.delivered, Status.returned} and finals[Status.delivered] > 350
    texts = {s.description for n in NUMBERS for s in sandbox.journey(n)}
    assert {"荷物受付", "発送済み", "配達中", "持戻(ご不在)", "配達完了"} <= texts


def test_configured_rates_produce_failed_attempts_redelivery_delays_and_exceptions():
    codes = Counter(s.code for n in NUMBERS for s in sandbox.journey(n))
    assert codes["ABSENT"] > 20 and codes["DELAYED"] > 10 and codes["INVESTIGATING"] > 3
    assert codes["AT_STORE"] + codes["HELD"] > 5
    none = sandbox.Rates(attempt_fail=0, delay=0, exception=0, pickup=0)
    assert all(
        s.code not in {"ABSENT", "DELAYED", "INVESTIGATING", "AT_STORE"}
        for n in NUMBERS
        for s in sandbox.journey(n, none)
    )


def test_failed_attempt_is_followed_by_redelivery():
    number = next(n for n in NUMBERS if any(s.code == "ABSENT" for s in sandbox.journey(n)))
    scans = sandbox.journey(number)
    after = scans[[s.code for s in scans].index("ABSENT") + 1 :]
    assert after and after[0].status in (Status.out_for_delivery, Status.available_for_pickup)
    assert "再配達" in after[0].description or after[0].status == Status.available_for_pickup


def test_deliveries_happen_in_japanese_delivery_hours():
    for number in NUMBERS:
        for scan in sandbox.journey(number):
            if scan.code == "DELIVERED":
                assert 8 <= scan.at.astimezone(sandbox.JST).hour < 23


def test_answer_shows_only_scans_that_happened_by_now(clock):
    carrier = adapter(clock)
    number = NUMBERS[0]
    clock.now = HANDOVER - timedelta(minutes=1)
    assert carrier.track([number]) == []  # not handed over yet: the carrier does not know it
    seen = []
    for _ in range(24 * 8):
        clock.advance(hours=1)
        [answer] = carrier.track([number])
        seen.append(answer.status)
    assert seen[-1] == sandbox.journey(number)[-1].status
    assert answer.events[0].description == "荷物受付" and answer.events[0].location


def test_status_never_goes_backwards_without_a_failed_attempt_or_exception(clock):
    carrier = adapter(clock, rates={"attempt_fail": 0, "exception": 0, "pickup": 0})
    number = NUMBERS[3]
    clock.now = HANDOVER
    previous = Status.pending
    for _ in range(24 * 6):
        clock.advance(hours=1)
        [answer] = carrier.track([number])
        assert PROGRESS[answer.status] >= PROGRESS[previous]
        previous = answer.status


def test_out_for_delivery_answer_carries_the_delivery_window_when_rates_say_always(clock):
    carrier = adapter(clock, rates={"window": 1})
    outs = [
        (n, s)
        for n in NUMBERS[:40]
        for s in sandbox.journey(n, carrier.rates)
        if s.status == Status.out_for_delivery
    ]
    assert outs
    for number, scan in outs:
        answer = carrier.result_at(number, scan.at)
        window = answer.extra["delivery_window"]
        assert datetime.fromisoformat(window["start"]) < datetime.fromisoformat(window["end"])


def test_rate_limit_is_enforced_on_the_sandbox_clock(clock):
    carrier = adapter(clock, requests_per_second=2)
    carrier.track(NUMBERS[:1])
    carrier.track(NUMBERS[:1])
    with pytest.raises(RateLimited) as raised:
        carrier.track(NUMBERS[:1])
    assert 0 < raised.value.retry_after <= 0.5
    clock.advance(seconds=1)
    carrier.track(NUMBERS[:1])
    assert (carrier.calls, carrier.rejected, carrier.numbers) == (4, 1, 3)


def test_batches_larger_than_max_batch_are_refused(clock):
    with pytest.raises(ValueError, match="at most 2 numbers"):
        adapter(clock, max_batch=2).track(NUMBERS[:3])


def test_time_scale_runs_the_journey_faster_than_the_clock(clock):
    clock.now = HANDOVER
    carrier = adapter(clock, time_scale=60)
    clock.advance(hours=2)  # two real hours are five simulated days
    [answer] = carrier.track([NUMBERS[0]])
    assert answer.status == sandbox.journey(NUMBERS[0])[-1].status


def test_sandbox_does_not_take_webhooks(clock):
    with pytest.raises(Unsupported):
        adapter(clock).verify_webhook({}, b"{}")
    with pytest.raises(Unsupported):
        adapter(clock).parse_webhook(b"{}")


def test_demo_time_moves_sandbox_parcels_through_the_planner(app, make_shipment, clock):
    from postpurchase.db import get_db
    from postpurchase.models import Shipment
    from postpurchase.tracking.jobs import poll_job
    from postpurchase.tracking.simulation import use_accelerated_time

    simulated = use_accelerated_time(app, 60, real=clock)
    ids = [
        make_shipment(
            sandbox.tracking_number(simulated(), i),
            carrier_code="sandbox",
            next_poll_at=simulated(),
        )
        for i in range(5)
    ]
    statuses = set()
    for _ in range(3 * 60):  # three real hours, one planner run per real minute
        poll_job(app)
        clock.advance(minutes=1)
        with get_db(app).session() as session:
            statuses |= {session.get(Shipment, i).status for i in ids}
    assert {"info_received", "out_for_delivery", "delivered"} <= {s.value for s in statuses}


def labelled(serial, origin="272-0002", destination="460-0008", **label):
    return sandbox.tracking_number(HANDOVER, serial, sandbox.Label(origin, destination, **label))


def test_labelled_number_keeps_its_hand_over_time_and_label():
    number = labelled(7, profile=2, store_pickup=True)
    assert sandbox.handed_over_at(number) == HANDOVER
    assert sandbox.label_of(number) == sandbox.Label("272", "460", profile=2, store_pickup=True)
    assert sandbox.label_of(NUMBERS[0]) is None


def test_labelled_parcel_is_scanned_only_along_its_route():
    for serial in range(200):
        number = labelled(serial, destination="810-0001")
        stops = sandbox.route_of(number).locations
        for scan in sandbox.journey(number):
            assert scan.location in stops or scan.location.startswith("福岡県福岡市中央区 ")
    lane = sandbox.route("272-0002", "810-0001")
    assert [hub.office for hub in lane.hubs] == ["羽田クロノゲートベース", "福岡ベース"]
    assert lane.origin.prefecture == "千葉県" and lane.destination.prefecture == "福岡県"


def test_store_pickup_label_sends_the_parcel_to_a_store_in_the_customers_city():
    number = labelled(3, destination="150-0001", store_pickup=True)
    store = next(s for s in sandbox.journey(number) if s.code == "AT_STORE")
    assert store.location.startswith("東京都渋谷区 ") and store.location.endswith("店")


def test_unlisted_postal_area_is_served_by_its_prefectures_centre():
    assert sandbox.place("990-0001").location == "山形県 山形主管センター"
    assert sandbox.place("X") is None


def test_far_lanes_take_longer_than_lanes_within_a_region():
    assert sandbox.route("272-0002", "150-0001").days < sandbox.route("272-0002", "060-0001").days
    assert sandbox.route("272-0002", "900-0015").days == 3


def test_profiles_option_sets_speed_and_failures_per_label(clock):
    fast = {"rates": {"attempt_fail": 0, "delay": 0, "exception": 0}, "extra_days": [1, 0, 0]}
    slow = {"rates": {"attempt_fail": 1, "delay": 0, "exception": 0}, "extra_days": [0, 0, 1]}
    carrier = adapter(clock, profiles={1: fast, 3: slow})
    early, late = labelled(1, profile=1), labelled(1, profile=3)
    arrived = {
        n: next(s.at for s in carrier.journey(n) if s.code == "ARRIVED")
        .astimezone(sandbox.JST)
        .date()
        for n in (early, late)
    }
    assert (arrived[late] - arrived[early]).days == 2
    assert not any(s.code == "ABSENT" for s in carrier.journey(early))
    assert any(s.code == "ABSENT" for s in carrier.journey(late))
