"""``/readyz``: 200 only when the database answers, the schema is at head and a leader is known."""

from __future__ import annotations

from datetime import timedelta

import pytest

from postpurchase import create_app, lease
from postpurchase.db import session_scope, upgrade
from tests.conftest import PG_URL


@pytest.fixture
def migrated_app(app_config, tmp_path):
    """An app on its own SQLite file, brought to head by the migrations (not ``create_all``)."""
    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    upgrade(url)
    return create_app({**app_config, "DATABASE_URL": url})


def test_readyz_is_200_when_migrated_and_embedded(migrated_app) -> None:
    response = migrated_app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.json["status"] == "ready"
    assert response.json["checks"]["scheduler"]["mode"] == "embedded"


def test_readyz_names_the_leader_when_one_holds_the_lease(migrated_app, clock) -> None:
    with session_scope(migrated_app) as session:
        lease.acquire(
            session=session,
            name=lease.SCHEDULER,
            holder="worker-1",
            now=clock.now,
            ttl=timedelta(seconds=15),
        )
    response = migrated_app.test_client().get("/readyz")
    assert response.json["checks"]["scheduler"] == {"ok": True, "leader": "worker-1"}


def test_readyz_is_503_when_migrations_are_not_at_head(client) -> None:
    # The test database is built from the models, without Alembic's revision table.
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["migrations"]["ok"] is False
    assert response.json["checks"]["migrations"]["current"] is None


def test_readyz_is_503_when_the_database_does_not_answer(app_config) -> None:
    app = create_app({**app_config, "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"] == {"database": {"ok": False, "error": "OperationalError"}}


@pytest.mark.skipif(not PG_URL, reason="leader election is required on PostgreSQL only")
def test_readyz_is_503_on_postgresql_while_no_process_leads(client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["scheduler"] == {"ok": False, "leader": None}


def test_healthz_answers_without_the_database(app_config) -> None:
    app = create_app({**app_config, "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"})
    assert app.test_client().get("/healthz").status_code == 200
