"""Merchant sign-in guards the merchant pages and shows only the user's own brand."""

from __future__ import annotations

import re

import pytest

from postpurchase import accounts, create_app
from postpurchase.accounts import add_merchant_user
from postpurchase.cli import users
from postpurchase.db import get_db
from tests.sql import another_process_can_write


def _add_user(
    app, brand_id: int, email: str = "ops@acme.example", password: str = "correct horse"
) -> None:
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
    response = client.post(
        "/merchant/login",
        data={"csrf_token": token, "email": "OPS@acme.example", "password": "correct horse"},
    )
    assert response.status_code == 302
    assert "Acme" in client.get("/merchant/").get_data(as_text=True)


def test_wrong_password_is_refused_in_the_page_language(app, client, brand) -> None:
    _add_user(app, brand.brand_id)
    token = _csrf(client.get("/merchant/login?lang=ja").data)
    response = client.post(
        "/merchant/login?lang=ja",
        data={"csrf_token": token, "email": "ops@acme.example", "password": "wrong"},
    )
    assert response.status_code == 401
    assert "パスワードが正しくありません" in response.get_data(as_text=True)


def test_form_without_csrf_token_is_rejected(client, brand) -> None:
    response = client.post("/merchant/login", data={"email": "x@example.com", "password": "x"})
    assert response.status_code == 400


@pytest.fixture
def few_failures(monkeypatch) -> int:
    """Throttle after 3 failures per email and per address (checking passwords is slow on purpose)."""
    monkeypatch.setattr(accounts, "FAILURES_PER_ACCOUNT", 3)
    monkeypatch.setattr(accounts, "FAILURES_PER_ADDRESS", 3)
    return 3


def _sign_in(
    client, email: str = "ops@acme.example", password: str = "correct horse", lang: str = "en"
):
    token = _csrf(client.get(f"/merchant/login?lang={lang}").data)
    return client.post(
        f"/merchant/login?lang={lang}",
        data={"csrf_token": token, "email": email, "password": password},
    )


def test_failed_sign_ins_of_one_email_are_refused_with_retry_after(app, client, brand) -> None:
    _add_user(app, brand.brand_id)
    assert [_sign_in(client, password="wrong").status_code for _ in range(10)] == [401] * 10
    response = _sign_in(client, password="wrong")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "900"
    assert "Too many attempts. Please try again in 15 minutes." in response.get_data(as_text=True)


def test_throttled_sign_in_says_so_in_japanese(app, client, brand, few_failures) -> None:
    _add_user(app, brand.brand_id)
    for _ in range(few_failures):
        _sign_in(client, password="wrong")
    response = _sign_in(client, password="wrong", lang="ja")
    assert "試行回数が多すぎます。15分後にもう一度お試しください。" in response.get_data(
        as_text=True
    )


def test_a_throttled_email_is_refused_even_with_the_right_password(
    app, client, brand, few_failures
) -> None:
    _add_user(app, brand.brand_id)
    for _ in range(few_failures):
        _sign_in(client, password="wrong")
    assert _sign_in(client).status_code == 429


def test_a_throttled_email_may_sign_in_again_after_the_window(
    app, client, brand, clock, few_failures
) -> None:
    _add_user(app, brand.brand_id)
    for _ in range(few_failures):
        _sign_in(client, password="wrong")
    clock.advance(minutes=15)
    assert _sign_in(client).status_code == 302


def test_signing_in_forgets_the_emails_failures(app, client, brand, monkeypatch) -> None:
    monkeypatch.setattr(accounts, "FAILURES_PER_ACCOUNT", 3)
    _add_user(app, brand.brand_id)
    for _ in range(2):
        _sign_in(client, password="wrong")
    assert _sign_in(client).status_code == 302
    assert [_sign_in(client, password="wrong").status_code for _ in range(2)] == [401] * 2


def test_one_address_guessing_many_emails_is_throttled(app, client, brand, few_failures) -> None:
    assert [_sign_in(client, email=f"guess{n}@acme.example").status_code for n in range(3)] == [
        401
    ] * 3
    assert _sign_in(client, email="guess9@acme.example").status_code == 429


def test_another_address_is_not_throttled_by_the_first(app, client, brand, few_failures) -> None:
    for n in range(3):
        _sign_in(client, email=f"guess{n}@acme.example")
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert _sign_in(elsewhere, email="guess9@acme.example").status_code == 401


def test_failures_are_shared_by_two_app_instances_on_one_database(
    app, app_config, client, brand, few_failures
) -> None:
    _add_user(app, brand.brand_id)
    other = create_app(app_config)
    try:
        for _ in range(few_failures):
            _sign_in(client, password="wrong")
        assert _sign_in(other.test_client(), password="wrong").status_code == 429
    finally:
        get_db(other).dispose()


def test_unknown_email_checks_a_password_hash_like_a_known_one(
    app, client, brand, monkeypatch
) -> None:
    _add_user(app, brand.brand_id)
    calls: list[str] = []
    real = accounts.check_password_hash

    def counting(pwhash: str, password: str) -> bool:
        calls.append(pwhash.split("$", 1)[0])
        return real(pwhash, password)

    monkeypatch.setattr(accounts, "check_password_hash", counting)
    assert _sign_in(client, email="nobody@acme.example", password="wrong").status_code == 401
    assert _sign_in(client, password="wrong").status_code == 401
    assert len(calls) == 2 and calls[0] == calls[1]


def test_a_cookie_saved_before_sign_out_no_longer_opens_merchant_pages(app, client, brand) -> None:
    _add_user(app, brand.brand_id)
    _sign_in(client)
    saved = client.get_cookie("session").value
    token = _csrf(client.get("/merchant/").data)
    client.post("/merchant/logout", data={"csrf_token": token})
    client.set_cookie("session", saved)
    assert client.get("/merchant/").status_code == 302


def test_a_cookie_saved_before_a_password_change_no_longer_opens_merchant_pages(
    app, client, runner, brand
) -> None:
    _add_user(app, brand.brand_id)
    _sign_in(client)
    result = runner.invoke(
        users,
        [
            "set-password",
            "--brand",
            "acme",
            "--email",
            "OPS@acme.example",
            "--password",
            "battery staple",
        ],
    )
    assert result.exit_code == 0, result.output
    assert client.get("/merchant/").status_code == 302


def test_the_new_password_signs_in_and_the_old_one_does_not(app, client, runner, brand) -> None:
    _add_user(app, brand.brand_id)
    runner.invoke(
        users,
        [
            "set-password",
            "--brand",
            "acme",
            "--email",
            "ops@acme.example",
            "--password",
            "battery staple",
        ],
    )
    assert _sign_in(client).status_code == 401
    assert _sign_in(client, password="battery staple").status_code == 302


def test_set_password_of_an_unknown_user_fails(runner, brand) -> None:
    result = runner.invoke(
        users,
        ["set-password", "--brand", "acme", "--email", "nobody@acme.example", "--password", "x"],
    )
    assert result.exit_code != 0 and "no merchant user" in result.output


def test_sign_in_holds_the_sqlite_write_lock_from_its_first_read(app, client, brand, monkeypatch):
    """A worker's commit between the sign-in's read and its write would otherwise make SQLite
    refuse the write at once ("database is locked": a WAL read cannot become a write)."""
    database = get_db(app)
    if not database.is_sqlite:
        pytest.skip("SQLite's locking; PostgreSQL has row locks")
    _add_user(app, brand.brand_id)
    others_could_write: list[bool] = []

    def authenticate(**kwargs):  # after the throttle's reads, before the sign-in's writes
        others_could_write.append(another_process_can_write(database.url))
        return real_authenticate(**kwargs)

    real_authenticate = accounts.authenticate
    monkeypatch.setattr(accounts, "authenticate", authenticate)
    token = _csrf(client.get("/merchant/login").data)
    response = client.post(
        "/merchant/login",
        data={"csrf_token": token, "email": "ops@acme.example", "password": "correct horse"},
    )
    assert response.status_code == 302
    assert others_could_write == [False]


def test_a_password_keeps_its_method_when_the_setting_changes(app, client, brand) -> None:
    app.config["PASSWORD_HASH_METHOD"] = "pbkdf2:sha256:1000"
    _add_user(app, brand.brand_id)
    app.config["PASSWORD_HASH_METHOD"] = "pbkdf2:sha512:2"
    with app.app_context():
        s = get_db(app).session()
        user = accounts.find_merchant_user(
            session=s, brand_id=brand.brand_id, email="ops@acme.example"
        )
        assert user is not None and user.password_hash.startswith("pbkdf2:sha256:1000$")
        s.close()
    assert _sign_in(client).status_code == 302


@pytest.mark.parametrize(
    "method", ["md5", "scrypt:1", "pbkdf2", "pbkdf2:nohash", "pbkdf2:sha256:x"]
)
def test_an_unknown_hash_method_stops_the_app_naming_the_setting(app_config, method) -> None:
    with pytest.raises(ValueError, match="PASSWORD_HASH_METHOD"):
        create_app({**app_config, "PASSWORD_HASH_METHOD": method})
