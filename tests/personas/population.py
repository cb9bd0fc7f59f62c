"""A seeded synthetic population with three kinds of customers the personas must find again."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlmodel import Session

from postpurchase.models import (
    Channel,
    Customer,
    Order,
    OrderLine,
    OutboxMessage,
    OutboxState,
    ReturnLine,
    ReturnRequest,
)
from tests.conftest import PINNED_NOW

#: Group → (customers, orders range, category, returns a unit of every order, channel they get).
GROUPS = {
    "tea": (14, (4, 7), "tea", False, Channel.line),
    "apparel": (12, (1, 2), "apparel", True, Channel.email),
    "coffee": (13, (2, 3), "coffee", False, Channel.email),
}


def seed_population(session: Session, brand_id: int, seed: int = 7) -> dict[int, str]:
    """Write the customers, orders, returns and messages; returns customer id → group."""
    rng = np.random.default_rng(seed)
    groups: dict[int, str] = {}
    number = 0
    for group, (count, (low, high), category, returns, channel) in GROUPS.items():
        for index in range(count):
            customer = Customer(brand_id=brand_id, external_id=f"pop-{group}-{index}", locale="ja")
            session.add(customer)
            session.flush()
            assert customer.id is not None
            groups[customer.id] = group
            for _ in range(int(rng.integers(low, high))):
                number += 1
                order = Order(
                    brand_id=brand_id,
                    external_id=f"pop-o{number}",
                    number=f"#P{number}",
                    customer_id=customer.id,
                    placed_at=PINNED_NOW - timedelta(days=int(rng.integers(5, 60))),
                    total_amount=int(rng.integers(2000, 6000)),
                )
                session.add(order)
                session.flush()
                assert order.id is not None
                sku = f"{category.upper()}-{int(rng.integers(1, 4))}"
                line = OrderLine(
                    brand_id=brand_id,
                    order_id=order.id,
                    line_key="1",
                    sku=sku,
                    category=category,
                    variant="M" if category == "apparel" else None,
                    quantity=int(rng.integers(1, 3)),
                )
                session.add(line)
                session.flush()
                if returns:
                    rma = ReturnRequest(
                        brand_id=brand_id, order_id=order.id, rma_number=f"R{number}"
                    )
                    session.add(rma)
                    session.flush()
                    assert rma.id is not None
                    session.add(
                        ReturnLine(
                            brand_id=brand_id,
                            return_id=rma.id,
                            sku=sku,
                            quantity=line.quantity,
                            reason_code="too_small",
                        )
                    )
                session.add(
                    OutboxMessage(
                        brand_id=brand_id,
                        idempotency_key=f"{brand_id}:delivered:o{order.id}:{channel}",
                        trigger="delivered",
                        channel=channel,
                        state=OutboxState.sent,
                        customer_id=customer.id,
                        order_id=order.id,
                    )
                )
    session.flush()
    return groups
