"""The slot effect on constructed Japanese histories (``bench/edd_slots.py`` and its test).

How a history is constructed (seeded, so every run gives the same figures):

- Each parcel goes by Yamato and asks for one slot of Yamato's grid (午前中, 14-16, 16-18,
  18-20, 19-21), drawn uniformly.
- It reaches the delivering depot on day ``D`` at a time drawn around the route's typical
  arrival ``typical`` (default 07:00, the 午前中 cut-off, as the lead-time table says for next-
  morning routes): normal with a standard deviation of ``spread_minutes`` (default 150), clipped
  to 03:00–21:00, so some parcels miss the morning cut-off and a few miss afternoon ones.
- It is delivered in its slot on ``D`` if it reached the depot by the slot's cut-off
  (:mod:`carriers.slots`: two hours before the slot starts, 07:00 for 午前中), else on ``D + 1``.

Three predictions are scored against the delivered day: slot-blind (``D``: what a model of
"days to the area" says), slot-aware from the route (the slot's day for an arrival at
``typical``), and slot-aware with the depot scan (the slot's day for the actual arrival).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from carriers.slots import slot_day, slot_grid

START = date(2026, 6, 1)


@dataclass(frozen=True, slots=True)
class Parcel:
    slot: str
    depot_arrival: datetime
    delivered: date


@dataclass(frozen=True, slots=True)
class Score:
    name: str
    mae_days: float
    exact: float


def constructed_history(
    n: int, *, seed: int = 17, typical: time = time(7), spread_minutes: float = 150
) -> list[Parcel]:
    """``n`` parcels as described in the module docstring."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible sample, not a secret)
    grid = slot_grid("yamato")
    parcels = []
    for i in range(n):
        slot = rng.choice(grid)
        day = START + timedelta(days=i % 120)
        minutes = typical.hour * 60 + typical.minute + rng.gauss(0, spread_minutes)
        minutes = min(max(minutes, 3 * 60), 21 * 60)
        arrival = datetime.combine(day, time()) + timedelta(minutes=round(minutes))
        parcels.append(Parcel(slot.code, arrival, slot_day(arrival, slot)))
    return parcels


def score_slots(parcels: list[Parcel], *, typical: time = time(7)) -> list[Score]:
    """Mean absolute error (days) and exact share of the three predictions."""
    grid = {s.code: s for s in slot_grid("yamato")}

    def blind(p: Parcel) -> date:
        return p.depot_arrival.date()

    def by_route(p: Parcel) -> date:
        return slot_day(datetime.combine(p.depot_arrival.date(), typical), grid[p.slot])

    def by_scan(p: Parcel) -> date:
        return slot_day(p.depot_arrival, grid[p.slot])

    scores = []
    for name, predict in (
        ("slot-blind", blind),
        ("slot-aware (route)", by_route),
        ("slot-aware (depot scan)", by_scan),
    ):
        errors = [abs((predict(p) - p.delivered).days) for p in parcels]
        scores.append(
            Score(
                name,
                round(sum(errors) / len(errors), 3),
                round(sum(e == 0 for e in errors) / len(errors), 3),
            )
        )
    return scores
