"""Fixtures: ``app``, ``client``, ``runner``, ``session``, ``brand`` factory, a controllable clock.

The database is SQLite by default (a fresh file per test). With ``POSTPURCHASE_TEST_DATABASE_URL``
set to a PostgreSQL URL, the same tests run there: the schema is created once per run and every
table is truncated after each test.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, make_url, text
from sqlmodel import Session, SQLModel

from postpurchase import clock as clock_source
from postpurchase import create_app
from postpurchase.brands import NewBrand, create_brand
from postpurchase.clock import utcnow
from postpurchase.db import get_db

#: Recorded public samples, copied into the repository (sources and licences in SOURCES.md there).
CONFORMANCE = Path(__file__).resolve().parent / "carriers" / "fixtures" / "conformance"


def _database_of_this_worker(url: str) -> str:
    """Under pytest-xdist each worker gets a database of its own on the same server
    (``<name>_gw0``, ``<name>_gw1``, created by :func:`_postgres_database`): the tests truncate
    every table after each test, which would wipe what another worker's test is using."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


PG_URL = _database_of_this_worker(os.environ.get("POSTPURCHASE_TEST_DATABASE_URL", ""))

_pg_schema_ready = False

pytest_plugins = ["tests.browser"]


@pytest.fixture(scope="session", autouse=True)
def _postgres_database() -> None:
    """Create this worker's PostgreSQL database if the server does not have it yet."""
    if not PG_URL:
        return
    url = make_url(PG_URL)
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
            ).first()
            if exists is None:
                conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    finally:
        server.dispose()


def _database_url(tmp_path: Path) -> str:
    return PG_URL or f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def app_config(tmp_path: Path) -> dict[str, Any]:
    """Overrides for ``create_app``; tests may change it before asking for ``app``."""
    return {
        "DATABASE_URL": _database_url(tmp_path),
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret",
        "SCHEDULER": False,
        "INBOX_INLINE": False,
        "TESTING": True,
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    global _pg_schema_ready
    app = create_app(app_config)
    database = get_db(app)
    if not database.is_sqlite:
        if not _pg_schema_ready:
            with database.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            database.create_all()
            _pg_schema_ready = True
    else:
        database.create_all()
    yield app
    if not database.is_sqlite:
        tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
        with database.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    database.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.app_context():
        s = get_db(app).session()
        try:
            yield s
        finally:
            s.close()


@pytest.fixture
def make_brand(app: Flask) -> Callable[..., NewBrand]:
    """Factory: ``make_brand(slug="acme", shopify_secret=None, **fields)`` commits a brand."""

    def make(slug: str = "acme", name: str | None = None, **kwargs: Any) -> NewBrand:
        with app.app_context():
            s = get_db(app).session()
            created = create_brand(session=s, slug=slug, name=name or slug.title(), **kwargs)
            s.commit()
            s.close()
        return created

    return make


@pytest.fixture
def brand(make_brand: Callable[..., NewBrand]) -> NewBrand:
    return make_brand("acme", shopify_secret="shpss_test_secret")


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """``X-Postpurchase-Signature`` value for ``body``."""
    t = int(utcnow().timestamp()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


@pytest.fixture
def post_event(client: FlaskClient, brand: NewBrand) -> Callable[..., Any]:
    """Post a signed generic event envelope for ``brand``; returns the response."""

    def post(
        envelope: dict[str, Any] | bytes,
        *,
        path: str = "/webhooks/wms",
        as_brand: NewBrand | None = None,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        who = as_brand or brand
        body = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
        all_headers = {
            "Authorization": f"Bearer {who.api_key}",
            "Content-Type": "application/json",
            "X-Postpurchase-Signature": sign(who.signing_secret, body, timestamp),
        }
        all_headers.update(headers or {})
        return client.post(path, data=body, headers=all_headers)

    return post


class Clock:
    """A clock tests move by hand: ``clock.now``, ``clock.advance(minutes=5)``."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


#: Where every test's clock starts: a Friday, 10:00 in Tokyo, not a holiday.
PINNED_NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock() -> Iterator[Clock]:
    """Every test runs on this clock: the app, its views, jobs and the test itself read it.

    Nothing in a test may depend on the machine's date, time of day or timezone; a test that
    needs another moment moves this clock (``clock.now = ...``, ``clock.advance(...)``).
    """
    pinned = Clock(PINNED_NOW)
    with clock_source.use(pinned):
        yield pinned


def conformance(relative: str) -> Path:
    return CONFORMANCE / relative
