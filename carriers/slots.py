"""Delivery time-slot grids (時間帯指定) of the Japanese carriers, as data.

Each slot has the hours it covers and a depot cut-off: the local time by which a parcel must
have reached the delivering depot (配達店・営業所) to go out in that slot the same day.

Where the values come from:

* The hours are the slots each carrier lets a customer request for its standard parcel service
  (Yamato 宅急便, Sagawa 飛脚宅配便, Japan Post ゆうパック), as written into this table in 2026.
  Carriers change their grids now and then; check the carrier's own service page when in doubt.
  No document is bundled with this table.
* The cut-offs are **assumptions, not published values**: the carriers do not publish them. We
  assume the van for a slot is loaded two hours before the slot begins (午前中: 07:00, when the
  morning sort ends); the constructed histories of ``bench/edd_slots.py`` use the same rule.
  A brand that knows its depots' real times overrides them per slot code in its settings
  (``edd.slot_cutoffs``, e.g. ``{"morning": "06:30"}``), and the routes' depot arrival in its
  lead-time file (``postpurchase edd leadtimes import``, column ``earliest_slot``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta


@dataclass(frozen=True, slots=True)
class Slot:
    """One requestable slot: its code (as stored on a shipment), hours and depot cut-off."""

    code: str
    start: time
    end: time
    cutoff: time

    def to_dict(self) -> dict[str, str]:
        return {
            "slot": self.code,
            "from": self.start.strftime("%H:%M"),
            "to": self.end.strftime("%H:%M"),
            "depot_cutoff": self.cutoff.strftime("%H:%M"),
        }


def _slot(code: str, start: int, end: int, cutoff: int) -> Slot:
    return Slot(code, time(start), time(end), time(cutoff))


MORNING = _slot("morning", 8, 12, 7)

#: Slot grids by carrier code, earliest slot first.
SLOT_GRIDS: dict[str, tuple[Slot, ...]] = {
    "yamato": (
        MORNING,
        _slot("14-16", 14, 16, 12),
        _slot("16-18", 16, 18, 14),
        _slot("18-20", 18, 20, 16),
        _slot("19-21", 19, 21, 17),
    ),
    "sagawa": (
        MORNING,
        _slot("12-14", 12, 14, 10),
        _slot("14-16", 14, 16, 12),
        _slot("16-18", 16, 18, 14),
        _slot("18-20", 18, 20, 16),
        _slot("19-21", 19, 21, 17),
    ),
    "japanpost": (
        MORNING,
        _slot("12-14", 12, 14, 10),
        _slot("14-16", 14, 16, 12),
        _slot("16-18", 16, 18, 14),
        _slot("18-20", 18, 20, 16),
        _slot("19-21", 19, 21, 17),
    ),
}


#: Every slot code of every grid.
SLOT_CODES: frozenset[str] = frozenset(s.code for grid in SLOT_GRIDS.values() for s in grid)


def slot_grid(carrier: str | None, cutoffs: Mapping[str, time] | None = None) -> tuple[Slot, ...]:
    """The carrier's slot grid, with the brand's own ``cutoffs`` (by slot code) over the defaults;
    empty for carriers without requestable slots."""
    grid = SLOT_GRIDS.get(carrier or "", ())
    if not cutoffs:
        return grid
    return tuple(replace(s, cutoff=cutoffs.get(s.code, s.cutoff)) for s in grid)


def find_slot(
    carrier: str | None, code: str | None, cutoffs: Mapping[str, time] | None = None
) -> Slot | None:
    """The slot ``code`` of the carrier's grid, or None (no slot asked for, or not offered)."""
    return next((s for s in slot_grid(carrier, cutoffs) if s.code == code), None)


def slot_day(depot_arrival: datetime, slot: Slot) -> date:
    """The day a parcel that reaches the depot at ``depot_arrival`` (local) goes out in ``slot``.

    At or before the slot's cut-off it makes the slot that day; after it, the next day.
    """
    day = depot_arrival.date()
    return day if depot_arrival.time() <= slot.cutoff else day + timedelta(days=1)
