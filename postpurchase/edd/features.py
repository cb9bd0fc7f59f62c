"""Order features that lengthen or shorten transit: shipping cost, weight, weekday, product category.

The route model says how long parcels take from here to there. Within a route, a parcel that cost
more to ship (heavier, bulkier, or going further inside a broad region) or a category that ships
from slow sellers is measurably slower. The effect of each feature is learned as the median of
``log(1 + transit) - log(1 + route median)`` per bin of that feature (numbers: deciles of the
brand's own history; categories: as written), shrunk towards "no effect" by ``n / (n + strength)``,
one feature after the other on what the previous ones left. The result is a multiplicative factor
on transit that a merchant can read ("shipping cost in the top tenth: ×1.18").

The weekday is that of the day the parcel starts moving (the business-day calendar already skips
weekends and holidays; this catches what is left, such as a slow Friday hand-over).

Which features to use was chosen by measurement (BENCHMARKS.md, olist): cost and category help;
the weekday is neutral there and kept for carriers where it is not; order value and item count did
not help, so they are not used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Numeric features, binned by deciles of the history; then categorical ones.
NUMERIC: tuple[str, ...] = ("cost", "weight_g")
CATEGORICAL: tuple[str, ...] = ("weekday", "category")
MISSING = ""


@dataclass(frozen=True, slots=True)
class OrderFeatures:
    """What is known about an order's contents when it is placed. Missing values are None / ""."""

    cost: float | None = None
    weight_g: float | None = None
    category: str = ""
    #: Weekday (0 = Monday) of the day the parcel starts moving; the model fills it in from the anchor.
    weekday: str = ""

    def value(self, name: str) -> float | str | None:
        found: float | str | None = getattr(self, name)
        return found

    def to_dict(self) -> dict[str, float | str | None]:
        """``dataclasses.asdict`` without its deep copies (the fields are plain values)."""
        return {
            "cost": self.cost,
            "weight_g": self.weight_g,
            "category": self.category,
            "weekday": self.weekday,
        }


NO_FEATURES = OrderFeatures()


@dataclass(frozen=True)
class FeatureEffects:
    """Fitted log-effects per feature bin; an empty instance has no effect."""

    edges: dict[str, list[float]] = field(default_factory=dict)
    effects: dict[str, dict[str, float]] = field(default_factory=dict)

    def bin(self, name: str, value: float | str | None) -> str:
        """The bin key of ``value`` for feature ``name`` ("" when unknown)."""
        if value is None or value == "":
            return MISSING
        if name in self.edges:
            return str(int(np.searchsorted(self.edges[name], float(value), side="right")))
        return str(value)

    def factors(self, features: OrderFeatures) -> dict[str, float]:
        """Each feature's multiplicative effect on transit for this order (only those ≠ 1)."""
        out = {}
        for name, table in self.effects.items():
            effect = table.get(self.bin(name, features.value(name)), 0.0)
            if effect:
                out[name] = round(float(np.exp(effect)), 3)
        return out

    def scale(self, features: OrderFeatures) -> float:
        """The combined factor: transit is multiplied by this for an order with ``features``."""
        return float(
            np.exp(
                sum(
                    table.get(self.bin(name, features.value(name)), 0.0)
                    for name, table in self.effects.items()
                )
            )
        )

    def to_dict(self) -> dict[str, Any]:
        return {"edges": self.edges, "effects": self.effects}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> FeatureEffects:
        if not data:
            return cls()
        return cls(
            edges={k: [float(x) for x in v] for k, v in data.get("edges", {}).items()},
            effects={
                k: {b: float(x) for b, x in v.items()} for k, v in data.get("effects", {}).items()
            },
        )


def fit_effects(
    features: Sequence[OrderFeatures],
    residuals: np.ndarray,
    *,
    strength: float,
    bins: int = 10,
    minimum: int = 100,
) -> FeatureEffects:
    """Learn per-bin effects from ``residuals`` (log transit over the route's median), one feature at a time.

    A feature known for fewer than ``minimum`` parcels is left out; so is a bin's effect that shrinks
    to nothing.
    """
    if strength <= 0 or len(features) < minimum:
        return FeatureEffects()
    remaining = np.asarray(residuals, dtype=float).copy()
    edges: dict[str, list[float]] = {}
    for name in NUMERIC:
        known = np.array(
            [v for v in (f.value(name) for f in features) if v is not None], dtype=float
        )
        if len(known) >= minimum:
            cuts = np.unique(np.quantile(known, np.linspace(0, 1, bins + 1)[1:-1]))
            edges[name] = [round(float(c), 4) for c in cuts]
    partial = FeatureEffects(edges=edges)
    effects: dict[str, dict[str, float]] = {}
    for name in (*edges, *CATEGORICAL):
        keys = [partial.bin(name, f.value(name)) for f in features]
        if sum(k != MISSING for k in keys) < minimum:
            continue
        table = _shrunk_medians(keys, remaining, strength)
        remaining = remaining - np.array([table.get(k, 0.0) for k in keys])
        if table:
            effects[name] = table
    return FeatureEffects(edges={k: v for k, v in edges.items() if k in effects}, effects=effects)


def _shrunk_medians(
    keys: Sequence[str], residuals: np.ndarray, strength: float
) -> dict[str, float]:
    groups: dict[str, list[float]] = {}
    for key, value in zip(keys, residuals, strict=True):
        groups.setdefault(key, []).append(float(value))
    table = {}
    for key, values in groups.items():
        effect = len(values) * float(np.median(values)) / (len(values) + strength)
        if abs(effect) >= 1e-3:
            table[key] = round(effect, 4)
    return table
