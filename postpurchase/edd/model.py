"""The transit-time model: hierarchical, recency-weighted histograms of business days.

Transit is counted in the carrier's business days from the day a parcel starts moving (its
*anchor*: the order day after the cut-off rule, or the hand-over day) to delivery. For every route
level (all parcels → carrier+service → origin → destination region → destination postal prefix) the
model keeps a histogram weighted by recency; a route's distribution starts at the root and is
shrunk towards each parent with a fixed prior strength, so a postal prefix with five parcels mostly
follows its region while one with five hundred speaks for itself.

Within a route, order features (shipping cost, weight, category, weekday; :mod:`.features`)
stretch or shorten transit by learned factors, and a drift scale stretches every route when the
recent cohort runs slower than the history.

Quantile levels are then recalibrated on recent out-of-sample deliveries (split-conformal on the
probability-integral transform), so a promise at level 0.90 is kept 90% of the time even when the
carrier is slower this month than the history says. Parcels still in flight, when known, make
both the drift and the calibration notice a slowdown before the slow parcels arrive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import numpy as np

from postpurchase.edd.calendar import EPOCH, CarrierCalendar
from postpurchase.edd.features import NO_FEATURES, FeatureEffects, OrderFeatures, fit_effects

#: Transit times are clipped at this many business days.
YMAX = 60
LEVEL_NAMES: tuple[str, ...] = ("all", "service", "origin", "region", "postal_prefix")


def postal_prefix(code: str | None, length: int = 3) -> str:
    """The first digits of a postal code (``"150-0001"`` → ``"150"``); "" when unknown."""
    digits = "".join(ch for ch in (code or "") if ch.isdigit())
    return digits[:length] if len(digits) >= length else ""


@dataclass(frozen=True, slots=True)
class Route:
    carrier: str
    service: str
    origin: str = ""
    region: str = ""
    postal_prefix: str = ""

    def keys(self) -> tuple[tuple[str, ...], ...]:
        """The key of this route at each level of :data:`LEVEL_NAMES`."""
        parts = (f"{self.carrier}/{self.service}", self.origin, self.region, self.postal_prefix)
        return ((), parts[:1], parts[:2], parts[:3], parts[:4])


@dataclass(frozen=True)
class ModelParams:
    """Tuning chosen on the olist walk-forward backtest (see BENCHMARKS.md)."""

    half_life_days: float = 60.0
    prior_strength: float = 20.0
    recent_days: int = 60
    #: Out-of-sample deliveries (by as-of day) used to recalibrate quantile levels.
    calibration_days: int = 45
    calibration_min: int = 40
    #: Quantile of as-of-to-delivery days after which a cohort counts as arrived for calibration.
    calibration_lag_quantile: float = 0.98
    #: Business days assumed before any parcel of the brand was delivered.
    default_business_days: int = 2
    #: Recent cohort (days since anchor) whose partly-arrived deliveries estimate the drift scale.
    drift_days: int = 21
    #: Standard deviation of the prior on log(drift scale); 0 switches drift detection off.
    drift_prior: float = 0.15
    #: Shrinkage of order-feature effects towards none (see :mod:`postpurchase.edd.features`); 0 = off.
    effect_strength: float = 30.0
    #: Order-feature effects are relearned this often (days) from the parcels of the last year.
    effect_refit_days: int = 7
    effect_history_days: int = 365

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelParams:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class Calibration:
    """Recent out-of-sample PIT scores: ``lower = F(y-1)`` and ``upper = F(y)`` per delivery.

    ``waiting`` holds, for parcels of the same period still in flight, the PIT their transit has
    already passed (``F(c-1)`` after ``c`` business days): their scores will be at least that.
    With them the quantiles are Kaplan–Meier estimates, so the pool need not wait for a period's
    parcels to arrive and is not biased towards the fast ones.
    """

    lower: np.ndarray = field(default_factory=lambda: np.zeros(0))
    upper: np.ndarray = field(default_factory=lambda: np.zeros(0))
    waiting: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return len(self.lower) + len(self.waiting)

    def _quantile(self, scores: np.ndarray, level: float, method: str) -> float:
        if len(self.waiting):
            found = km_quantile(scores, self.waiting, level)
            # unreachable: more parcels are still waiting beyond every score seen than the level allows
            return 1.0 if found is None else found
        if not len(scores):
            return level
        # numpy types ``method`` as a Literal of its names; ours come from the model's settings
        return float(np.quantile(scores, level, method=method))  # type: ignore[call-overload]

    def at_most(self, level: float, minimum: int) -> float:
        """The level whose quantile is ≥ the delivery ``level`` of the time (promise, upper bounds)."""
        if len(self) < minimum:
            return level
        return _clip(self._quantile(self.lower, level, "higher") + 1e-9)

    def median(self, minimum: int) -> float:
        """The level whose quantile splits recent deliveries in half (mid-PIT: ties count half)."""
        if len(self) < minimum:
            return 0.5
        return _clip(self._quantile((self.lower + self.upper) / 2, 0.5, "linear"))

    def at_least(self, level: float, minimum: int) -> float:
        """The level whose quantile is ≤ the delivery ``1 - level`` of the time (lower bounds)."""
        if len(self) < minimum:
            return level
        return _clip(self._quantile(self.upper, level, "lower"))


def km_quantile(events: np.ndarray, censored: np.ndarray, level: float) -> float | None:
    """The ``level`` quantile of a Kaplan–Meier estimate: ``events`` observed, ``censored`` known only to be ≥.

    None when the estimate never reaches ``level`` (too many parcels still waiting beyond the
    last observed score).
    """
    values = np.concatenate([events, censored])
    is_event = np.concatenate([np.ones(len(events), bool), np.zeros(len(censored), bool)])
    order = np.lexsort((~is_event, values))  # at equal values, events before censorings
    at_risk = len(values) - np.arange(len(values))
    survival = np.cumprod(np.where(is_event[order], 1.0 - 1.0 / at_risk, 1.0))
    reached = np.nonzero(is_event[order] & (1.0 - survival >= level - 1e-12))[0]
    return float(values[order][reached[0]]) if len(reached) else None


def _clip(level: float) -> float:
    """Keep recalibrated levels off the extremes, where rounding noise in the tails would decide."""
    return min(max(level, 0.01), 0.995)


@dataclass(frozen=True)
class Basis:
    """Why the model says what it says."""

    level: str
    key: tuple[str, ...]
    sample_size: int
    recent_sample_size: int
    recent_days: int
    typical_business_days: int
    #: Multiplicative effects of this order's features on transit (shipping cost, category, ...).
    factors: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        # not dataclasses.asdict: it deep-copies field by field, and this runs for every parcel
        return {**vars(self), "key": list(self.key), "factors": dict(self.factors)}


@dataclass(frozen=True)
class Estimate:
    anchor: date
    predicted_date: date
    window_start: date
    window_end: date
    promise_date: date
    predicted_business_days: int
    basis: Basis
    levels: dict[str, float]


def quantile(cdf: np.ndarray, level: float) -> int:
    """Smallest transit ``y`` with ``F(y) >= level``."""
    return min(int(np.searchsorted(cdf, level - 1e-12, side="left")), len(cdf) - 1)


def _quantiles(
    pmf: np.ndarray, elapsed: int, levels: dict[str, float]
) -> tuple[int, int, int, int]:
    """Point, window start and end and promise (business days) of ``pmf``, conditioned on
    ``y >= elapsed`` (that many business days passed without delivery)."""
    if elapsed > 0:
        pmf = pmf.copy()
        pmf[: min(elapsed, YMAX)] = 0.0
        total = pmf.sum()
        if total <= 0:
            pmf[min(elapsed, YMAX)] = 1.0
        else:
            pmf = pmf / total
    cdf = np.cumsum(pmf)
    point = quantile(cdf, levels["point"])
    start = min(quantile(cdf, levels["window_start"]), point)
    end = max(quantile(cdf, levels["window_end"]), point)
    promise = max(quantile(cdf, levels["promise"]), point)
    return point, start, end, promise


class TransitModel:
    """A fitted model. Build with :func:`fit_histograms`; serialise with :meth:`to_dict`."""

    def __init__(
        self,
        *,
        params: ModelParams,
        as_of: date,
        nodes: list[dict[tuple[str, ...], int]],
        weighted: list[np.ndarray],
        counts: list[np.ndarray],
        recent: list[np.ndarray],
        calibration: Calibration | None = None,
        scale: float = 1.0,
        effects: FeatureEffects | None = None,
    ) -> None:
        self.params = params
        self.scale = scale
        self.effects = effects or FeatureEffects()
        self.as_of = as_of
        self.nodes = nodes
        self.weighted = weighted
        self.counts = counts
        self.recent = recent
        self.calibration = calibration or Calibration()
        self._prior = _default_pmf(params.default_business_days)
        self._regions: dict[str, str] | None = None
        self._levels: dict[tuple[float, float, float], dict[str, float]] = {}
        self._routes: dict[Route, tuple[np.ndarray, Basis]] = {}
        self._quantiles: dict[tuple[Any, ...], tuple[int, int, int, int]] = {}

    @property
    def sample_size(self) -> int:
        return int(self.counts[0].sum()) if len(self.counts[0]) else 0

    def adjusted(
        self,
        *,
        calibration: Calibration | None = None,
        scale: float | None = None,
        effects: FeatureEffects | None = None,
    ) -> TransitModel:
        return TransitModel(
            params=self.params,
            as_of=self.as_of,
            nodes=self.nodes,
            weighted=self.weighted,
            counts=self.counts,
            recent=self.recent,
            calibration=self.calibration if calibration is None else calibration,
            scale=self.scale if scale is None else scale,
            effects=self.effects if effects is None else effects,
        )

    def complete(self, route: Route) -> Route:
        """``route`` with its destination region filled in from the postal prefix when missing."""
        if route.region or not route.postal_prefix:
            return route
        if self._regions is None:
            votes: dict[str, dict[str, int]] = {}
            for key, row in self.nodes[-1].items():
                by_region = votes.setdefault(key[-1], {})
                by_region[key[-2]] = by_region.get(key[-2], 0) + int(self.counts[-1][row])
            self._regions = {prefix: max(c, key=c.__getitem__) for prefix, c in votes.items()}
        region = self._regions.get(route.postal_prefix, "")
        return replace(route, region=region) if region else route

    def distribution(
        self, route: Route, features: OrderFeatures = NO_FEATURES
    ) -> tuple[np.ndarray, Basis]:
        """The shrunk transit pmf of ``route`` for an order with ``features``, and its basis.

        The route's histogram is stretched by the drift scale (all parcels) and by the order's
        feature effects, and the basis names the deepest route level that had data. The returned
        pmf is read-only (it may be shared).
        """
        factor = self.effects.scale(features)
        return self._stretched(route, factor), self._basis(route, features, factor)

    def _stretched(self, route: Route, factor: float) -> np.ndarray:
        """The route's pmf with transit multiplied by ``factor`` (the features' effect)."""
        pmf = self._route(route)[0]
        if factor != 1.0:
            pmf = pmf @ scale_matrix(factor, offset=1)
            pmf.flags.writeable = False
        return pmf

    def _basis(self, route: Route, features: OrderFeatures, factor: float) -> Basis:
        """The route's basis, naming the features' effects when they have one."""
        basis = self._route(route)[1]
        if factor != 1.0:
            basis = replace(basis, factors=self.effects.factors(features))
        return basis

    def _route(self, route: Route) -> tuple[np.ndarray, Basis]:
        """The route's shrunk pmf before feature effects, and its basis (worked out once)."""
        cached = self._routes.get(route)
        if cached is None:
            if len(self._routes) > 50_000:
                self._routes.clear()
            cached = self._routes[route] = self._route_distribution(route)
        return cached

    def _route_distribution(self, route: Route) -> tuple[np.ndarray, Basis]:
        route = self.complete(route)
        pmf = self._prior
        basis = Basis("prior", (), 0, 0, self.params.recent_days, self.params.default_business_days)
        for index, key in enumerate(route.keys()):
            row = self.nodes[index].get(key)
            if row is None:
                break
            histogram = self.weighted[index][row]
            strength = 1.0 if index == 0 else self.params.prior_strength
            pmf = (histogram + strength * pmf) / (histogram.sum() + strength)
            basis = Basis(
                LEVEL_NAMES[index],
                key,
                int(self.counts[index][row]),
                int(self.recent[index][row]),
                self.params.recent_days,
                quantile(np.cumsum(pmf), 0.5),
            )
        if self.scale != 1.0:
            pmf = pmf @ scale_matrix(self.scale)
        pmf = np.array(pmf)
        pmf.flags.writeable = False
        return pmf, basis

    def pit(
        self, route: Route, transit: int, features: OrderFeatures = NO_FEATURES
    ) -> tuple[float, float]:
        """``(F(y-1), F(y))`` of an observed transit under this (uncalibrated) model."""
        cdf = np.cumsum(self.distribution(route, features)[0])
        y = min(max(transit, 0), YMAX)
        return (float(cdf[y - 1]) if y > 0 else 0.0), float(cdf[y])

    def estimate(
        self,
        route: Route,
        anchor: date,
        calendar: CarrierCalendar,
        *,
        promise_level: float = 0.9,
        window: tuple[float, float] = (0.1, 0.9),
        elapsed: int = 0,
        features: OrderFeatures = NO_FEATURES,
    ) -> Estimate:
        """Dates for a parcel that starts moving on ``anchor``.

        ``elapsed`` business days have already passed without delivery (re-prediction after
        hand-over): the distribution is conditioned on ``y >= elapsed``.
        """
        features = replace(features, weekday=str(anchor.weekday()))
        levels = self.levels(promise_level, window)
        # The features act through one factor (:meth:`distribution`), so parcels of a route with
        # the same factor, elapsed days and levels share their quantiles: most of a batch does.
        factor = self.effects.scale(features)
        key = (route, factor, elapsed, promise_level, *window)
        found = self._quantiles.get(key)
        if found is None:
            if len(self._quantiles) > 50_000:
                self._quantiles.clear()
            found = self._quantiles[key] = _quantiles(
                self._stretched(route, factor), elapsed, levels
            )
        point, start, end, promise = found
        basis = self._basis(route, features, factor)

        def day(y: int) -> date:
            return calendar.add_business_days(anchor, y)

        return Estimate(
            anchor, day(point), day(start), day(end), day(promise), point, basis, levels
        )

    def levels(self, promise_level: float, window: tuple[float, float]) -> dict[str, float]:
        """The recalibrated quantile levels of point, window and promise (the same for every parcel)."""
        key = (promise_level, *window)
        levels = self._levels.get(key)
        if levels is None:
            minimum = self.params.calibration_min
            levels = self._levels[key] = {
                "point": self.calibration.median(minimum),
                "window_start": self.calibration.at_least(window[0], minimum),
                "window_end": self.calibration.at_most(window[1], minimum),
                "promise": self.calibration.at_most(promise_level, minimum),
            }
        return dict(levels)

    def to_dict(self) -> dict[str, Any]:
        levels = []
        for index in range(len(LEVEL_NAMES)):
            levels.append(
                [
                    [
                        list(key),
                        _trim(self.weighted[index][row]),
                        int(self.counts[index][row]),
                        int(self.recent[index][row]),
                    ]
                    for key, row in self.nodes[index].items()
                ]
            )
        return {
            "params": self.params.to_dict(),
            "as_of": self.as_of.isoformat(),
            "scale": self.scale,
            "effects": self.effects.to_dict(),
            "levels": levels,
            "calibration": {
                "lower": _round(self.calibration.lower),
                "upper": _round(self.calibration.upper),
                "waiting": _round(self.calibration.waiting),
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TransitModel:
        nodes, weighted, counts, recent = [], [], [], []
        for level in data["levels"]:
            nodes.append({tuple(item[0]): row for row, item in enumerate(level)})
            matrix = np.zeros((len(level), YMAX + 1))
            for row, item in enumerate(level):
                matrix[row, : len(item[1])] = item[1]
            weighted.append(matrix)
            counts.append(np.array([item[2] for item in level], dtype=np.int64))
            recent.append(np.array([item[3] for item in level], dtype=np.int64))
        stored = data["calibration"]
        calibration = Calibration(
            np.array(stored["lower"]),
            np.array(stored["upper"]),
            np.array(stored.get("waiting", [])),
        )
        return cls(
            params=ModelParams.from_dict(data["params"]),
            as_of=date.fromisoformat(data["as_of"]),
            nodes=nodes,
            weighted=weighted,
            counts=counts,
            recent=recent,
            calibration=calibration,
            scale=float(data.get("scale", 1.0)),
            effects=FeatureEffects.from_dict(data.get("effects")),
        )


def scale_matrix(scale: float, offset: int = 0) -> np.ndarray:
    """Maps a pmf over transit ``y`` to that of ``(y + offset) * scale - offset``, split between neighbouring days.

    Drift stretches transit itself (offset 0); order features act on ``1 + y`` (offset 1), the
    quantity their effects were learned on, so a same-day parcel can still become a next-day one.
    """
    return _scale_matrix(round(scale, 3), offset)


@lru_cache(maxsize=1024)
def _scale_matrix(scale: float, offset: int) -> np.ndarray:
    matrix = np.zeros((YMAX + 1, YMAX + 1))
    source = np.arange(YMAX + 1)
    target = np.clip((source + offset) * scale - offset, 0, YMAX)
    low = np.floor(target).astype(int)
    high = np.minimum(low + 1, YMAX)
    share = target - low
    np.add.at(matrix, (source, low), 1.0 - share)
    np.add.at(matrix, (source, high), share)
    return matrix


#: Drift scales considered (a slow month makes every transit longer by a factor).
DRIFT_GRID = np.round(np.exp(np.linspace(np.log(0.7), np.log(2.0), 36)), 3)


def drift_scale(
    pmfs: np.ndarray,
    transit: np.ndarray,
    censor: np.ndarray | None,
    prior: float,
    *,
    waiting: np.ndarray | None = None,
    elapsed: np.ndarray | None = None,
) -> float:
    """Maximum a-posteriori transit scale from a recent cohort.

    Without in-flight parcels the cohort is right-truncated: a parcel that started ``c`` business
    days ago is only seen if it arrived within ``c`` days, so each delivered parcel contributes
    ``log p(y) - log F(c)``, how its transit sits among the transits that could have been seen by
    now. With in-flight parcels (``waiting`` pmfs, ``elapsed`` business days so far) the cohort is
    complete: delivered parcels contribute ``log p(y)`` and waiting ones ``log P(y >= elapsed)``,
    so a pile of parcels older than usual raises the scale before any of them arrives.
    """
    if prior <= 0 or len(transit) + (0 if elapsed is None else len(elapsed)) == 0:
        return 1.0
    # Parcels on the same route share a pmf: scale each distinct one once.
    distinct, rows = np.unique(pmfs, axis=0, return_inverse=True)
    rows = rows.reshape(-1)
    if waiting is not None and elapsed is not None and len(elapsed):
        waiting_distinct, waiting_rows = np.unique(waiting, axis=0, return_inverse=True)
        waiting_rows = waiting_rows.reshape(-1)
    else:
        waiting_distinct, waiting_rows = None, None
    best, best_score = 1.0, -np.inf
    for scale in DRIFT_GRID:
        matrix = scale_matrix(float(scale))
        scaled = distinct @ matrix + 1e-6
        score = float(np.sum(np.log(scaled[rows, transit])))
        if censor is not None:
            score -= float(np.sum(np.log(np.cumsum(scaled, axis=1)[rows, censor])))
        if waiting_distinct is not None:
            tail = (
                np.cumsum((waiting_distinct @ matrix)[:, ::-1], axis=1)[:, ::-1] + 1e-6
            )  # P(y >= k)
            score += float(np.sum(np.log(tail[waiting_rows, elapsed])))
        score -= float(np.log(scale)) ** 2 / (2 * prior**2)
        if score > best_score:
            best, best_score = float(scale), score
    return best


def _trim(values: np.ndarray) -> list[float]:
    nonzero = np.nonzero(values)[0]
    end = int(nonzero[-1]) + 1 if len(nonzero) else 0
    return _round(values[:end])


def _round(values: np.ndarray) -> list[float]:
    return [round(float(v), 5) for v in values]


def _default_pmf(days: int) -> np.ndarray:
    pmf = np.zeros(YMAX + 1)
    pmf[max(days - 1, 0)] += 0.2
    pmf[days] += 0.6
    pmf[days + 1] += 0.2
    return pmf


class Observations:
    """Delivered parcels as arrays, sorted by delivery time, ready for repeated fits.

    ``reveal`` holds each parcel's delivery moment (epoch seconds); a fit at a moment uses only the
    prefix delivered before it, which is what makes walk-forward backtests honest.
    """

    def __init__(
        self,
        *,
        routes: Sequence[Route],
        as_of_days: Sequence[int],
        anchor_days: Sequence[int],
        delivered_days: Sequence[int],
        reveal: Sequence[float],
        calendar: CarrierCalendar,
        features: Sequence[OrderFeatures] | None = None,
        countries: Sequence[str] | None = None,
    ) -> None:
        order = np.argsort(np.asarray(reveal, dtype=float), kind="stable")
        self.routes = [routes[i] for i in order]
        #: Each parcel's destination country ("" when unknown): its transit days are counted on
        #: that country's business days, as predictions for the lane count them.
        self.countries = _countries(countries, len(order))[order]
        self.reveal = np.asarray(reveal, dtype=float)[order]
        self.as_of_days = np.asarray(as_of_days, dtype=np.int64)[order]
        self.anchor_days = np.asarray(anchor_days, dtype=np.int64)[order]
        self.features = _with_weekday(
            [features[i] for i in order] if features is not None else None, self.anchor_days
        )
        self.delivered_days = np.asarray(delivered_days, dtype=np.int64)[order]
        transit = calendar.business_days_to_destinations(
            self.countries, self.anchor_days, self.delivered_days
        )
        self.transit = np.clip(transit, 0, YMAX)
        self.level_keys: list[list[tuple[str, ...]]] = []
        self.level_ids: list[np.ndarray] = []
        for index in range(len(LEVEL_NAMES)):
            keys: dict[tuple[str, ...], int] = {}
            ids = np.fromiter(
                (keys.setdefault(r.keys()[index], len(keys)) for r in self.routes),
                dtype=np.int64,
                count=len(self.routes),
            )
            self.level_keys.append(list(keys))
            self.level_ids.append(ids)

    def __len__(self) -> int:
        return len(self.routes)

    def visible(self, moment: float) -> int:
        """How many parcels were delivered strictly before ``moment`` (epoch seconds)."""
        return int(np.searchsorted(self.reveal, moment, side="left"))


def _countries(countries: Sequence[str] | None, count: int) -> np.ndarray:
    """Destination country codes as an array ("" for every parcel when not given)."""
    codes = [(c or "").upper() for c in countries] if countries is not None else [""] * count
    return np.asarray(codes, dtype=object)


def _with_weekday(
    features: Sequence[OrderFeatures] | None, anchor_days: np.ndarray
) -> list[OrderFeatures]:
    """``features`` (or none) with each parcel's anchor weekday filled in."""
    given = features if features is not None else [NO_FEATURES] * len(anchor_days)
    return [
        replace(f, weekday=str((EPOCH + timedelta(days=int(day))).weekday()))
        for f, day in zip(given, anchor_days, strict=True)
    ]


class InFlight:
    """Parcels that have started (their as-of moment passed) and may not be delivered yet.

    A live service knows them from its own orders and tracking: at any moment, each parcel started
    but not delivered says "transit is at least this long". That is what notices a slow month
    before its slow parcels arrive. The history CSV's walk-forward rule does not allow reading
    undelivered rows, so backtests use this only when asked to (``--in-flight``).
    """

    def __init__(
        self,
        *,
        routes: Sequence[Route],
        as_of_days: Sequence[int],
        anchor_days: Sequence[int],
        started: Sequence[float],
        delivered: Sequence[float | None],
        features: Sequence[OrderFeatures] | None = None,
        countries: Sequence[str] | None = None,
    ) -> None:
        self.routes = list(routes)
        self.countries = _countries(countries, len(self.routes))
        self.as_of_days = np.asarray(as_of_days, dtype=np.int64)
        self.anchor_days = np.asarray(anchor_days, dtype=np.int64)
        self.started = np.asarray(started, dtype=float)
        self.delivered = np.array([np.inf if d is None else d for d in delivered], dtype=float)
        self.features = _with_weekday(features, self.anchor_days)

    def __len__(self) -> int:
        return len(self.routes)

    def at(self, moment: float) -> np.ndarray:
        """Indices of the parcels started before ``moment`` and not delivered before it."""
        return np.nonzero((self.started < moment) & (self.delivered >= moment))[0]


def fit_histograms(
    observations: Observations, *, upto: int, as_of: date, params: ModelParams
) -> TransitModel:
    """Fit on the first ``upto`` observations (those delivered before the as-of moment)."""
    as_of_day = (as_of - EPOCH).days
    age = as_of_day - observations.anchor_days[:upto]
    weights = 0.5 ** (np.maximum(age, 0) / params.half_life_days)
    is_recent = (as_of_day - observations.delivered_days[:upto]) <= params.recent_days
    transit = observations.transit[:upto]
    nodes, weighted, counts, recent = [], [], [], []
    for index in range(len(LEVEL_NAMES)):
        ids = observations.level_ids[index][:upto]
        present, inverse = np.unique(ids, return_inverse=True)
        matrix = np.zeros((len(present), YMAX + 1))
        np.add.at(matrix, (inverse, transit), weights)
        keys = observations.level_keys[index]
        nodes.append({keys[i]: row for row, i in enumerate(present)})
        weighted.append(matrix)
        counts.append(np.bincount(inverse, minlength=len(present)))
        recent.append(
            np.bincount(inverse, weights=is_recent.astype(float), minlength=len(present)).astype(
                np.int64
            )
        )
    return TransitModel(
        params=params, as_of=as_of, nodes=nodes, weighted=weighted, counts=counts, recent=recent
    )


def learn_effects(model: TransitModel, observations: Observations, *, upto: int) -> FeatureEffects:
    """Order-feature effects from the first ``upto`` observations, against ``model``'s route medians.

    ``model`` is the plain route model (no drift, no effects) fitted on the same observations; only
    parcels that started within ``effect_history_days`` of its as-of day are used.
    """
    params = model.params
    as_of_day = (model.as_of - EPOCH).days
    rows = np.nonzero(observations.anchor_days[:upto] >= as_of_day - params.effect_history_days)[0]
    if params.effect_strength <= 0 or len(rows) == 0:
        return FeatureEffects()
    medians: dict[Route, int] = {}
    for i in rows:
        route = observations.routes[i]
        if route not in medians:
            medians[route] = quantile(np.cumsum(model.distribution(route)[0]), 0.5)
    typical = np.array([medians[observations.routes[i]] for i in rows])
    residuals = np.log1p(observations.transit[rows]) - np.log1p(typical)
    return fit_effects(
        [observations.features[i] for i in rows], residuals, strength=params.effect_strength
    )


class Fitter:
    """Fits models as of any day from one :class:`Observations`, with recalibration.

    The calibration pool of day ``d`` holds parcels whose as-of day lies in
    ``[d - lag - calibration_days, d - lag)`` and that were delivered before ``d``; ``lag`` is the
    98th percentile of as-of-to-delivery days, so nearly all parcels of that period have arrived
    and the pool is not biased towards the fast ones. Each parcel's score comes from the model as of
    its own as-of day, so scores are out of sample.

    Given the parcels still in flight (:class:`InFlight`, what the live service knows), the pool
    needs no lag: it is ``[d - calibration_days, d)``, with the waiting parcels as censored scores,
    and the drift scale is fitted on the complete recent cohort instead of the truncated one.
    """

    def __init__(
        self,
        observations: Observations,
        params: ModelParams,
        *,
        moment_of_day: Any,
        calendar: CarrierCalendar,
        in_flight: InFlight | None = None,
    ) -> None:
        self.observations = observations
        self.in_flight = in_flight
        self.calendar = calendar
        self.params = params
        self.moment_of_day = moment_of_day  # day number → epoch seconds of local midnight
        self._raw: dict[int, TransitModel] = {}
        self._pit: dict[int, tuple[float, float]] = {}
        self._effects: dict[int, FeatureEffects] = {}
        self._calibrated: dict[int, TransitModel] = {}

    def raw(self, day: int) -> TransitModel:
        model = self._raw.get(day)
        if model is None:
            upto = self.observations.visible(self.moment_of_day(day))
            model = fit_histograms(
                self.observations, upto=upto, as_of=EPOCH + timedelta(days=day), params=self.params
            )
            model = model.adjusted(effects=self.effects(day))
            model = model.adjusted(scale=self._drift(model, day, upto))
            if len(self._raw) > 400:
                self._raw.clear()
            self._raw[day] = model
        return model

    def model(self, day: int) -> TransitModel:
        """The calibrated model a daily refit at the start of ``day`` (local) would produce."""
        model = self._calibrated.get(day)
        if model is None:
            if len(self._calibrated) > 400:
                self._calibrated.clear()
            model = self._calibrated[day] = self._calibrate(day)
        return model

    def _calibrate(self, day: int) -> TransitModel:
        raw = self.raw(day)
        upto = self.observations.visible(self.moment_of_day(day))
        if upto == 0:
            return raw
        obs = self.observations
        lag = int(
            np.quantile(
                obs.delivered_days[:upto] - obs.as_of_days[:upto],
                self.params.calibration_lag_quantile,
            )
        )
        # With the parcels still waiting the pool is complete, so it need not lag behind.
        latest = day if self.in_flight is not None else day - lag
        earliest = latest - self.params.calibration_days
        members = np.nonzero(
            (obs.as_of_days[:upto] >= earliest) & (obs.as_of_days[:upto] < latest)
        )[0]
        scores = [self._score(int(i)) for i in members]
        lower = np.array([s[0] for s in scores])
        upper = np.array([s[1] for s in scores])
        waiting = self._waiting_scores(day, max(earliest, day - lag))
        return raw.adjusted(calibration=Calibration(lower, upper, waiting))

    def _waiting_scores(self, day: int, earliest: int) -> np.ndarray:
        """``F(c-1)`` of each parcel in flight at ``day`` with an as-of day from ``earliest``, under its own model.

        Parcels waiting longer than nearly all deliveries ever took (the calibration lag) are
        more likely lost or cancelled than slow, and are left out.
        """
        flight = self.in_flight
        if flight is None:
            return np.zeros(0)
        flying = flight.at(self.moment_of_day(day))
        flying = flying[flight.as_of_days[flying] >= earliest]
        return np.array(
            [
                self.raw(int(flight.as_of_days[i])).pit(
                    flight.routes[i], int(c), flight.features[i]
                )[0]
                for i, c in zip(flying, self._elapsed(flying, day), strict=True)
            ]
        )

    def effects(self, day: int) -> FeatureEffects:
        """The order-feature effects a refit at the start of ``day``'s period would learn."""
        start = day - day % max(self.params.effect_refit_days, 1)
        effects = self._effects.get(start)
        if effects is None:
            upto = self.observations.visible(self.moment_of_day(start))
            base = fit_histograms(
                self.observations,
                upto=upto,
                as_of=EPOCH + timedelta(days=start),
                params=self.params,
            )
            effects = self._effects[start] = learn_effects(base, self.observations, upto=upto)
        return effects

    def _drift(self, model: TransitModel, day: int, upto: int) -> float:
        obs = self.observations
        recent = np.nonzero(obs.anchor_days[:upto] >= day - self.params.drift_days)[0]
        flying = self._flying(day)
        if len(recent) + len(flying) < self.params.calibration_min:
            return 1.0
        pmfs = np.array(
            [model.distribution(obs.routes[i], obs.features[i])[0] for i in recent]
        ).reshape(-1, YMAX + 1)
        if self.in_flight is None:
            censor = self.calendar_days_to_censor(recent, day)
            return drift_scale(pmfs, obs.transit[recent], censor, self.params.drift_prior)
        flight = self.in_flight
        waiting = np.array(
            [model.distribution(flight.routes[i], flight.features[i])[0] for i in flying]
        )
        return drift_scale(
            pmfs,
            obs.transit[recent],
            None,
            self.params.drift_prior,
            waiting=waiting.reshape(len(flying), YMAX + 1),
            elapsed=self._elapsed(flying, day),
        )

    def _elapsed(self, flying: np.ndarray, day: int) -> np.ndarray:
        """Business days each in-flight parcel has already spent by ``day``: its transit is at least that."""
        assert self.in_flight is not None
        days = self.calendar.business_days_to_destinations(
            self.in_flight.countries[flying],
            self.in_flight.anchor_days[flying],
            np.full(len(flying), day),
        )
        clipped: np.ndarray = np.clip(days, 0, YMAX)
        return clipped

    def _flying(self, day: int) -> np.ndarray:
        """The in-flight parcels of the recent cohort at the start of ``day`` (none without tracking)."""
        if self.in_flight is None:
            return np.zeros(0, dtype=np.int64)
        flying = self.in_flight.at(self.moment_of_day(day))
        recent: np.ndarray = flying[
            self.in_flight.anchor_days[flying] >= day - self.params.drift_days
        ]
        return recent

    def calendar_days_to_censor(self, rows: np.ndarray, day: int) -> np.ndarray:
        """Business days from each row's anchor to the last day whose deliveries are visible."""
        obs = self.observations
        last = np.full(len(rows), day - 1, dtype=np.int64)
        censor = self.calendar.business_days_to_destinations(
            obs.countries[rows], obs.anchor_days[rows], last
        )
        clipped: np.ndarray = np.clip(np.maximum(censor, obs.transit[rows]), 0, YMAX)
        return clipped

    def _score(self, index: int) -> tuple[float, float]:
        score = self._pit.get(index)
        if score is None:
            obs = self.observations
            score = self.raw(int(obs.as_of_days[index])).pit(
                obs.routes[index], int(obs.transit[index]), obs.features[index]
            )
            self._pit[index] = score
        return score
