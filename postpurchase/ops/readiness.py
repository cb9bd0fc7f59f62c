"""Is this process ready for traffic: the database answers, its schema is at the migrations'
head, and (on PostgreSQL, where schedulers elect a leader) some process leads the scheduler."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from postpurchase import lease
from postpurchase.db import alembic_config, get_db

HEADS_KEY = "postpurchase.migration_heads"


@dataclass
class Readiness:
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(check["ok"] for check in self.checks.values())

    def as_json(self) -> dict[str, Any]:
        return {"status": "ready" if self.ready else "not_ready", "checks": self.checks}


def migration_heads(app: Flask) -> tuple[str, ...]:
    """The head revisions of the migrations shipped with the code (read once per app)."""
    heads: tuple[str, ...] | None = app.extensions.get(HEADS_KEY)
    if heads is None:
        from alembic.script import ScriptDirectory

        config = alembic_config(str(app.config["DATABASE_URL"]))
        heads = tuple(ScriptDirectory.from_config(config).get_heads())
        app.extensions[HEADS_KEY] = heads
    return heads


def readiness(app: Flask, *, now: datetime) -> Readiness:
    """Check the database, the schema revision and the scheduler leader at ``now``."""
    from alembic.runtime.migration import MigrationContext

    result = Readiness()
    database = get_db(app)
    try:
        with database.engine.connect() as connection:
            revision = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        result.checks["database"] = {"ok": False, "error": type(exc).__name__}
        return result
    result.checks["database"] = {"ok": True}
    heads = migration_heads(app)
    result.checks["migrations"] = {
        "ok": revision is not None and (revision,) == heads,
        "current": revision,
        "head": heads[0] if len(heads) == 1 else list(heads),
    }
    try:
        with database.session() as session:
            leader = lease.current(session=session, name=lease.SCHEDULER, now=now)
    except SQLAlchemyError as exc:
        result.checks["scheduler"] = {"ok": False, "error": type(exc).__name__}
        return result
    if leader is not None:
        result.checks["scheduler"] = {"ok": True, "leader": leader.holder}
    elif database.is_sqlite:
        # The embedded setup: one process, whose scheduler (if any) needs no election to be known.
        result.checks["scheduler"] = {"ok": True, "leader": None, "mode": "embedded"}
    else:
        result.checks["scheduler"] = {"ok": False, "leader": None}
    return result
