"""The statistics of an experiment: per-variant estimates and an always-valid comparison.

Each variant is compared with the control (the first variant) on one goal. The rule is the
mixture sequential probability ratio test (mSPRT) of Johari, Pekelis and Walsh ("Always valid
inference", 2017) with a normal mixture over the difference of means:

    Λ_n = sqrt(V / (V + τ²)) · exp(τ² · Δ² / (2 · V · (V + τ²)))

where Δ is the observed difference (variant − control), V its estimated variance
(s²_a/n_a + s²_b/n_b) and τ² the mixing variance. ``Λ_n ≥ 1/α`` rejects "no difference"; by
Ville's inequality the chance that this *ever* happens under the null, however often the results
are looked at, is at most α. Inverting the test gives the always-valid confidence sequence
``Δ ± half_width`` reported per comparison: the merchant may look daily and stop at the first
decisive day without inflating the error rate. τ is stated on the scale of the goal's pooled
standard deviation (``TAU_SD``), so one setting fits clicks (0/1) and NPS scores (0–10) alike.

A fixed-sample 95 % interval per variant is reported too (Wilson for rates, normal for means),
for reading the level of each variant; decisions use the sequence only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

#: Error rate of the sequential rule (chance of ever declaring a difference under A/A).
ALPHA = 0.05
#: Mixing standard deviation, in units of the goal's pooled standard deviation: the size of
#: effect the test is most sensitive to (0.1 SD ≈ 5 points on a 50 % rate).
TAU_SD = 0.1


@dataclass(frozen=True)
class Sample:
    """The outcomes of one variant on one goal: count, sum and sum of squares."""

    n: int
    total: float
    squares: float

    @classmethod
    def of(cls, values: list[float]) -> Sample:
        return cls(len(values), float(sum(values)), float(sum(v * v for v in values)))

    @classmethod
    def of_rate(cls, n: int, successes: int) -> Sample:
        """A 0/1 goal: ``successes`` of ``n``."""
        return cls(n, float(successes), float(successes))

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float:
        """The sample variance (denominator n − 1; 0 with fewer than two outcomes)."""
        if self.n < 2:
            return 0.0
        return max(0.0, (self.squares - self.total * self.total / self.n) / (self.n - 1))


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class Comparison:
    """A variant against the control: the difference, its always-valid interval and the verdict."""

    difference: float
    interval: Interval | None
    #: Likelihood ratio Λ_n; the rule decides when it reaches 1/α.
    ratio: float
    decided: bool


def level_interval(sample: Sample, *, binary: bool, confidence: float = 0.95) -> Interval | None:
    """A fixed-sample interval for one variant's mean (Wilson for a rate)."""
    if sample.n == 0 or sample.mean is None:
        return None
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    if binary:
        p, n = sample.mean, sample.n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return Interval(max(0.0, centre - half), min(1.0, centre + half))
    half = z * math.sqrt(sample.variance / sample.n)
    return Interval(sample.mean - half, sample.mean + half)


def msprt(
    control: Sample, variant: Sample, *, alpha: float = ALPHA, tau_sd: float = TAU_SD
) -> Comparison | None:
    """The mSPRT of ``variant`` against ``control``; None until each has two outcomes."""
    if control.n < 2 or variant.n < 2 or control.mean is None or variant.mean is None:
        return None
    difference = variant.mean - control.mean
    v = control.variance / control.n + variant.variance / variant.n
    pooled = ((control.n - 1) * control.variance + (variant.n - 1) * variant.variance) / (
        control.n + variant.n - 2
    )
    tau2 = (tau_sd * tau_sd) * pooled
    if v <= 0 or tau2 <= 0:
        # Every outcome identical in both variants: no evidence of any difference yet.
        return Comparison(difference, None, 1.0, False)
    log_ratio = 0.5 * math.log(v / (v + tau2)) + tau2 * difference**2 / (2 * v * (v + tau2))
    half = math.sqrt(
        2 * v * (v + tau2) / tau2 * (math.log(1 / alpha) + 0.5 * math.log((v + tau2) / v))
    )
    ratio = math.exp(min(log_ratio, 700.0))
    return Comparison(
        difference,
        Interval(difference - half, difference + half),
        ratio,
        log_ratio >= math.log(1 / alpha),
    )
