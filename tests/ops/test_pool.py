"""PostgreSQL connection pools are sized from the settings."""

from __future__ import annotations

from postpurchase import create_app
from postpurchase.db import get_db

NOWHERE = "postgresql+psycopg://nobody@127.0.0.1:9/none"


def test_pool_size_and_overflow_come_from_the_settings(app_config) -> None:
    app = create_app(
        {**app_config, "DATABASE_URL": NOWHERE, "DB_POOL_SIZE": 3, "DB_MAX_OVERFLOW": 2}
    )
    pool = get_db(app).engine.pool
    assert (pool.size(), pool._max_overflow) == (3, 2)


def test_pool_sizes_are_read_from_the_environment(app_config, monkeypatch) -> None:
    monkeypatch.setenv("POSTPURCHASE_DB_POOL_SIZE", "4")
    app = create_app({**app_config, "DATABASE_URL": NOWHERE})
    assert get_db(app).engine.pool.size() == 4
