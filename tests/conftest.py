"""Fixtures: ``app``, ``client``, ``runner``, ``session``, ``brand`` factory, a controllable clock.

The database is SQLite by default (a fresh file per test, copied from one made with
``create_all`` once per run). With ``POSTPURCHASE_TEST_DATABASE_URL`` set to a PostgreSQL URL, the
same tests run there: the schema is created once per run and every table is emptied after each test.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from jinja2.bccache import Bucket, BytecodeCache
from sqlalchemy import TextClause, create_engine, make_url, text
from sqlmodel import Session, SQLModel
from werkzeug.routing import Rule

from postpurchase import clock as clock_source
from postpurchase import create_app
from postpurchase.brands import NewBrand, create_brand
from postpurchase.clock import utcnow
from postpurchase.db import Database, get_db

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


@pytest.fixture(scope="session")
def _sqlite_schema(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with every table, made once per run: each test starts from a copy of it,
    which costs a millisecond where ``create_all`` costs ~50 (a twentieth of the whole suite)."""
    path = tmp_path_factory.mktemp("schema") / "schema.db"
    database = Database(f"sqlite:///{path}")
    database.create_all()
    with database.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.dispose()
    return path


@cache
def _emptying_every_table() -> TextClause:
    """One round trip that empties every table and restarts every id sequence on PostgreSQL.

    ``DELETE`` children first rather than ``TRUNCATE ... CASCADE``: truncating 47 tables costs
    the server ~150 ms per test (new files for each), emptying them ~3 ms; the tables are small.
    """
    names = ", ".join(f"'{table.name}'" for table in reversed(SQLModel.metadata.sorted_tables))
    return text(
        f"""DO $$
        DECLARE name text;
        BEGIN
          FOREACH name IN ARRAY ARRAY[{names}] LOOP
            EXECUTE format('DELETE FROM %I', name);
          END LOOP;
          FOR name IN SELECT c.oid::regclass::text FROM pg_class c
                      JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE c.relkind = 'S' AND n.nspname = current_schema() LOOP
            PERFORM setval(name, 1, false);
          END LOOP;
        END $$"""
    )


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
        # scrypt costs ~0.2 s per hash and per check, most of some console tests' time
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
    }


class _MemoryBytecodeCache(BytecodeCache):
    """Jinja's compiled templates kept for every app of this test process: each test builds a
    new app, which would otherwise parse and compile each template it renders again (a tenth of
    the suite's time). The apps' Jinja environments are configured alike, so the code is too."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if (code := self.code.get(bucket.key)) is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


_BYTECODE = _MemoryBytecodeCache()


@pytest.fixture(scope="session", autouse=True)
def _url_builders_compiled_once() -> Iterator[None]:
    """Werkzeug compiles two URL builder functions per route for every new app (~110 routes:
    a fifth of the suite's time). A builder depends only on the rule's text, its parsed parts
    and its defaults, so the apps of one test process share them; routing and URL building run
    the very same functions werkzeug made."""
    original = Rule._compile_builder
    builders: dict[tuple[object, ...], Any] = {}

    def compile_builder(rule: Rule, append_unknown: bool = True) -> Any:
        defaults = tuple(sorted((k, repr(v)) for k, v in (rule.defaults or {}).items()))
        key = (append_unknown, rule.rule, tuple(rule._trace), defaults)
        if key not in builders:
            builders[key] = original(rule, append_unknown)
        return builders[key]

    Rule._compile_builder = compile_builder  # type: ignore[method-assign]
    yield
    Rule._compile_builder = original  # type: ignore[method-assign]


@pytest.fixture
def app(app_config: dict[str, Any], _sqlite_schema: Path) -> Iterator[Flask]:
    global _pg_schema_ready
    url = str(app_config["DATABASE_URL"])
    sqlite_file = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    if sqlite_file is not None and not sqlite_file.exists():
        sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_sqlite_schema, sqlite_file)
    app = create_app(app_config)
    app.jinja_env.bytecode_cache = _BYTECODE
    database = get_db(app)
    if not database.is_sqlite:
        if not _pg_schema_ready:
            with database.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            database.create_all()
            _pg_schema_ready = True
    else:
        database.create_all()  # nothing to do on a copy; a test's own database gets its tables
    yield app
    if not database.is_sqlite:
        with database.engine.begin() as conn:
            conn.execute(_emptying_every_table())
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the tests marked ``slow`` first: with several workers (``--dist worksteal``) none of
    them then starts last and keeps the run waiting while the other workers are idle."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
