"""Sticky assignment and the statistics of experiments, on cases whose answers are known."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from postpurchase.experiments.operations import assign, bucket
from postpurchase.experiments.stats import ALPHA, TAU_SD, Sample, level_interval, msprt

VARIANTS = [{"key": "control", "weight": 20}, {"key": "B", "weight": 80}]


def test_a_customer_always_gets_the_same_variant_of_an_experiment() -> None:
    first = [assign(7, customer, VARIANTS)["key"] for customer in range(500)]
    again = [assign(7, customer, VARIANTS)["key"] for customer in range(500)]
    assert first == again


def test_assignment_follows_the_traffic_split() -> None:
    counts = Counter(assign(3, customer, VARIANTS)["key"] for customer in range(20000))
    assert counts["control"] / 20000 == pytest.approx(0.20, abs=0.01)


def test_assignment_in_one_experiment_says_nothing_about_another() -> None:
    both = Counter(
        (bucket(1, customer) < 0.5, bucket(2, customer) < 0.5) for customer in range(20000)
    )
    assert both[True, True] / 20000 == pytest.approx(0.25, abs=0.015)


def test_wilson_interval_of_10_in_100_is_the_textbook_value() -> None:
    interval = level_interval(Sample.of_rate(100, 10), binary=True)
    assert interval is not None
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.0552, 0.1744)


def test_identical_variants_decide_nothing() -> None:
    same = Sample.of_rate(5000, 500)
    result = msprt(same, same)
    assert result is not None and result.difference == 0 and not result.decided
    assert result.interval is not None and result.interval.low < 0 < result.interval.high


def test_the_always_valid_interval_is_the_closed_form_inversion_of_the_msprt() -> None:
    control, variant = Sample.of_rate(2000, 200), Sample.of_rate(2000, 260)
    result = msprt(control, variant)
    assert result is not None and result.interval is not None
    v = control.variance / 2000 + variant.variance / 2000
    pooled = (control.variance + variant.variance) / 2
    tau2 = TAU_SD**2 * pooled
    half = math.sqrt(
        2 * v * (v + tau2) / tau2 * (math.log(1 / ALPHA) + 0.5 * math.log((v + tau2) / v))
    )
    assert result.difference == pytest.approx(0.03)
    assert result.interval.high - result.difference == pytest.approx(half)
    # Exactly at the interval's edge the likelihood ratio reaches 1/α.
    edge = half**2
    log_ratio = 0.5 * math.log(v / (v + tau2)) + tau2 * edge / (2 * v * (v + tau2))
    assert log_ratio == pytest.approx(math.log(1 / ALPHA))


def test_a_large_true_difference_is_decided_and_its_interval_excludes_zero() -> None:
    result = msprt(Sample.of_rate(4000, 400), Sample.of_rate(4000, 560))
    assert result is not None and result.decided
    assert result.interval is not None and result.interval.low > 0


def test_scores_are_compared_on_their_own_scale() -> None:
    control = Sample.of([6.0, 7.0, 8.0, 9.0] * 300)
    better = Sample.of([7.0, 8.0, 9.0, 10.0] * 300)
    result = msprt(control, better)
    assert result is not None and result.decided and result.difference == pytest.approx(1.0)


def test_too_few_outcomes_give_no_comparison() -> None:
    assert msprt(Sample.of_rate(1, 1), Sample.of_rate(50, 5)) is None
