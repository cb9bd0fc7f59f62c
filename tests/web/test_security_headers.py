"""Security headers on every response, and the sign-in cookie's flags."""

from __future__ import annotations

import pytest

from postpurchase import create_app
from postpurchase.config import WebSecurity, settings_from_env
from postpurchase.db import get_db
from postpurchase.lookup import order_token


def _assert_security_headers(response) -> None:
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_pages_carry_the_security_headers(client, brand) -> None:
    response = client.get("/acme/track")
    assert response.status_code == 200
    _assert_security_headers(response)


def test_api_json_carries_the_security_headers(client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.is_json
    _assert_security_headers(response)


def test_error_responses_carry_the_security_headers(client) -> None:
    page = client.get("/nobody/track")
    api = client.get("/api/v1/orders/o-1")
    assert (page.status_code, api.status_code) == (404, 401)
    _assert_security_headers(page)
    _assert_security_headers(api)


def test_static_files_carry_the_security_headers(app, client, tmp_path) -> None:
    (tmp_path / "site.css").write_text("body { color: black; }")
    app.static_folder = str(tmp_path)
    response = client.get("/static/site.css")
    assert response.status_code == 200
    _assert_security_headers(response)


def test_pages_reached_by_a_signed_link_send_no_referrer(app, client, brand) -> None:
    token = order_token("test-secret", brand.brand_id, 1)
    assert client.get(f"/acme/track/{token}").headers["Referrer-Policy"] == "no-referrer"


def test_no_hsts_over_plain_http(client) -> None:
    assert "Strict-Transport-Security" not in client.get("/healthz").headers


@pytest.fixture
def https_app(app_config):
    app = create_app({**app_config, "BASE_URL": "https://track.example"})
    yield app
    get_db(app).dispose()


def test_hsts_when_the_base_url_is_https(https_app) -> None:
    response = https_app.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def _session_cookie(client) -> str:
    response = client.get("/merchant/login")
    return next(v for v in response.headers.getlist("Set-Cookie") if v.startswith("session="))


def test_sign_in_cookie_is_httponly_and_lax_and_not_secure_over_http(client) -> None:
    cookie = _session_cookie(client)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_sign_in_cookie_is_secure_when_the_base_url_is_https(https_app) -> None:
    assert "Secure" in _session_cookie(https_app.test_client())


def test_secure_cookie_setting_of_0_turns_it_off(app_config) -> None:
    app = create_app(
        {**app_config, "BASE_URL": "https://track.example", "SESSION_COOKIE_SECURE": "0"}
    )
    try:
        assert app.config["SESSION_COOKIE_SECURE"] is False
        assert "Secure" not in _session_cookie(app.test_client())
    finally:
        get_db(app).dispose()


@pytest.mark.parametrize(
    ("raw", "expected"), [("0", False), ("false", False), ("1", True), ("true", True), ("", False)]
)
def test_secure_cookie_setting_reads_words_and_digits(raw: str, expected: bool) -> None:
    values = settings_from_env({"POSTPURCHASE_SESSION_COOKIE_SECURE": raw})
    assert (
        WebSecurity.from_config(values).cookie_secure is expected
    )  # empty: as BASE_URL, http here


def test_a_misspelt_boolean_setting_is_an_error() -> None:
    with pytest.raises(ValueError, match="POSTPURCHASE_SESSION_COOKIE_SECURE"):
        settings_from_env({"POSTPURCHASE_SESSION_COOKIE_SECURE": "ture"})


def test_samesite_none_without_a_secure_cookie_is_an_error() -> None:
    with pytest.raises(ValueError, match="SESSION_COOKIE_SAMESITE"):
        WebSecurity.from_config({"BASE_URL": "http://x", "SESSION_COOKIE_SAMESITE": "None"})


def test_a_request_without_a_cookie_builds_no_session_signer(app, client, monkeypatch) -> None:
    @app.get("/test-session-value")
    def session_value() -> str:
        from flask import session

        return str(session.get("seen"))

    built: list[object] = []
    real = app.session_interface.get_signing_serializer

    def counting(flask_app):
        built.append(flask_app)
        return real(flask_app)

    monkeypatch.setattr(app.session_interface, "get_signing_serializer", counting)
    assert client.get("/healthz").status_code == 200
    assert built == []
    with client.session_transaction() as session:  # the signer writes the cookie
        session["seen"] = "yes"
    built.clear()
    assert client.get("/test-session-value").text == "yes"
    assert built  # a request with the cookie still reads it through the signer
