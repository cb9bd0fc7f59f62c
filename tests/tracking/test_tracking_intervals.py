"""When the planner polls next, per status and expected date (brand time: Asia/Tokyo)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from carriers.status import Status as S  # noqa: N817 (tables of statuses stay one line each)
from postpurchase.tracking.intervals import (
    PollPolicy,
    backoff,
    delivery_window,
    first_poll_at,
    next_poll_at,
    policy_from_config,
)

JST = ZoneInfo("Asia/Tokyo")
POLICY = PollPolicy(align=timedelta(0))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=JST)


def plan(status, now, **kwargs):
    return next_poll_at(status=status, now=now, tz=JST, policy=POLICY, **kwargs)


@pytest.mark.parametrize("status", [S.delivered, S.returned, S.expired])
def test_final_statuses_are_never_polled(status):
    assert plan(status, at(20, 10)) is None


def test_in_transit_far_from_expected_date_waits_for_that_morning():
    assert plan(S.in_transit, at(20, 10), expected_date=date(2026, 11, 21)) == at(21, 9)


def test_in_transit_very_far_from_date_still_checks_every_far_interval():
    assert (
        plan(S.info_received, at(20, 10), expected_date=date(2026, 11, 28))
        == at(20, 10) + POLICY.far_every
    )


def test_in_transit_without_any_date_polls_rarely():
    assert plan(S.in_transit, at(20, 10)) == at(20, 10) + POLICY.unknown_every


def test_in_transit_on_expected_day_polls_near_interval_within_delivery_hours():
    assert (
        plan(S.in_transit, at(21, 10), expected_date=date(2026, 11, 21))
        == at(21, 10) + POLICY.near_every
    )
    assert plan(S.in_transit, at(21, 20, 30), expected_date=date(2026, 11, 21)) == at(22, 9)


def test_in_transit_long_past_its_expected_date_falls_back_to_the_rare_interval():
    assert (
        plan(S.in_transit, at(25, 10), expected_date=date(2026, 11, 21))
        == at(25, 10) + POLICY.unknown_every
    )


def test_out_for_delivery_polls_frequently_and_sleeps_at_night():
    assert plan(S.out_for_delivery, at(21, 10)) == at(21, 10) + POLICY.out_for_delivery_every
    assert plan(S.out_for_delivery, at(21, 20, 30)) == at(22, 9)


def test_out_for_delivery_with_window_waits_for_it_then_polls_densely_inside():
    window = (at(21, 14), at(21, 16))
    assert plan(S.out_for_delivery, at(21, 9), window=window) == at(21, 14) + POLICY.window_every
    assert (
        plan(S.out_for_delivery, at(21, 14, 30), window=window)
        == at(21, 14, 30) + POLICY.window_every
    )


def test_out_for_delivery_after_its_window_falls_back_to_the_plain_interval():
    window = (at(21, 14), at(21, 16))
    assert (
        plan(S.out_for_delivery, at(21, 16, 30), window=window)
        == at(21, 16, 30) + POLICY.out_for_delivery_every
    )


def test_attempt_fail_without_a_new_date_polls_more_often_than_transit_and_pending():
    now = at(21, 11)
    assert plan(S.attempt_fail, now) - now < plan(S.in_transit, now) - now
    assert plan(S.attempt_fail, now) - now < plan(S.pending, now) - now


def test_attempt_fail_waits_for_the_redelivery_date_the_carrier_gives():
    assert plan(S.attempt_fail, at(21, 15), expected_date=date(2026, 11, 22)) == at(22, 9)
    assert (
        plan(S.attempt_fail, at(21, 15), expected_date=date(2026, 11, 21))
        == at(21, 15) + POLICY.attempt_fail_every
    )


def test_delivery_window_is_read_from_result_extra_and_rejects_nonsense():
    good = {"delivery_window": {"start": at(21, 14).isoformat(), "end": at(21, 16).isoformat()}}
    assert delivery_window(good) == (at(21, 14), at(21, 16))
    assert delivery_window({"delivery_window": {"start": "x", "end": "y"}}) is None
    assert (
        delivery_window(
            {"delivery_window": {"start": at(21, 16).isoformat(), "end": at(21, 14).isoformat()}}
        )
        is None
    )
    assert delivery_window({}) is None


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    rng = random.Random(1)
    first = [backoff(1, POLICY, rng) for _ in range(50)]
    third = [backoff(3, POLICY, rng) for _ in range(50)]
    assert all(POLICY.backoff_base / 2 <= d <= POLICY.backoff_base for d in first)
    assert all(2 * POLICY.backoff_base <= d <= 4 * POLICY.backoff_base for d in third)
    assert len(set(first)) > 40  # jittered, not one fixed delay
    assert backoff(30, POLICY, rng) <= POLICY.backoff_max


def test_policy_fields_are_configurable_in_seconds():
    policy = policy_from_config(
        {"TRACKING_OUT_FOR_DELIVERY_EVERY": "600", "TRACKING_CIRCUIT_THRESHOLD": "3"}
    )
    assert policy.out_for_delivery_every == timedelta(minutes=10) and policy.circuit_threshold == 3


def test_a_policy_follows_its_settings_when_they_change():
    config = {"TRACKING_CIRCUIT_THRESHOLD": "3"}
    first = policy_from_config(config)
    assert policy_from_config(config) == first
    config["TRACKING_CIRCUIT_THRESHOLD"] = "5"
    assert policy_from_config(config).circuit_threshold == 5
    del config["TRACKING_CIRCUIT_THRESHOLD"]
    assert policy_from_config(config) == PollPolicy()


def test_poll_times_snap_to_the_alignment_grid_so_batches_fill():
    policy = PollPolicy(align=timedelta(minutes=10))
    now = at(21, 10, 3)
    planned = next_poll_at(status=S.out_for_delivery, now=now, tz=JST, policy=policy)
    assert planned.minute % 10 == 0 and planned.second == 0
    assert abs(planned - (now + policy.out_for_delivery_every)) <= timedelta(minutes=5)
    assert (
        next_poll_at(status=S.pending, now=now, tz=JST, policy=policy) >= now + policy.min_interval
    )


def test_first_poll_without_a_prediction_comes_after_the_first_poll_delay():
    now = at(20, 10)
    assert first_poll_at(now, POLICY, tz=JST, earliest=None) == now + POLICY.first_poll


def test_first_poll_of_a_parcel_that_may_arrive_today_is_not_postponed():
    now = at(20, 10)
    assert (
        first_poll_at(now, POLICY, tz=JST, earliest=date(2026, 11, 20)) == now + POLICY.first_poll
    )


def test_first_poll_of_a_parcel_predicted_later_is_the_next_delivery_morning_not_the_predicted_day():
    assert first_poll_at(at(20, 10), POLICY, tz=JST, earliest=date(2026, 11, 23)) == at(
        21, POLICY.morning.hour
    )


def test_first_poll_is_never_later_than_the_sanity_limit_after_hand_over():
    policy = PollPolicy(align=timedelta(0), first_poll_within=timedelta(hours=12))
    assert first_poll_at(at(20, 19), policy, tz=JST, earliest=date(2026, 11, 23)) == at(
        21, 7
    ) + timedelta(hours=2)
    policy = PollPolicy(align=timedelta(0), first_poll_within=timedelta(hours=5))
    assert first_poll_at(at(20, 3), policy, tz=JST, earliest=date(2026, 11, 23)) == at(20, 8)


@pytest.mark.parametrize("hand_over", [at(20, 0, 30), at(20, 3), at(20, 7, 30)])
def test_first_poll_of_a_parcel_handed_over_after_midnight_is_that_mornings(hand_over):
    # The next morning after hand-over is the same day's: the day after would be up to 33 hours
    # later, past the 24-hour limit, and the parcel would sit unasked for a day.
    assert first_poll_at(hand_over, POLICY, tz=JST, earliest=date(2026, 11, 22)) == at(20, 9)


def test_first_poll_of_a_parcel_handed_over_just_before_the_morning_waits_the_first_poll_delay():
    assert first_poll_at(at(20, 8, 30), POLICY, tz=JST, earliest=date(2026, 11, 22)) == at(
        20, 9, 30
    )
