"""Fixtures for returns: a delivered order with an ordinary, a final-sale and a food line, stock, a centre."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session

from carriers.status import Status
from postpurchase.db import get_db
from postpurchase.models import (
    Brand,
    FulfillmentCentre,
    InventoryLevel,
    Order,
    OrderLine,
    Shipment,
)
from tests.conftest import PINNED_NOW

#: Delivered three days before the pinned moment every test runs at.
DELIVERED = PINNED_NOW - timedelta(days=3)


@dataclass(frozen=True)
class Shop:
    brand_id: int
    order_id: int
    tee: int  # TEE-M, 2 × ¥3,980, apparel; TEE-L in stock, TEE-S sold out
    sale: int  # final sale
    food: int  # category "food"


@pytest.fixture
def write(app: Flask) -> Callable[[Callable[[Session], Any]], Any]:
    """``write(fn)`` runs ``fn(session)`` in an app context and session of its own and commits, so no
    app context (``g``, cached locale, signed-in brand) outlives it into the test client's requests."""

    def run(fn: Callable[[Session], Any]) -> Any:
        with app.app_context():
            s = get_db(app).session()
            try:
                result = fn(s)
                s.commit()
                return result
            finally:
                s.close()

    return run


def add_delivered_order(
    s: Session,
    brand_id: int,
    *,
    number: str,
    email: str,
    lines: list[dict[str, Any]],
    **order_fields: Any,
) -> tuple[Order, list[OrderLine]]:
    """An order ``#number`` placed two days before :data:`DELIVERED`, its ``lines`` (OrderLine
    fields; keyed 1, 2, … in order) and one Yamato parcel ``s-<number>`` delivered at DELIVERED."""
    order = Order(
        brand_id=brand_id,
        external_id=f"o-{number}",
        number=f"#{number}",
        email=email,
        placed_at=DELIVERED - timedelta(days=2),
        **order_fields,
    )
    s.add(order)
    s.flush()
    added = [
        OrderLine(brand_id=brand_id, order_id=order.id, line_key=str(key), **fields)
        for key, fields in enumerate(lines, start=1)
    ]
    s.add_all(added)
    s.add(
        Shipment(
            brand_id=brand_id,
            order_id=order.id,
            external_id=f"s-{number}",
            carrier_code="yamato",
            status=Status.delivered,
            delivered_at=DELIVERED,
        )
    )
    s.flush()
    return order, added


@pytest.fixture
def shop(brand: Any, write: Callable[..., Any]) -> Shop:
    def build(s: Session) -> Shop:
        b = brand.brand_id
        s.add(
            FulfillmentCentre(
                brand_id=b,
                code="TKY1",
                name="東京物流センター",
                postal_code="135-0061",
                region="東京都",
            )
        )
        order, lines = add_delivered_order(
            s,
            b,
            number="1001",
            email="hanako@example.jp",
            lines=[
                {
                    "sku": "TEE-M",
                    "variant": "M",
                    "name": "Tシャツ M",
                    "category": "Apparel",
                    "quantity": 2,
                    "unit_price": 3980,
                },
                {"sku": "SALE-01", "name": "セール品", "unit_price": 1000, "final_sale": True},
                {"sku": "FOOD-01", "name": "ほうじ茶", "category": "food", "unit_price": 980},
            ],
            shipping_postal_code="150-0001",
            total_amount=9940,
        )
        s.add_all(
            [
                InventoryLevel(brand_id=b, sku="TEE-L", variant="L", fc_code="TKY1", available=5),
                InventoryLevel(brand_id=b, sku="TEE-S", variant="S", fc_code="TKY1", available=0),
            ]
        )
        s.flush()
        return Shop(
            brand_id=b, order_id=order.id, tee=lines[0].id, sale=lines[1].id, food=lines[2].id
        )  # type: ignore[arg-type]

    return write(build)


@pytest.fixture
def set_policy(write: Callable[..., Any]) -> Callable[..., None]:
    """``set_policy(brand_id, **returns_settings)`` stores ``Brand.settings["returns"]``."""

    def apply(brand_id: int, **settings: Any) -> None:
        def change(s: Session) -> None:
            brand = s.get(Brand, brand_id)
            brand.settings = {**(brand.settings or {}), "returns": settings}  # type: ignore[union-attr]
            s.add(brand)

        write(change)

    return apply


def later(days: float) -> datetime:
    return DELIVERED + timedelta(days=days)
