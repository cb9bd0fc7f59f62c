"""SQLite: accepted events are stored in a file of their own, so accepting never waits for processing.

SQLite has one write lock per database file. With the inbox in the main file, every webhook's
INSERT queued behind the unit of work that was applying earlier events (tens of milliseconds),
so accepting could not run faster than processing. Here the accept path commits the event to the
spool (a second SQLite file next to the database, with its own lock) and answers; the next unit of
work moves what the spool holds into the inbox (:func:`drain`) under the main write lock it holds
anyway, and only then deletes it from the spool.

Nothing is lost or doubled across a crash between those two commits: an event keeps its id from
the spool to the inbox, so a second move finds it already there and only deletes it from the
spool; the inbox's unique key still refuses a second delivery of one event. The spool's ids
continue the inbox's (``AUTOINCREMENT``, raised to the inbox's largest id at every move), so ids
stay in order of arrival and the id a sender was answered with is the event's id in the inbox.
Every webhook route stores through :func:`postpurchase.inbox.accept`, so while a spool exists
nothing else gives inbox ids; should something still write there directly (the demo's import),
a spooled event whose id was taken meanwhile gets a new one when it is moved.

Every spool connection has the main file attached (as :data:`INBOX_SCHEMA`), so the accept path
checks both files for an earlier delivery and stores the event in one statement on one connection.
Its transaction begins deferred, not ``BEGIN IMMEDIATE``: that would take the write lock of every
attached file, the main one included. The spool's own lock serializes its writers instead, and
the statement only ever writes the spool (the main file is read in a snapshot).

PostgreSQL needs none of this: an INSERT there waits for no other transaction.

The spool's table is created from :data:`COLUMNS`, not migrated: it holds events for
milliseconds, and the README asks for it to be emptied before ``postpurchase db upgrade``. A
migration that changes one of those inbox columns must still find the spool empty or move it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import (
    Column,
    Index,
    MetaData,
    Table,
    UniqueConstraint,
    bindparam,
    delete,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from postpurchase.db import Database, FileWriteLock, get_db
from postpurchase.models import InboxEvent
from postpurchase.models.types import table_of

#: What storing an accepted event writes (the id aside); the rest of the inbox row is
#: processing state.
STORED = (
    "brand_id",
    "source",
    "external_id",
    "event_type",
    "occurred_at",
    "body_sha256",
    "raw_body",
    "headers",
    "signature_ok",
    "state",
    "attempts",
    "received_at",
    "processed_at",
)
#: The spool's columns: the id the sender was answered with, and what was stored.
COLUMNS = ("id", *STORED)
#: Events moved per statement (SQLite's limit on bound parameters is 32,766).
DRAIN_CHUNK = 500
#: Events a unit of work moves at most: after a burst, the first unit of work moving ten
#: thousand events would hold the write lock as long as processing a few hundred.
MOVE_PER_UNIT = 1_000

#: The schema name of the main file on every spool connection.
INBOX_SCHEMA = "inbox_db"
#: The inbox as a spool connection sees it (in the attached main file).
attached_inbox = table_of(InboxEvent).to_metadata(MetaData(), schema=INBOX_SCHEMA)

_metadata = MetaData()
spooled = Table(
    "spooled_event",
    _metadata,
    *[
        Column(name, table_of(InboxEvent).c[name].type, primary_key=name == "id")
        for name in COLUMNS
    ],
    UniqueConstraint("brand_id", "source", "external_id"),
    Index("ix_spooled_event_body", "body_sha256"),
    sqlite_autoincrement=True,  # ids are never reused after a drain deletes the rows
)


class Spool:
    """The spool of one SQLite database: a file next to it, with its own write lock."""

    def __init__(self, path: Path, main: Engine) -> None:
        self.path = path
        self.lock = FileWriteLock(path.with_name(path.name + ".lock"))
        self._main = weakref.ref(main)  # the spool lives as long as the main engine, not longer

    @property
    def main(self) -> Engine:
        main = self._main()
        assert main is not None, "the spool of a database that was let go"
        return main

    @cached_property
    def database(self) -> Database:
        """The spool's database, created on first use; its ids start above the inbox's.

        Every web process and worker gets here on its first webhook or unit of work: creating
        the file and its table takes the spool's lock, or SQLite refuses all but one of them
        ("database is locked", not waited for)."""
        spool = Database(f"sqlite:///{self.path}")
        event.listen(spool.engine, "connect", _attach(Path(str(self.main.url.database)).resolve()))
        with self.main.connect() as main:
            floor = int(main.execute(_LARGEST_INBOX_ID).scalar() or 0)
        with self.lock.hold():
            _metadata.create_all(spool.engine)
            with spool.engine.begin() as connection:
                _raise_sequence(connection, floor)
        return spool

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction on the spool, holding its lock (deferred: see the module)."""
        engine = self.database.engine  # created before the lock is taken: creating takes it
        with self.lock.hold(), engine.connect() as connection, connection.begin():
            yield connection

    def waiting(self) -> tuple[int, datetime | None]:
        """How many accepted events wait in the spool (not yet in the inbox), and when the oldest
        of them was received."""
        if not self.path.exists():
            return 0, None
        with self.database.engine.connect() as connection:
            count, oldest = connection.execute(
                select(func.count(), func.min(spooled.c.received_at))
            ).one()
        return int(count), oldest


def _attach(main: Path) -> Callable[[Any, Any], None]:
    """A connect listener attaching ``main`` as :data:`INBOX_SCHEMA` (after the pragmas, outside
    any transaction, where SQLite allows it)."""

    def attach(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"ATTACH DATABASE ? AS {INBOX_SCHEMA}", (str(main),))

    return attach


_spools: weakref.WeakKeyDictionary[Engine, Spool] = weakref.WeakKeyDictionary()


def spool_at(main: Engine) -> Spool | None:
    """The spool of a SQLite file database, whether or not anything was spooled yet; None for
    PostgreSQL and in-memory SQLite."""
    path = main.url.database
    if main.dialect.name != "sqlite" or not path or path == ":memory:":
        return None
    if main not in _spools:
        _spools.setdefault(main, Spool(Path(str(Path(path).resolve()) + ".spool"), main))
    return _spools[main]


def spool_of(app: Flask) -> Spool | None:
    """Where the app's webhook routes store accepted events: the spool, unless there is none or
    ``INBOX_SPOOL`` is off (then the inbox)."""
    if not app.config.get("INBOX_SPOOL", True):
        return None
    return spool_at(get_db(app).engine)


def spool_to_move(main: Engine) -> Spool | None:
    """The database's spool if one was ever written, whatever ``INBOX_SPOOL`` says now (events
    spooled before it was turned off are still moved)."""
    spool = spool_at(main)
    return spool if spool is not None and spool.path.exists() else None


_LARGEST_INBOX_ID = select(func.max(table_of(InboxEvent).c.id))


@dataclass(frozen=True)
class _Statements:
    into_inbox: Any
    into_inbox_renumbered: Any
    raise_sequence: Any
    start_sequence: Any


@cache
def _statements() -> _Statements:
    unique_key = ["brand_id", "source", "external_id"]
    inbox = table_of(InboxEvent)

    def into_inbox(columns: tuple[str, ...]) -> Any:
        # A duplicate of an event already in the inbox (delivered twice, both spooled before
        # either was moved) inserts nothing.
        return (
            sqlite_insert(inbox)
            .values({name: bindparam(name, type_=inbox.c[name].type) for name in columns})
            .on_conflict_do_nothing(index_elements=unique_key)
        )

    return _Statements(
        into_inbox=into_inbox(COLUMNS),
        into_inbox_renumbered=into_inbox(COLUMNS[1:]),
        raise_sequence=text(
            "UPDATE sqlite_sequence SET seq = :floor WHERE name = 'spooled_event' AND seq < :floor"
        ),
        start_sequence=text(
            "INSERT INTO sqlite_sequence (name, seq) SELECT 'spooled_event', :floor "
            "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'spooled_event')"
        ),
    )


def drain(spool: Spool, session: Session, *, limit: int | None = None) -> list[int]:
    """Move the spooled events (the ``limit`` oldest, or all) into the inbox within ``session``'s
    unit of work (which holds the main write lock); returns the spool ids moved. Call
    :func:`forget` with them after the unit of work has committed."""
    query = select(spooled).order_by(spooled.c.id).limit(limit)
    with spool.database.engine.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(query)]
    if not rows:
        return []
    inbox = table_of(InboxEvent)
    statements = _statements()
    for start in range(0, len(rows), DRAIN_CHUNK):
        chunk = rows[start : start + DRAIN_CHUNK]
        taken = {
            row.id: (row.brand_id, row.source, row.external_id)
            for row in session.execute(
                select(inbox.c.id, inbox.c.brand_id, inbox.c.source, inbox.c.external_id).where(
                    inbox.c.id.in_([row["id"] for row in chunk])
                )
            )
        }
        fresh = [row for row in chunk if row["id"] not in taken]
        # An id the inbox gave meanwhile to another event: this one gets a new id. The same
        # event already there (moved before a crash, not yet forgotten): nothing to do.
        renumbered = [
            {name: value for name, value in row.items() if name != "id"}
            for row in chunk
            if row["id"] in taken
            and taken[row["id"]] != (row["brand_id"], row["source"], row["external_id"])
        ]
        if fresh:
            session.execute(statements.into_inbox, fresh)
        if renumbered:
            session.execute(statements.into_inbox_renumbered, renumbered)
    return [row["id"] for row in rows]


def forget(spool: Spool, ids: list[int], *, main: Session | Connection) -> None:
    """Delete moved events from the spool once the unit of work that moved them has committed,
    and keep the spool's next id above every id in the inbox."""
    floor = int(main.execute(_LARGEST_INBOX_ID).scalar() or 0)
    with spool.transaction() as connection:
        for start in range(0, len(ids), DRAIN_CHUNK):
            chunk = ids[start : start + DRAIN_CHUNK]
            connection.execute(delete(spooled).where(spooled.c.id.in_(chunk)))
        _raise_sequence(connection, floor)


def _raise_sequence(connection: Connection, floor: int) -> None:
    statements = _statements()
    connection.execute(statements.raise_sequence, {"floor": floor})
    connection.execute(statements.start_sequence, {"floor": floor})
