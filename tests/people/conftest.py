"""Brands with people in every role, a real SMTP server catching the link emails, and signing in."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from postpurchase.accounts import add_merchant_user
from postpurchase.brands import NewBrand
from postpurchase.db import get_db
from postpurchase.models import Role
from tests.messaging.conftest import Inbox, inbox, smtp_port  # noqa: F401  (the real aiosmtpd server)

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK = re.compile(r"https://pp\.example(/merchant/\S+)")


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp_port: int) -> dict[str, Any]:  # noqa: F811
    app_config.update(
        {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp_port, "BASE_URL": "https://pp.example"}
    )
    return app_config


def csrf(client: FlaskClient, path: str = "/merchant/login") -> str:
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match, path
    return match.group(1)


@dataclass
class Shop:
    """Brand ``acme`` with an owner, a staff member and a read-only member; ``other`` with its owner."""

    app: Flask
    acme: NewBrand
    other: NewBrand

    def add_user(
        self, email: str, role: Role = Role.owner, brand: NewBrand | None = None, **fields: Any
    ) -> int:
        with self.app.app_context():
            s = get_db(self.app).session()
            user = add_merchant_user(
                session=s,
                brand_id=(brand or self.acme).brand_id,
                email=email,
                password=PASSWORD,
                role=role,
            )
            for name, value in fields.items():
                setattr(user, name, value)
            s.add(user)
            s.commit()
            user_id = user.id
            s.close()
        assert user_id is not None
        return user_id

    def sign_in(self, email: str, password: str = PASSWORD) -> FlaskClient:
        client = self.app.test_client()
        response = client.post(
            "/merchant/login",
            data={"csrf_token": csrf(client), "email": email, "password": password},
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        return client


@pytest.fixture
def shop(app: Flask, make_brand: Callable[..., NewBrand]) -> Shop:
    made = Shop(app, make_brand("acme", name="Acme Coffee"), make_brand("other", name="Other Tea"))
    made.add_user("owner@acme.example", Role.owner)
    made.add_user("staff@acme.example", Role.staff)
    made.add_user("viewer@acme.example", Role.read_only)
    made.add_user("owner@other.example", Role.owner, brand=made.other)
    return made


def link_in(inbox: Inbox, to: str) -> str:  # noqa: F811
    """The path of the one-time link in the last email to ``to``."""
    mails = [m for m in inbox.messages if m["To"] == to]
    assert mails, f"no email to {to}"
    match = LINK.search(mails[-1].get_content())
    assert match
    return match.group(1)
