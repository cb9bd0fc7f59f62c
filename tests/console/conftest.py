"""A brand with parcels in every kind of trouble, and a client signed in as its merchant user."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from carriers.status import Status
from postpurchase.brands import NewBrand
from postpurchase.db import get_db
from postpurchase.models import Customer, Order, Shipment, TrackingEvent
from postpurchase.web.merchant import add_merchant_user
from tests.conftest import PINNED_NOW

#: The pinned clock's local date in Tokyo: Friday 20 November 2026.
TODAY = date(2026, 11, 20)


@dataclass
class Shop:
    brand: NewBrand
    order_id: int = 0
    #: Parcel ids by name: ``fine``, ``late``, ``failed``, ``stalled``, ``exception``, ``delivered``.
    parcels: dict[str, int] = field(default_factory=dict)


def _parcel(s: Session, brand_id: int, order_id: int, name: str, **fields: Any) -> Shipment:
    values: dict[str, Any] = {
        "shipped_at": PINNED_NOW - timedelta(days=2),
        "last_event_at": PINNED_NOW - timedelta(hours=5),
        "status": Status.in_transit,
        **fields,
    }
    shipment = Shipment(
        brand_id=brand_id,
        order_id=order_id,
        external_id=f"s-{name}",
        carrier_code="yamato",
        tracking_number=f"4000-{name.upper()}",
        **values,
    )
    s.add(shipment)
    s.flush()
    return shipment


@pytest.fixture
def shop(app: Flask, make_brand: Callable[..., NewBrand]) -> Shop:
    made = Shop(make_brand("acme", name="Acme Tea"))
    b = made.brand.brand_id
    with app.app_context():
        s = get_db(app).session()
        customer = Customer(
            brand_id=b, external_id="c1", email="Hanako@Example.jp", phone="090-1234-5678"
        )
        s.add(customer)
        s.flush()
        order = Order(
            brand_id=b,
            external_id="o1",
            number="#1001",
            customer_id=customer.id,
            placed_at=PINNED_NOW - timedelta(days=4),
        )
        s.add(order)
        s.flush()
        made.order_id = order.id  # type: ignore[assignment]
        hours = timedelta(hours=1)
        parcels = {
            "fine": _parcel(s, b, order.id, "fine", promised_date=TODAY + timedelta(days=1)),  # type: ignore[arg-type]
            "late": _parcel(s, b, order.id, "late", promised_date=TODAY - timedelta(days=2)),  # type: ignore[arg-type]
            "failed": _parcel(
                s,
                b,
                order.id,  # type: ignore[arg-type]
                "failed",
                status=Status.attempt_fail,
                status_changed_at=PINNED_NOW - 30 * hours,
            ),
            "stalled": _parcel(
                s,
                b,
                order.id,  # type: ignore[arg-type]
                "stalled",
                shipped_at=PINNED_NOW - timedelta(days=9),
                last_event_at=PINNED_NOW - timedelta(days=6),
            ),
            "exception": _parcel(
                s,
                b,
                order.id,  # type: ignore[arg-type]
                "exception",
                status=Status.exception,
                status_changed_at=PINNED_NOW - 3 * hours,
            ),
            "delivered": _parcel(
                s,
                b,
                order.id,  # type: ignore[arg-type]
                "delivered",
                status=Status.delivered,
                promised_date=TODAY - timedelta(days=1),
                delivered_at=PINNED_NOW - 30 * hours,
            ),
        }
        for name, status in (("failed", Status.attempt_fail), ("exception", Status.exception)):
            s.add(
                TrackingEvent(
                    brand_id=b,
                    shipment_id=parcels[name].id,  # type: ignore[arg-type]
                    occurred_at=PINNED_NOW - 3 * hours,
                    status=status,
                    description="不在持戻" if status == Status.attempt_fail else "住所不明",
                )
            )
        add_merchant_user(session=s, brand_id=b, email="ops@acme.example", password="pw")
        s.commit()
        made.parcels = {name: p.id for name, p in parcels.items()}  # type: ignore[misc]
        s.close()
    return made


CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')


@dataclass
class Merchant:
    client: FlaskClient
    csrf_token: str


@pytest.fixture
def merchant(app: Flask, shop: Shop) -> Merchant:
    client = app.test_client()
    token = CSRF.search(client.get("/merchant/login").data).group(1).decode()  # type: ignore[union-attr]
    client.post(
        "/merchant/login", data={"csrf_token": token, "email": "ops@acme.example", "password": "pw"}
    )
    # Signing in starts a new session, with a new form token.
    token = CSRF.search(client.get("/merchant/shipments").data).group(1).decode()  # type: ignore[union-attr]
    return Merchant(client, token)
