"""Personas: clusters of a brand's customer profiles, portrayed from their centroids.

Each customer is a point of RFM plus category and return behaviour, taken from the stored
:class:`~postpurchase.models.CustomerProfile`:

- ``recency_days`` — days since the last order; ``orders`` and ``spend`` (log-scaled before
  clustering, so one big spender does not make a cluster of their own);
- ``return_rate`` — returned units per unit bought;
- ``cat:<name>`` — the share of units bought in each of the brand's most common categories.

Features are standardised; k-means (scikit-learn, fixed seed, ten starts) is fitted for every k
from 2 to :data:`MAX_K` and the k with the highest mean silhouette is kept (the criterion). The
preferred channel is not a clustering feature: it describes a persona (its members' most common
choice) without splitting customers by a setting they rarely chose.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np
from sqlmodel import Session, select

from postpurchase.models import CustomerProfile, Persona

#: Personas are fitted with k from 2 to this; more is hard to act on.
MAX_K = 6
#: Categories that get a feature of their own (the brand's most bought).
TOP_CATEGORIES = 5
#: Fewest customers with an order that personas are learned from.
MIN_CUSTOMERS = 12
SEED = 0


class NotEnoughCustomers(ValueError):
    """Too few customers with orders to learn personas from."""


@dataclass(frozen=True)
class Space:
    """The feature space personas live in: names, standardisation, categories with a feature."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    categories: list[str]

    def standardise(self, raw: np.ndarray) -> np.ndarray:
        standardised: np.ndarray = (raw - np.array(self.mean)) / np.array(self.scale)
        return standardised


def top_categories(profiles: Sequence[CustomerProfile]) -> list[str]:
    totals: Counter[str] = Counter()
    for profile in profiles:
        totals.update(profile.categories or {})
    return [name for name, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))][
        :TOP_CATEGORIES
    ]


def raw_features(profile: CustomerProfile, categories: Sequence[str], now: datetime) -> list[float]:
    """The profile as a point, in the features' own units (before log and standardisation)."""
    recency = (now - profile.last_order_at).days if profile.last_order_at else 3650
    units = max(profile.units, 1)
    bought = profile.categories or {}
    return [
        float(max(recency, 0)),
        float(profile.order_count),
        float(profile.lifetime_spend),
        min(profile.returned_units / units, 1.0),
        *(bought.get(name, 0) / units for name in categories),
    ]


def feature_names(categories: Sequence[str]) -> list[str]:
    return ["recency_days", "orders", "spend", "return_rate", *(f"cat:{c}" for c in categories)]


def _logged(raw: np.ndarray) -> np.ndarray:
    """Recency, orders and spend on a log scale (the first three columns)."""
    out = raw.astype(float).copy()
    out[:, :3] = np.log1p(out[:, :3])
    return out


def nearest(space: Space, centres: dict[str, list[float]], raw: list[float]) -> str | None:
    """The key of the persona nearest to ``raw`` (a point of :func:`raw_features`)."""
    if not centres:
        return None
    point = space.standardise(_logged(np.array([raw]))[0])
    return min(centres, key=lambda key: (float(np.sum((point - np.array(centres[key])) ** 2)), key))


@dataclass(frozen=True)
class Fitted:
    space: Space
    #: Persona key → centroid in standardised units, centroid in own units, members' profile ids.
    centres: dict[str, list[float]]
    centroids: dict[str, dict[str, float]]
    members: dict[str, list[int]]
    channels: dict[str, str | None]
    silhouette: float
    #: Mean silhouette per k tried (the record of the choice).
    tried: dict[int, float]


def fit(profiles: Sequence[CustomerProfile], now: datetime) -> Fitted:
    """Cluster the profiles of customers with at least one order; :class:`NotEnoughCustomers` when
    fewer than :data:`MIN_CUSTOMERS` have one."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    buyers = [p for p in profiles if p.order_count > 0]
    if len(buyers) < MIN_CUSTOMERS:
        raise NotEnoughCustomers(
            f"{len(buyers)} customers with orders; personas need at least {MIN_CUSTOMERS}"
        )
    categories = top_categories(buyers)
    raw = np.array([raw_features(p, categories, now) for p in buyers])
    logged = _logged(raw)
    mean = logged.mean(axis=0)
    scale = logged.std(axis=0)
    scale[scale == 0] = 1.0
    points = (logged - mean) / scale
    tried: dict[int, float] = {}
    best: tuple[float, int, Any] | None = None
    distinct = len(np.unique(points, axis=0))
    for k in range(2, min(MAX_K, distinct - 1) + 1):
        model = KMeans(n_clusters=k, n_init=10, random_state=SEED).fit(points)
        score = float(silhouette_score(points, model.labels_))
        tried[k] = round(score, 4)
        if best is None or score > best[0] + 1e-9:
            best = (score, k, model)
    if best is None:
        raise NotEnoughCustomers("the customers' profiles are all alike; there is nothing to split")
    score, _, model = best
    # Keys by size (p1 the largest), so a refit of the same data gives the same names.
    labels = list(model.labels_)
    order = sorted(set(labels), key=lambda label: (-labels.count(label), label))
    names = feature_names(categories)
    centres: dict[str, list[float]] = {}
    centroids: dict[str, dict[str, float]] = {}
    members: dict[str, list[int]] = {}
    channels: dict[str, str | None] = {}
    for index, label in enumerate(order, start=1):
        key = f"p{index}"
        mask = np.array(labels) == label
        centres[key] = [round(float(v), 6) for v in model.cluster_centers_[label]]
        centroids[key] = {
            name: round(float(v), 4) for name, v in zip(names, raw[mask].mean(axis=0), strict=True)
        }
        members[key] = [int(p.id or 0) for p, m in zip(buyers, mask, strict=True) if m]
        chosen = Counter(
            p.preferred_channel
            for p, m in zip(buyers, mask, strict=True)
            if m and p.preferred_channel
        )
        channels[key] = chosen.most_common(1)[0][0] if chosen else None
    space = Space(names, [float(v) for v in mean], [float(v) for v in scale], categories)
    return Fitted(space, centres, centroids, members, channels, round(score, 4), tried)


class Frequency(StrEnum):
    repeat = "repeat"
    occasional = "occasional"
    once = "once"


class Returning(StrEnum):
    never = "never"
    sometimes = "sometimes"
    often = "often"


@dataclass(frozen=True)
class Portrait:
    """What a persona's centroid says about its customers, before it is put into words
    (:mod:`postpurchase.personas.wording`)."""

    frequency: Frequency
    #: The category most of their units are in; None: a mixed basket.
    category: str | None
    returning: Returning
    #: No order for over :data:`LAPSED_DAYS` days on average.
    lapsed: bool
    #: The channel most of them chose, if any did.
    channel: str | None


#: A persona whose customers' last order is this many days ago on average has lapsed.
LAPSED_DAYS = 180


def portrait(centroid: dict[str, float], channel: str | None) -> Portrait:
    """The persona's portrait from its centroid in the features' own units: how often they buy,
    what, whether they return, how lately, and the channel they prefer."""
    orders = centroid.get("orders", 0.0)
    if orders >= 2.5:
        frequency = Frequency.repeat
    elif orders < 1.5:
        frequency = Frequency.once
    else:
        frequency = Frequency.occasional
    shares = {k[4:]: v for k, v in centroid.items() if k.startswith("cat:")}
    top = max(sorted(shares), key=lambda name: shares[name], default=None)
    rate = centroid.get("return_rate", 0.0)
    if rate < 0.05:
        returning = Returning.never
    elif rate >= 0.3:
        returning = Returning.often
    else:
        returning = Returning.sometimes
    return Portrait(
        frequency=frequency,
        category=top if top is not None and shares[top] >= 0.5 else None,
        returning=returning,
        lapsed=centroid.get("recency_days", 0.0) > LAPSED_DAYS,
        channel=channel,
    )


def as_space(stored: dict[str, Any]) -> Space | None:
    if not stored.get("features"):
        return None
    return Space(
        list(stored["features"]),
        [float(v) for v in stored["mean"]],
        [float(v) for v in stored["scale"]],
        list(stored.get("categories") or []),
    )


def assigner(
    *, session: Session, brand_id: int, now: datetime
) -> Callable[[CustomerProfile], str | None]:
    """A function profile → persona key (None when the brand has no personas yet), for customers
    whose profile changed since the personas were fitted."""
    personas = list(
        session.exec(select(Persona).where(Persona.brand_id == brand_id).order_by(Persona.key))
    )
    space = as_space(personas[0].space) if personas else None
    if space is None:
        return lambda _profile: None
    centres = {p.key: list(p.space.get("centre") or []) for p in personas}

    def assign(profile: CustomerProfile) -> str | None:
        if profile.order_count == 0:
            return None
        return nearest(space, centres, raw_features(profile, space.categories, now))

    return assign
