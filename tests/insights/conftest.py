"""Fixtures for insights: a factory of delivered (or not) parcels with their orders."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlmodel import Session

from postpurchase.models import Order, Shipment, ShipmentStatus

#: 2026-11-02 10:00 JST, a Monday; the test periods are November 2026 in Asia/Tokyo.
MONDAY = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
NOVEMBER = {"start": date(2026, 11, 1), "end": date(2026, 11, 30)}


@pytest.fixture
def add_parcel(session: Session) -> Callable[..., Shipment]:
    """``add_parcel(brand_id, shipped_at=..., delivered_at=..., cost=..., total=..., **fields)`` commits one parcel.

    Each call makes its own order unless ``order`` is given, so order spend is easy to follow.
    """
    counter = iter(range(1, 10_000))

    def add(brand_id: int, *, shipped_at: datetime = MONDAY, delivered_at: datetime | None = None,
            cost: int | None = None, total: int = 5000, order: Order | None = None, **fields: Any) -> Shipment:
        number = next(counter)
        if order is None:
            order = Order(brand_id=brand_id, external_id=f"o{number}", number=f"#{number}", placed_at=shipped_at,
                          total_amount=total)
            session.add(order)
            session.flush()
        fields.setdefault("carrier_code", "yamato")
        shipment = Shipment(brand_id=brand_id, order_id=order.id, external_id=f"s{number}", shipped_at=shipped_at,
                            delivered_at=delivered_at, cost_amount=cost, cost_currency="JPY" if cost else None,
                            status=ShipmentStatus.delivered if delivered_at else ShipmentStatus.in_transit,
                            **fields)
        session.add(shipment)
        session.commit()
        return shipment

    return add
