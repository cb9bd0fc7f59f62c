"""Fixtures for the settings tests: a brand's merchant signed in, and reading a brand's settings."""

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
from postpurchase.models import Brand
from postpurchase.settings import operations

CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')
EMAIL, PASSWORD = "ops@acme.example", "correct horse"


@dataclass
class Merchant:
    client: FlaskClient
    csrf_token: str
    brand: NewBrand

    def post(self, path: str, data: dict[str, Any], **kwargs: Any) -> Any:
        return self.client.post(path, data={"csrf_token": self.csrf_token, **data}, **kwargs)


def sign_in(app: Flask, brand: NewBrand, email: str = EMAIL) -> Merchant:
    with app.app_context():
        s = get_db(app).session()
        add_merchant_user(session=s, brand_id=brand.brand_id, email=email, password=PASSWORD)
        s.commit()
        s.close()
    client = app.test_client()
    token = CSRF.search(client.get("/merchant/login").data).group(1).decode()  # type: ignore[union-attr]
    client.post("/merchant/login", data={"csrf_token": token, "email": email, "password": PASSWORD})
    token = CSRF.search(client.get("/merchant/settings/returns").data).group(1).decode()  # type: ignore[union-attr]
    return Merchant(client, token, brand)


@pytest.fixture
def merchant(app: Flask, brand: NewBrand) -> Merchant:
    return sign_in(app, brand)


@pytest.fixture
def settings_of(app: Flask) -> Callable[[int], dict[str, Any]]:
    """``settings_of(brand_id)``: the brand's whole settings document as stored now."""

    def read(brand_id: int) -> dict[str, Any]:
        with app.app_context():
            s = get_db(app).session()
            document = operations.document(s.get(Brand, brand_id))  # type: ignore[arg-type]
            s.close()
        return document

    return read
