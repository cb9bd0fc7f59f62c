"""Fixtures for messaging: a shop with a customer, an order and a parcel; a real local SMTP server."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session

from carriers import registry
from carriers.base import Capabilities
from carriers.status import Status
from postpurchase.messaging.settings import MessagingSettings, messaging_settings
from postpurchase.models import Brand, Customer, Order, OrderLine, Shipment

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 12:00 JST, a Tuesday


@pytest.fixture(autouse=True)
def messaging_now(clock) -> None:
    """Messaging tests happen at :data:`NOW`: views and jobs stamp what they do with it."""
    clock.now = NOW


class _TestCarrier:
    code = "testpost"
    name = "Test Post"
    capabilities = Capabilities(
        tracking_url="https://track.testpost.example/{number}",
        redelivery_url="https://redeliver.testpost.example/?no={number}",
    )

    def track(self, numbers):  # pragma: no cover - not used by messaging
        return []

    def verify_webhook(self, headers, body):  # pragma: no cover
        return None

    def parse_webhook(self, body):  # pragma: no cover
        return []


@pytest.fixture(autouse=True)
def testpost_registered() -> Iterator[None]:
    """A carrier with known customer links, registered only while a messaging test runs."""
    registry.register("testpost")(lambda settings: _TestCarrier())
    yield
    registry.unregister("testpost")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """Messages a real aiosmtpd server accepted; ``reject`` maps a recipient to an SMTP error."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.reject: dict[str, str] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.reject:
            return self.reject[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def messaging(app) -> MessagingSettings:
    """What the app hands to messaging code (secret key, base URL, channels, templates)."""
    return messaging_settings(app)


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp_port: int) -> dict[str, Any]:
    app_config.update(
        {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp_port, "BASE_URL": "https://pp.example"}
    )
    return app_config


@pytest.fixture
def inbox(smtp_port: int) -> Iterator[Inbox]:
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    yield handler
    controller.stop()


SENDER = {
    "name": "Acme Coffee",
    "email": "hello@acme.example",
    "address": "東京都渋谷区1-2-3",
    "contact": "03-1234-5678",
}


@dataclass
class Shop:
    session: Session
    brand: Brand
    customer: Customer
    order: Order
    shipment: Shipment

    def configure(self, **messaging: Any) -> None:
        self.brand.settings = {
            **self.brand.settings,
            "messaging": {**self.brand.settings.get("messaging", {}), **messaging},
        }
        self.session.add(self.brand)
        self.session.flush()


@pytest.fixture
def make_shop(session: Session, brand) -> Callable[..., Shop]:
    """``make_shop(locale="ja", consent=..., lines=[...], **shipment_fields)`` builds one order and parcel."""
    counter = iter(range(1, 1000))

    def make(
        *,
        locale: str = "ja",
        email: str | None = "hanako@example.jp",
        phone: str | None = "090-1234-5678",
        line_user_id: str | None = None,
        consent: dict | None = None,
        attributes: dict | None = None,
        lines: list[dict] | None = None,
        customer: Customer | None = None,
        total: int = 4980,
        region: str = "東京都",
        **shipment: Any,
    ) -> Shop:
        n = next(counter)
        b = session.get(Brand, brand.brand_id)
        if not b.settings.get("messaging"):
            b.settings = {"messaging": {"sender": SENDER}}
            session.add(b)
        if customer is None:
            customer = Customer(
                brand_id=b.id,
                external_id=f"C{n}",
                email=email,
                phone=phone,
                line_user_id=line_user_id,
                name="山田 花子" if locale == "ja" else "Hanako Yamada",
                locale=locale,
                region=region,
                consent=consent or {},
                attributes=attributes or {},
            )
            session.add(customer)
            session.flush()
        order = Order(
            brand_id=b.id,
            external_id=f"O{n}",
            number=f"#10{n:02d}",
            customer_id=customer.id,
            placed_at=NOW - timedelta(hours=2),  # fresh: an order confirmation still helps
            total_amount=total,
            email=email,
            shipping_region=region,
        )
        session.add(order)
        session.flush()
        for i, line in enumerate(
            lines
            or [
                {
                    "sku": "KETTLE-1",
                    "name": "ドリップケトル",
                    "category": "coffee",
                    "unit_price": total,
                }
            ]
        ):
            session.add(OrderLine(brand_id=b.id, order_id=order.id, line_key=str(i), **line))
        fields = {
            "carrier_code": "testpost",
            "tracking_number": f"1234-{n:04d}",
            "status": Status.in_transit,
            "predicted_date": date(2026, 11, 25),
            "promised_date": date(2026, 11, 26),
            "shipped_at": NOW,
            **shipment,
        }
        parcel = Shipment(brand_id=b.id, order_id=order.id, external_id=f"S{n}", **fields)
        session.add(parcel)
        session.flush()
        return Shop(session, b, customer, order, parcel)

    return make
