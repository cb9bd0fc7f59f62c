"""Recording the SQL a piece of code runs, for tests that count statements or read their plans."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine


@dataclass(frozen=True)
class Statement:
    sql: str
    parameters: Any


@contextmanager
def recorded(
    engine: Engine, *, starting: str = "", containing: str = ""
) -> Iterator[list[Statement]]:
    """The statements run on ``engine`` inside the block whose SQL starts with ``starting``
    (ignoring case and leading space) and contains ``containing``."""
    seen: list[Statement] = []

    def record(_conn: Any, _cursor: Any, sql: str, parameters: Any, *_: Any) -> None:
        if sql.lstrip().upper().startswith(starting.upper()) and containing in sql:
            seen.append(Statement(sql, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def query_plan(connection: Connection, statement: Statement) -> str:
    """The database's plan for a recorded statement, on one line: SQLite's ``EXPLAIN QUERY PLAN``
    details, or PostgreSQL's ``EXPLAIN`` lines."""
    explain = "EXPLAIN QUERY PLAN " if connection.dialect.name == "sqlite" else "EXPLAIN "
    rows = connection.exec_driver_sql(explain + statement.sql, statement.parameters)
    return " ".join(str(row[-1]) for row in rows)


def another_process_can_write(database_url: str) -> bool:
    """Whether a writer outside this process could take SQLite's write lock right now (it tries
    ``BEGIN IMMEDIATE`` on a connection of its own, without waiting, and lets go)."""
    import sqlite3

    other = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()
    return True
