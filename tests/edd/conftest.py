"""Factories for EDD tests: history rows on generated routes, and parcels in the database."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from postpurchase.edd.calendar import CarrierCalendar
from postpurchase.edd.history import HistoryRow

JP = CarrierCalendar(country="JP")


def delivered_row(
    shipment_id: str,
    *,
    ordered: datetime,
    business_days: int,
    region: str = "Osaka",
    postal_code: str = "530-0001",
    carrier: str = "yamato",
    origin: str = "TOKYO",
    handover_days: int = 0,
    category: str = "",
    cost: float | None = None,
) -> HistoryRow:
    """A parcel ordered at ``ordered`` (before any cut-off) delivered ``business_days`` later (JP)."""
    local_day = (ordered + timedelta(hours=9)).date()
    start = JP.roll_forward(local_day)
    delivered_day = JP.add_business_days(start, business_days)
    shipped_day = JP.add_business_days(start, min(handover_days, business_days))
    return HistoryRow(
        shipment_id=shipment_id,
        carrier=carrier,
        service="standard",
        origin_postal_code="",
        origin_region=origin,
        destination_postal_code=postal_code,
        destination_region=region,
        destination_country="JP",
        ordered_at=ordered,
        shipped_at=datetime.combine(shipped_day, datetime.min.time(), UTC) + timedelta(hours=8),
        delivered_at=datetime.combine(delivered_day, datetime.min.time(), UTC) + timedelta(hours=5),
        promised_at=None,
        category=category,
        cost=cost,
    )


@pytest.fixture
def history() -> Callable[..., list[HistoryRow]]:
    """``history(n, start=..., days=..., **route)``: ``n`` parcels, one order every 6 hours.

    ``days`` is an int (every parcel) or a callable ``rng -> int``.
    """

    def make(
        n: int,
        *,
        start: datetime = datetime(2026, 6, 1, 1, tzinfo=UTC),
        days: Any = 2,
        prefix: str = "p",
        seed: int = 7,
        **route: Any,
    ) -> list[HistoryRow]:
        rng = random.Random(seed)
        rows = []
        for i in range(n):
            transit = days(rng) if callable(days) else days
            rows.append(
                delivered_row(
                    f"{prefix}{i}",
                    ordered=start + timedelta(hours=6 * i),
                    business_days=transit,
                    **route,
                )
            )
        return rows

    return make


def local_date(moment: datetime) -> date:
    return (moment + timedelta(hours=9)).date()
