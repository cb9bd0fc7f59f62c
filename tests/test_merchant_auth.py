"""Merchant sign-in guards the merchant pages and shows only the user's own brand."""

from __future__ import annotations

import re

from postpurchase.db import get_db
from postpurchase.web.merchant import add_merchant_user


def _add_user(app, brand_id: int, email: str = "ops@acme.example", password: str = "correct horse") -> None:
    with app.app_context():
        s = get_db(app).session()
        add_merchant_user(session=s, brand_id=brand_id, email=email, password=password)
        s.commit()
        s.close()


def _csrf(page: bytes) -> str:
    match = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1).decode()


def test_merchant_home_redirects_to_sign_in(client) -> None:
    response = client.get("/merchant/")
    assert response.status_code == 302
    assert "/merchant/login" in response.headers["Location"]


def test_sign_in_with_right_password_shows_own_brand(app, client, brand) -> None:
    _add_user(app, brand.brand_id)
    token = _csrf(client.get("/merchant/login").data)
    response = client.post("/merchant/login", data={"csrf_token": token, "email": "OPS@acme.example",
                                                    "password": "correct horse"})
    assert response.status_code == 302
    assert "Acme" in client.get("/merchant/").get_data(as_text=True)


def test_wrong_password_is_refused_in_the_page_language(app, client, brand) -> None:
    _add_user(app, brand.brand_id)
    token = _csrf(client.get("/merchant/login?lang=ja").data)
    response = client.post("/merchant/login?lang=ja", data={"csrf_token": token, "email": "ops@acme.example",
                                                            "password": "wrong"})
    assert response.status_code == 401
    assert "パスワードが正しくありません" in response.get_data(as_text=True)


def test_form_without_csrf_token_is_rejected(client, brand) -> None:
    response = client.post("/merchant/login", data={"email": "x@example.com", "password": "x"})
    assert response.status_code == 400
