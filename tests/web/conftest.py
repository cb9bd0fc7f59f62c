"""Fixtures for walking the URL map: two brands with the same kinds of data, and a client signed in
as the second brand's merchant user."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from carriers.status import Status
from postpurchase import audit
from postpurchase.brands import NewBrand
from postpurchase.db import get_db
from postpurchase.lookup import order_token, return_token
from postpurchase.messaging import sink
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.optin import optin_token
from postpurchase.models import (
    Channel,
    Customer,
    LinkPurpose,
    Order,
    OrderLine,
    OutboxMessage,
    OutboxState,
    ReturnLine,
    ReturnPhoto,
    ReturnRequest,
    Role,
    Shipment,
)
from postpurchase.models.experiments import Experiment
from postpurchase.models.types import id_of
from postpurchase.people import links, operations
from postpurchase.returns.photos import photo_token
from postpurchase.tokens import make_token
from postpurchase.web.merchant import add_merchant_user
from tests.conftest import PINNED_NOW


@dataclass
class Tenant:
    """One brand's data: what its pages and API may show, and the ids and tokens that reach it."""

    brand: NewBrand
    name: str
    email: str
    customer_name: str
    order_number: str
    order_external_id: str
    tracking_number: str
    rma_number: str
    order_id: int = 0
    shipment_id: int = 0
    return_id: int = 0
    return_line_id: int = 0
    message_id: int = 0
    member_id: int = 0
    invitation_id: int = 0
    settings_change_id: int = 0
    experiment_id: int = 0
    customer_id: int = 0
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def markers(self) -> tuple[str, ...]:
        """Strings only this brand's data contains: none may appear on another brand's page."""
        return (
            self.name,
            self.email,
            self.customer_name,
            self.order_number,
            self.tracking_number,
            self.rma_number,
            f"owner@{self.brand.slug}.example",
            f"invitee@{self.brand.slug}.example",
        )

    def path_values(self, endpoint: str) -> dict[str, Any]:
        """Values for URL arguments that name this brand's things (``None`` when unknown)."""
        return {
            "shipment_id": self.shipment_id,
            "return_id": self.return_id,
            "line_id": self.return_line_id,
            "external_id": self.order_external_id,
            "token": self.tokens.get(endpoint),
            "action": "approve",
            "trigger": "shipped",
            "locale": "ja",
            "message_id": self.message_id,
            "member_id": self.member_id,
            "invitation_id": self.invitation_id,
            "entry_id": self.settings_change_id,
            "experiment_id": self.experiment_id,
            "customer_id": self.customer_id,
            "order_id": self.order_id,
            "logo": f"{'ab' * 32}.png",  # served only from the brand's own folder
        }


def _seed(app: Flask, s: Session, tenant: Tenant) -> None:
    b = tenant.brand.brand_id
    customer = Customer(
        brand_id=b,
        external_id=f"{tenant.brand.slug}-c1",
        email=tenant.email,
        name=tenant.customer_name,
        locale="ja",
    )
    s.add(customer)
    s.flush()
    tenant.customer_id = id_of(customer)
    order = Order(
        brand_id=b,
        external_id=tenant.order_external_id,
        number=tenant.order_number,
        customer_id=customer.id,
        email=tenant.email,
        shipping_name=tenant.customer_name,
        shipping_postal_code="150-0001",
        placed_at=PINNED_NOW - timedelta(days=6),
        total_amount=4980,
    )
    s.add(order)
    s.flush()
    s.add(
        OrderLine(
            brand_id=b,
            order_id=order.id,
            line_key="1",
            sku="TEE-M",
            name="Tシャツ M",
            quantity=1,
            unit_price=4980,
        )
    )
    shipment = Shipment(
        brand_id=b,
        order_id=order.id,
        external_id=f"{tenant.brand.slug}-s1",
        carrier_code="yamato",
        tracking_number=tenant.tracking_number,
        status=Status.delivered,
        shipped_at=PINNED_NOW - timedelta(days=5),
        delivered_at=PINNED_NOW - timedelta(days=3),
    )
    s.add(shipment)
    s.flush()
    rma = ReturnRequest(
        brand_id=b, order_id=order.id, rma_number=tenant.rma_number, refund_amount=4980
    )
    s.add(rma)
    s.flush()
    line = ReturnLine(brand_id=b, return_id=rma.id, sku="TEE-M", quantity=1)
    s.add(line)
    photo = ReturnPhoto(
        brand_id=b, return_id=rma.id, filename="0" * 32 + ".jpg", content_type="image/jpeg", size=1
    )
    s.add(photo)
    message_id = f"<{tenant.brand.slug}-1@{tenant.brand.slug}.example>"
    sent = OutboxMessage(
        brand_id=b,
        idempotency_key=f"{tenant.brand.slug}-test-1",
        trigger=Trigger.shipped,
        channel=Channel.email,
        state=OutboxState.sent,
        customer_id=customer.id,
        order_id=order.id,
        shipment_id=shipment.id,
        recipient=tenant.email,
        subject=f"{tenant.order_number} shipped",
        body_text=f"Dear {tenant.customer_name}",
        sent_at=PINNED_NOW,
        provider_id=message_id,
    )
    s.add(sent)
    s.flush()
    _caught(app, message_id, tenant)
    tenant.order_id, tenant.shipment_id, tenant.return_id = order.id, shipment.id, rma.id  # type: ignore[assignment]
    tenant.return_line_id = id_of(line)
    tenant.message_id = sent.id  # type: ignore[assignment]
    tenant.settings_change_id = audit.record(  # type: ignore[assignment]
        session=s,
        brand_id=b,
        actor="cli",
        action="settings.update",
        subject="returns.window_days",
        before=30,
        after=31,
    ).id
    experiment = Experiment(
        brand_id=b,
        name=f"{tenant.name} subject test",
        trigger=Trigger.delivered,
        variants=[{"key": "control", "weight": 50}, {"key": "B", "weight": 50}],
    )
    s.add(experiment)
    s.flush()
    tenant.experiment_id = experiment.id  # type: ignore[assignment]
    secret = str(app.config["SECRET_KEY"])
    people = _people(s, tenant, secret)
    tracking = order_token(secret, b, order.id)  # type: ignore[arg-type]
    returned = return_token(secret, b, rma.id)  # type: ignore[arg-type]
    tenant.tokens = {
        "customer.order_page": tracking,
        "returns_portal.start": tracking,
        "returns_portal.confirmation": returned,
        "returns_portal.label_pdf": returned,
        "returns_portal.choose_method": returned,
        "merchant_returns.photo": photo_token(secret, b, photo.id),  # type: ignore[arg-type]
        "messages_public.unsubscribe": make_token(
            secret, "unsubscribe", {"b": b, "ch": "email", "a": tenant.email}
        ),
        "messages_public.feedback": make_token(
            secret, "feedback", {"b": b, "o": order.id, "s": shipment.id, "c": customer.id}
        ),
        "messages_public.opened": make_token(secret, "open", {"m": sent.id}),
        "messages_public.clicked": make_token(
            secret, "click", {"m": sent.id, "u": f"https://{tenant.brand.slug}.example/"}
        ),
        "line_pages.start": optin_token(secret, b, order.id),  # type: ignore[arg-type]
        "line_pages.sms_optin": optin_token(secret, b, order.id),  # type: ignore[arg-type]
        **people,
    }


def _people(s: Session, tenant: Tenant, secret: str) -> dict[str, str]:
    """An owner, a pending invitation and a password-reset link of the brand."""
    b = tenant.brand.brand_id
    owner = add_merchant_user(
        session=s, brand_id=b, email=f"owner@{tenant.brand.slug}.example", password="pw"
    )
    tenant.member_id = operations.member_by_email(  # type: ignore[assignment]
        session=s, brand_id=b, email=owner.email
    ).membership.id
    invitation, invited = operations.invite(
        session=s,
        brand_id=b,
        email=f"invitee@{tenant.brand.slug}.example",
        role=Role.staff,
        actor="cli",
        secret_key=secret,
        now=PINNED_NOW,
    )
    tenant.invitation_id = invitation.id  # type: ignore[assignment]
    _link, reset = links.create(
        session=s,
        secret_key=secret,
        purpose=LinkPurpose.password_reset,
        email=owner.email,
        user_id=owner.id,
        now=PINNED_NOW,
    )
    return {
        "people_links.accept_invitation_page": invited,
        "people_links.reset_password_page": reset,
    }


def _caught(app: Flask, message_id: str, tenant: Tenant) -> None:
    """The email as the local sink stores it, so the mailbox has every brand's mail to (not) show."""
    message = EmailMessage()
    message["Message-ID"], message["To"] = message_id, tenant.email
    message["Subject"] = f"{tenant.order_number} shipped"
    message.set_content(f"Dear {tenant.customer_name}")
    folder = sink.mail_dir(app.instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{tenant.brand.slug}.eml").write_bytes(message.as_bytes())


@pytest.fixture
def tenants(app: Flask, make_brand: Callable[..., NewBrand]) -> tuple[Tenant, Tenant]:
    """Brands ``alpha`` (A) and ``beta`` (B), each with a customer, order, parcel, return, sent email."""
    a = Tenant(
        make_brand("alpha", name="Alpha Coffee Roasters"),
        "Alpha Coffee Roasters",
        "alpha.buyer@example.jp",
        "Alphonse Alpha",
        "#A-7001",
        "alpha-order-7001",
        "ALPHATRACK0001",
        "RMA-ALPHA-1",
    )
    b = Tenant(
        make_brand("beta", name="Beta Tea House"),
        "Beta Tea House",
        "beta.buyer@example.jp",
        "Bettina Beta",
        "#B-8001",
        "beta-order-8001",
        "BETATRACK0001",
        "RMA-BETA-1",
    )
    with app.app_context():
        s = get_db(app).session()
        for tenant in (a, b):
            _seed(app, s, tenant)
        add_merchant_user(
            session=s, brand_id=b.brand.brand_id, email="ops@beta.example", password="pw"
        )
        s.commit()
        s.close()
    return a, b


CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')


@dataclass
class SignedIn:
    client: FlaskClient
    csrf_token: str
    api_key: str


@pytest.fixture
def as_beta(app: Flask, tenants: tuple[Tenant, Tenant]) -> SignedIn:
    """A client signed in as brand B's merchant user, with B's form token and API key."""
    client = app.test_client()
    token = CSRF.search(client.get("/merchant/login").data).group(1).decode()  # type: ignore[union-attr]
    client.post(
        "/merchant/login", data={"csrf_token": token, "email": "ops@beta.example", "password": "pw"}
    )
    token = CSRF.search(client.get("/merchant/messages/").data).group(1).decode()  # type: ignore[union-attr]
    return SignedIn(client, token, tenants[1].brand.api_key)
