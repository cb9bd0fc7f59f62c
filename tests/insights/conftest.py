"""Fixtures for insights: factories of delivered (or not) parcels with their orders, and of returns."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from sqlmodel import SQLModel

from carriers.status import Status
from postpurchase.db import get_db
from postpurchase.models import Order, ReturnLine, ReturnRequest, Shipment

#: 2026-11-02 10:00 JST, a Monday; the test periods are November 2026 in Asia/Tokyo.
MONDAY = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
NOVEMBER = {"start": date(2026, 11, 1), "end": date(2026, 11, 30)}


@pytest.fixture
def committed(app: Flask) -> Callable[..., None]:
    """``committed(*rows)`` adds rows in a session of its own, so no app context outlives the call.

    Page tests need that: a test-wide app context would share ``g`` (and the cached locale) between
    the test client's requests.
    """

    def commit(*rows: SQLModel) -> None:
        with app.app_context():
            s = get_db(app).session()
            for row in rows:
                s.add(row)
                s.flush()
            s.commit()
            s.close()

    return commit


@pytest.fixture
def add_parcel(committed: Callable[..., None]) -> Callable[..., int]:
    """``add_parcel(brand_id, shipped_at=..., delivered_at=..., cost=..., total=..., **fields)`` commits one parcel.

    Each call makes its own order unless ``order_id`` is given, so order spend is easy to follow;
    returns the order id.
    """
    counter = iter(range(1, 10_000))

    def add(
        brand_id: int,
        *,
        shipped_at: datetime = MONDAY,
        delivered_at: datetime | None = None,
        cost: int | None = None,
        cost_currency: str = "JPY",
        total: int = 5000,
        order_id: int | None = None,
        **fields: Any,
    ) -> int:
        number = next(counter)
        if order_id is None:
            order = Order(
                brand_id=brand_id,
                external_id=f"o{number}",
                number=f"#{number}",
                placed_at=shipped_at,
                total_amount=total,
            )
            committed(order)
            order_id = order.id
        fields.setdefault("carrier_code", "yamato")
        committed(
            Shipment(
                brand_id=brand_id,
                order_id=order_id,
                external_id=f"s{number}",
                shipped_at=shipped_at,
                delivered_at=delivered_at,
                cost_amount=cost,
                cost_currency=cost_currency if cost else None,
                status=Status.delivered if delivered_at else Status.in_transit,
                **fields,
            )
        )
        return order_id

    return add


@pytest.fixture
def add_return(committed: Callable[..., None]) -> Callable[..., None]:
    """``add_return(brand_id, order_id, created_at=..., lines=[(reason_code, quantity), ...])`` commits one return."""
    counter = iter(range(1, 10_000))

    def add(
        brand_id: int, order_id: int, *, lines: list[tuple[str, int]], created_at: datetime = MONDAY
    ) -> None:
        request = ReturnRequest(
            brand_id=brand_id,
            order_id=order_id,
            rma_number=f"R{next(counter)}",
            created_at=created_at,
        )
        committed(request)
        committed(
            *(
                ReturnLine(
                    brand_id=brand_id,
                    return_id=request.id,
                    sku=f"SKU-{reason}",
                    quantity=quantity,
                    reason_code=reason,
                )
                for reason, quantity in lines
            )
        )

    return add
