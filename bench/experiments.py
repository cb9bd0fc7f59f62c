"""Simulated experiments with known true effects: does the sequential rule find them, and does it
keep its error rate when the results are looked at every day?

Each run: ``DAYS`` days, ``PER_DAY`` customers a day split evenly (sticky) between control and
variant; a 0/1 goal (a click, a repeat purchase) with the stated true rates. After every day the
engine's rule (:func:`postpurchase.experiments.stats.msprt`, α = 0.05) is asked; a run "finds a
difference" the first day the rule decides. For comparison, the naive fixed-sample z-test asked
every day the same way.

    python bench/experiments.py [runs]
"""

from __future__ import annotations

import math
import random
import sys
from statistics import NormalDist

from postpurchase.experiments.stats import ALPHA, Sample, msprt

DAYS = 28
PER_DAY = 200
SCENARIOS = (
    ("A/A, click 10 %", 0.10, 0.10),
    ("A/A, repeat purchase 30 %", 0.30, 0.30),
    ("click 10 % → 13 %", 0.10, 0.13),
    ("click 10 % → 12 %", 0.10, 0.12),
    ("repeat 30 % → 25 % (harm)", 0.30, 0.25),
)


def naive_decides(a: Sample, b: Sample) -> bool:
    if a.mean is None or b.mean is None:
        return False
    v = a.variance / a.n + b.variance / b.n
    if v <= 0:
        return False
    z = abs(b.mean - a.mean) / math.sqrt(v)
    return z >= NormalDist().inv_cdf(1 - ALPHA / 2)


def run(
    rng: random.Random, p_control: float, p_variant: float
) -> tuple[int | None, int | None, bool]:
    """First day the rule decides (None: never), the same for the naive test, and whether the
    rule's final interval covers the true difference."""
    counts = [[0, 0], [0, 0]]
    first: int | None = None
    naive: int | None = None
    covered = True
    for day in range(1, DAYS + 1):
        for _ in range(PER_DAY):
            arm = rng.random() < 0.5
            counts[arm][0] += 1
            counts[arm][1] += rng.random() < (p_variant if arm else p_control)
        a = Sample.of_rate(*counts[0])
        b = Sample.of_rate(*counts[1])
        result = msprt(a, b)
        if result and result.decided and first is None:
            first = day
        if result and result.interval:
            truth = p_variant - p_control
            covered = covered and result.interval.low <= truth <= result.interval.high
        if naive is None and naive_decides(a, b):
            naive = day
    return first, naive, covered


def main(runs: int) -> None:
    rng = random.Random(20261120)
    print(f"{runs} runs per scenario, {DAYS} days × {PER_DAY} customers, α = {ALPHA}, daily peeks")
    print(
        "| scenario | rule decides (any day) | median day | naive z-test peeked daily | interval always covers truth |"
    )
    print("|---|---|---|---|---|")
    for name, p_a, p_b in SCENARIOS:
        results = [run(rng, p_a, p_b) for _ in range(runs)]
        days = sorted(day for day, _, _ in results if day is not None)
        decided = len(days) / runs
        naive = sum(1 for _, n, _ in results if n is not None) / runs
        covered = sum(1 for _, _, c in results if c) / runs
        median = days[len(days) // 2] if days else "—"
        print(f"| {name} | {decided:.1%} | {median} | {naive:.1%} | {covered:.1%} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 400)
