"""Fixtures for privacy: a customer's whole story in a brand, and a session that shares nothing with requests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from privacy_helpers import EMAIL, NAME, PHONE, UNTIL_RETURN
from sqlalchemy import select
from sqlmodel import Session

from carriers.status import Status
from postpurchase.brands import NewBrand
from postpurchase.clock import utcnow
from postpurchase.db import get_db
from postpurchase.inbox import process_pending
from postpurchase.intake.examples import EXAMPLES
from postpurchase.messaging.catalogue import Trigger
from postpurchase.models import (
    CarrierResponse,
    Channel,
    Customer,
    Feedback,
    Order,
    OutboxMessage,
    Shipment,
    Suppression,
    TrackingEvent,
)


@pytest.fixture
def tell_story(app: Flask, post_event: Callable[..., Any]) -> Callable[..., int]:
    """``tell_story(brand)``: the published example customer buys, is written to, returns, rates; their customer id.

    Every brand told the story has a customer with the same email, phone and name.
    """

    def tell(who: NewBrand, *, comment: str = f"{NAME}です。とても良かった") -> int:
        for event_type in UNTIL_RETURN:
            response = post_event(EXAMPLES[event_type], as_brand=who)
            assert response.status_code == 202, (event_type, response.json)
        process_pending(app)
        with get_db(app).session() as s:
            customer = s.execute(
                select(Customer).where(Customer.brand_id == who.brand_id)
            ).scalar_one()
            order = s.execute(select(Order).where(Order.brand_id == who.brand_id)).scalar_one()
            shipment = (
                s.execute(select(Shipment).where(Shipment.brand_id == who.brand_id))
                .scalars()
                .first()
            )
            s.add(
                OutboxMessage(
                    brand_id=who.brand_id,
                    idempotency_key=f"{who.slug}:shipped",
                    trigger=Trigger.shipped,
                    channel=Channel.email,
                    customer_id=customer.id,
                    order_id=order.id,
                    shipment_id=shipment.id,
                    recipient=EMAIL,
                    subject=f"{NAME}様、発送しました",
                    body_text=f"{NAME}様\n{PHONE}",
                    body_html=f"<p>{NAME}様</p>",
                    payload={"customer_name": NAME},
                )
            )
            s.add(
                Feedback(
                    brand_id=who.brand_id,
                    order_id=order.id,
                    shipment_id=shipment.id,
                    customer_id=customer.id,
                    nps_score=9,
                    comment=comment,
                )
            )
            s.add(
                TrackingEvent(
                    brand_id=who.brand_id,
                    shipment_id=shipment.id,
                    occurred_at=utcnow(),
                    status=Status.in_transit,
                    description="荷物受付",
                    location="羽田",
                )
            )
            s.add(
                Suppression(
                    brand_id=who.brand_id,
                    channel=Channel.email,
                    address=EMAIL,
                    reason="unsubscribe",
                )
            )
            s.add(
                CarrierResponse(
                    brand_id=who.brand_id,
                    shipment_id=shipment.id,
                    carrier_code="yamato",
                    tracking_number=shipment.tracking_number or "",
                    source="poll",
                    payload={"signed_by": NAME},
                )
            )
            s.commit()
            return customer.id  # type: ignore[return-value]

    return tell


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """A session without an app context: the ``session`` fixture's context would share ``g`` with
    the test client's requests, and these tests post events as several brands."""
    with get_db(app).session() as s:
        yield s
