"""Engine, sessions and migrations.

One :class:`Database` per app lives in ``app.extensions["postpurchase.db"]``. Requests get one
session each (created lazily by :func:`get_session`, closed at teardown); jobs and CLI commands use
:func:`session_scope`, which commits on success and rolls back on error.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import weakref
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar, cast

from flask import Flask, current_app, g
from sqlalchemy import Integer, event, func, select
from sqlalchemy.engine import Connection, CursorResult, Dialect, Engine, Result
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.sql import ClauseElement, Select
from sqlmodel import Session, SQLModel, create_engine

from postpurchase.config import running_app

if TYPE_CHECKING:
    from alembic.config import Config
    from tenacity import Retrying

EXTENSION_KEY = "postpurchase.db"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


_Row = TypeVar("_Row")


class UnitSession(Session):
    """The session of every unit of work: sqlmodel's, with ``get`` answered straight from the
    identity map when the row is loaded and not expired.

    The receivers of one new parcel ask for the same parcel, order, customer and brand by id
    about seventeen times; SQLAlchemy's ``get`` spent far more on normalizing its arguments than
    on the dictionary lookup (a tenth of processing an event, under a profiler). Any option, a
    key that is not one integer, a row not loaded or expired: SQLAlchemy's ``get``.
    """

    def get(  # type: ignore[override]
        self, entity: type[_Row], ident: Any, **options: Any
    ) -> _Row | None:
        if not options and type(ident) is int:
            row = self.identity_map.get((entity, (ident,), None))
            if row is not None and not instance_state(row).expired:
                return row
        return super().get(entity, ident, **options)


#: ``Connection.info`` key on SQLite: whether the current transaction began with the write lock.
WRITE_LOCKED = "write_locked"


@event.listens_for(UnitSession, "before_flush")
def _number_new_rows(session: Session, _context: object, _instances: object) -> None:
    """On SQLite, give the new rows of a table their ids before the flush, when there are several.

    Without ids, SQLAlchemy writes each new row with an ``INSERT ... RETURNING`` of its own on
    SQLite (it cannot tell which returned id belongs to which row of a multi-row insert): a
    batch of 50 new parcels cost 50 statements. With them, the rows go out in one
    ``executemany``. The ids are the ones SQLite would have taken (the largest plus one, for a
    table without ``AUTOINCREMENT``), only while this transaction holds the write lock
    (:func:`claim_scope`), so no other writer can take them meanwhile. PostgreSQL already writes
    such rows in one multi-row ``INSERT ... RETURNING``.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    waiting: dict[Any, list[Any]] = {}
    taken: dict[Any, int] = {}
    for row in session.new:
        state = instance_state(row)
        key = state.mapper.primary_key
        if len(key) == 1 and _numbered_by_sqlite(key[0]):
            number = getattr(row, state.mapper.get_property_by_column(key[0]).key)
            if number is None:
                waiting.setdefault(state.mapper, []).append(state)
            else:
                taken[state.mapper] = max(taken.get(state.mapper, 0), number)
    waiting = {mapper: states for mapper, states in waiting.items() if len(states) > 1}
    if not waiting:
        return
    connection = session.connection()
    if not connection.info.get(WRITE_LOCKED):
        return
    for mapper, states in waiting.items():
        column = mapper.primary_key[0]
        stored = connection.execute(select(func.max(column))).scalar()
        first = max(stored or 0, taken.get(mapper, 0)) + 1
        attribute = mapper.get_property_by_column(column).key
        states.sort(key=lambda state: state.insert_order)
        for number, state in enumerate(states, start=first):
            setattr(state.obj(), attribute, number)


def _numbered_by_sqlite(column: Any) -> bool:
    """An integer key SQLite numbers as the largest id plus one (no ``AUTOINCREMENT``, which
    never reuses the id of a deleted row)."""
    return (
        column.autoincrement in (True, "auto")
        and isinstance(column.type, Integer)
        and not column.table.dialect_options["sqlite"]["autoincrement"]
    )


class Database:
    def __init__(
        self, url: str, *, echo: bool = False, pool_size: int = 10, max_overflow: int = 10
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, object] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(
                pool_pre_ping=True,
                pool_size=pool_size,
                max_overflow=max_overflow,
                insertmanyvalues_page_size=INSERT_PAGE_ROWS,
            )
            _cache_large_statement_conversion()
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin_immediate_when_asked)

    def session(self) -> Session:
        return UnitSession(self.engine, expire_on_commit=False)

    def create_all(self) -> None:
        """Create every table directly from the models (tests; production uses migrations)."""
        import postpurchase.models  # noqa: F401  (registers every table)

        SQLModel.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


#: Rows per multi-row ``INSERT`` on PostgreSQL (SQLAlchemy's ``insertmanyvalues_page_size``,
#: 1,000 by default). A batch's new rows of a table went out in one ``INSERT`` with a ``VALUES``
#: row each, whose text changed with the number of rows: psycopg converted its placeholders anew
#: each time (a few milliseconds for 50 rows of 50 columns) and the server parsed and planned it
#: anew, never preparing it. In pages of ten rows a table has at most ten such texts, which
#: :func:`_cache_large_statement_conversion` keeps and the server prepares after a few uses.
INSERT_PAGE_ROWS = 10

#: Large statements whose conversion for the server psycopg keeps, besides its own cache: the
#: pages of every table processing inserts into (``bench/ingest_profile.py`` on PostgreSQL
#: converts 72 distinct ones with units of 50 events, 116 with units of 200).
LARGE_STATEMENTS_CACHED = 128


def _cache_large_statement_conversion() -> None:
    """Let psycopg keep the conversion of a few large statements (multi-row INSERTs) for the server.

    psycopg rewrites every statement's ``%(name)s`` placeholders into ``$n`` before sending it, and
    remembers the result only for statements under 4 KB and 50 parameters, so that an application
    sending thousands of distinct multi-row INSERTs does not fill its cache (psycopg's
    ``_queries`` module). Ours send few distinct ones, again and again: a batch's new parcels in
    one INSERT (one ``VALUES`` row each, ~50 columns), the rollup, profile marks. Rewriting them
    was about an eighth of processing an event on PostgreSQL. Here the function psycopg calls for
    large statements gets a cache of its own, bounded by entries, so psycopg's cache of small
    statements is untouched. psycopg offers no setting for this; if its internals change, this
    does nothing.
    """
    from functools import lru_cache

    try:
        from psycopg import _queries
    except ImportError:  # no psycopg: PostgreSQL through another driver
        return
    convert = getattr(_queries, "_query2pg_nocache", None)
    if convert is None or hasattr(convert, "cache_info"):  # internals changed, or done already
        return
    _queries._query2pg_nocache = lru_cache(maxsize=LARGE_STATEMENTS_CACHED)(convert)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself so that BEGIN IMMEDIATE can be requested per transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate_when_asked(conn: Any) -> None:
    """Start SQLite transactions; ``BEGIN IMMEDIATE`` when the session asked for a write lock.

    SQLite has no ``SELECT ... FOR UPDATE``; a transaction that claims work rows takes the write
    lock up front (see :func:`claim_scope`) so two processes never claim the same rows.
    """
    immediate = conn.info.pop("begin_immediate", False)
    conn.info[WRITE_LOCKED] = immediate  # for this transaction: every one begins here
    # Straight to the driver: through ``exec_driver_sql`` (events, a result object) this cost
    # about as much CPU as the accept path's INSERT.
    conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


@dataclass(frozen=True)
class DriverStatement:
    """A Core statement compiled once for one dialect, executed on the driver's own cursor.

    For the statements of the hot path of every webhook (storing the event): executing them
    through SQLAlchemy (the parameters processed per call, an execution context, a result object)
    cost several times what the database itself did. What compiling leaves for each execution is
    worked out here once: the placeholders' order, each value's conversion for the driver (dates,
    JSON, enums: SQLAlchemy's own bind processors) and the values the statement fixes itself. The
    connection's ``before_cursor_execute`` listeners still see each statement (statement counters);
    other execution events do not fire.
    """

    sql: str
    #: Parameter names in placeholder order (positional drivers); None for named placeholders.
    order: tuple[str, ...] | None
    convert: Mapping[str, Callable[[Any], Any]]
    fixed: Mapping[str, Any]

    @classmethod
    def compile(cls, statement: ClauseElement, dialect: Dialect) -> DriverStatement:
        compiled: Any = statement.compile(dialect=dialect)
        positions = compiled.positiontup
        return cls(
            sql=compiled.string,
            order=tuple(positions) if positions is not None else None,
            convert=dict(compiled._bind_processors),
            fixed={
                name: bind.effective_value
                for name, bind in compiled.binds.items()
                if not bind.required
            },
        )

    def rows(self, connection: Connection | Session, values: Mapping[str, Any]) -> list[Any]:
        """Run with ``values`` (by parameter name) in ``connection``'s transaction (the statement
        returns rows: a query, or a write with ``RETURNING``) and fetch every row."""
        if isinstance(connection, Session):
            connection = connection.connection()
        named = {**self.fixed, **values}
        for name, convert in self.convert.items():
            named[name] = convert(named[name])
        parameters: Any = named if self.order is None else tuple(named[n] for n in self.order)
        cursor = connection.connection.cursor()
        if connection.dispatch.before_cursor_execute:
            connection.dispatch.before_cursor_execute(
                connection, cursor, self.sql, parameters, None, False
            )
        try:
            cursor.execute(self.sql, parameters)
            return list(cursor.fetchall())
        finally:
            cursor.close()


@dataclass(frozen=True)
class DriverQuery:
    """A Core query compiled once for one dialect, run on the driver's own cursor, each row
    converted as SQLAlchemy converts it (each column type's result processor: dates, JSON, enums)
    into a named tuple whose fields are the selected columns' keys.

    For the reads of every customer page: loading an order, its lines and its parcels as ORM rows
    cost several times the queries themselves (statement execution, then the identity map and
    instance state of each row), and a page only reads them. A query of a model's table gives
    records with the model's field names, so code that reads a model row reads a record alike.
    The records are not in the session: nothing pending is flushed first unless the caller does.
    The conversions are chosen without the driver's type codes, which only a few types consult
    (PostgreSQL's NUMERIC and FLOAT): not for queries selecting those.
    """

    statement: DriverStatement
    record: Callable[[Any], Any]
    #: (position, conversion) of each column whose driver value its type converts.
    converts: tuple[tuple[int, Callable[[Any], Any]], ...]

    @classmethod
    def compile(cls, query: Select[Any], dialect: Dialect) -> DriverQuery:
        columns = list(query.selected_columns)
        converts = []
        for position, column in enumerate(columns):
            convert = column.type._cached_result_processor(dialect, None)
            if convert is not None:
                converts.append((position, convert))
        record = namedtuple("Record", [column.key for column in columns])  # type: ignore[misc]
        return cls(DriverStatement.compile(query, dialect), record._make, tuple(converts))

    def records(self, connection: Connection | Session, values: Mapping[str, Any]) -> list[Any]:
        """Run with ``values`` (by parameter name) in ``connection``'s transaction."""
        rows = self.statement.rows(connection, values)
        make, converts = self.record, self.converts
        if not converts:
            return [make(row) for row in rows]
        records = []
        for row in rows:
            fields = list(row)
            for position, convert in converts:
                fields[position] = convert(fields[position])
            records.append(make(fields))
        return records


_Compiled = TypeVar("_Compiled", DriverStatement, DriverQuery)
#: Per dialect object (each engine has its own), each statement's compiled forms by kind.
_for_driver: weakref.WeakKeyDictionary[Dialect, dict[tuple[type, ClauseElement], Any]] = (
    weakref.WeakKeyDictionary()
)


def _compiled_once(kind: type[_Compiled], statement: Any, dialect: Dialect) -> _Compiled:
    compiled = _for_driver.setdefault(dialect, {})
    found: _Compiled | None = compiled.get((kind, statement))
    if found is None:
        found = compiled[(kind, statement)] = kind.compile(statement, dialect)
    return found


def for_driver(statement: ClauseElement, dialect: Dialect) -> DriverStatement:
    """``statement`` compiled for ``dialect``, once per statement object and dialect object (each
    engine has its own): for statements built once and kept, not for one built per call."""
    return _compiled_once(DriverStatement, statement, dialect)


def query_for_driver(query: Select[Any], dialect: Dialect) -> DriverQuery:
    """``query`` compiled for ``dialect`` as a :class:`DriverQuery`, once per query object and
    dialect object, like :func:`for_driver`."""
    return _compiled_once(DriverQuery, query, dialect)


def read_records(session: Session, query: Select[Any], values: Mapping[str, Any]) -> list[Any]:
    """The records of ``query`` (built once and kept) with ``values``, in ``session``'s
    transaction, after flushing what it has pending as its own queries would
    (:class:`DriverQuery`)."""
    if session.autoflush:
        session.flush()
    connection = session.connection()
    return query_for_driver(query, connection.dialect).records(connection, values)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def init_app(app: Flask) -> Database:
    url = str(app.config["DATABASE_URL"])
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    database = Database(
        url,
        pool_size=int(app.config.get("DB_POOL_SIZE", 10)),
        max_overflow=int(app.config.get("DB_MAX_OVERFLOW", 10)),
    )
    app.extensions[EXTENSION_KEY] = database
    app.teardown_appcontext(_close_request_session)
    return database


def get_db(app: Flask | None = None) -> Database:
    database: Database = (app or current_app).extensions[EXTENSION_KEY]
    return database


def get_session() -> Session:
    """The session of the current request or app context, created on first use."""
    if "db_session" not in g:
        g.db_session = get_db().session()
    session: Session = g.db_session
    return session


def _close_request_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


@contextmanager
def session_scope(app: Flask | None = None) -> Iterator[Session]:
    """A unit of work for a job or command: commit on success, roll back on error."""
    session = get_db(app).session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def write_transaction(app: Flask | None = None) -> Iterator[Connection]:
    """One short write transaction on a connection of its own, committed on success.

    On SQLite it holds the app's :func:`write_lock` and starts with ``BEGIN IMMEDIATE``: the
    write lock is taken up front, because a read transaction that later writes fails at once
    when another process wrote meanwhile, instead of waiting."""
    app = app or running_app()
    with write_lock(app), get_db(app).engine.connect() as connection:
        connection.info["begin_immediate"] = True
        with connection.begin():
            yield connection


WRITE_LOCK_KEY = "postpurchase.sqlite_write_lock"


class FileWriteLock:
    """Serializes SQLite writers with a file lock instead of SQLite's sleeping busy handler.

    SQLite allows one writer at a time; a writer that finds the database locked sleeps in growing
    steps (up to 100 ms) and retries, so under steady load requests wait far longer than the lock
    is actually held, and a sleeper can lose every retry to writers that queue here. Taking an
    exclusive ``flock`` first queues writers in the kernel, which wakes the next one as soon as
    the lock is released. One per app (and per spool file); a thread lock inside the process,
    re-entered by the thread holding it, an ``flock`` across processes.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._threads = threading.RLock()
        self._depth = 0
        self._file: IO[str] | None = None
        self._pid = 0

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._threads:
            if self._file is None or self._pid != os.getpid():  # a forked worker opens its own
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a")
                self._pid = os.getpid()
                self._depth = 0
            if self._depth == 0:
                fcntl.flock(self._file, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    fcntl.flock(self._file, fcntl.LOCK_UN)


def write_lock(app: Flask | None = None) -> Any:
    """Context manager held around one write transaction on SQLite; a no-op on PostgreSQL (row
    locks, ``SKIP LOCKED``)."""
    app = app or running_app()
    if not get_db(app).is_sqlite:
        return nullcontext()
    lock = app.extensions.get(WRITE_LOCK_KEY)
    if lock is None:
        lock = app.extensions.setdefault(
            WRITE_LOCK_KEY, FileWriteLock(Path(app.instance_path) / "sqlite-write.lock")
        )
    return lock.hold()


@contextmanager
def claim_scope(app: Flask | None = None) -> Iterator[Session]:
    """A unit of work that claims rows other workers may also want (outbox, inbox, polls, an
    order's last returnable units).

    On PostgreSQL the claiming query uses ``FOR UPDATE SKIP LOCKED``; on SQLite, which has no row
    locks, the transaction starts with ``BEGIN IMMEDIATE`` so claims are serialized across
    processes, and the app's :func:`write_lock` is held around it (a claim waiting in SQLite's
    busy handler instead lost to writers queued on that lock for 30 s at a time and failed with
    "database is locked" in a 10-minute load run). Commits on success, rolls back on error.
    """
    app = app or running_app()
    database = get_db(app)
    with write_lock(app), database.engine.connect() as connection:
        if database.is_sqlite:
            connection.info["begin_immediate"] = True
        session = UnitSession(bind=connection, expire_on_commit=False)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (``postpurchase db upgrade``)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def is_transient_db_error(exc: BaseException) -> bool:
    """An error worth retrying the unit of work for: SQLite "database is locked", a PostgreSQL
    serialization failure or deadlock, a dropped connection. Not a constraint or a bug."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    if isinstance(exc, OperationalError):
        if type(exc.orig).__module__ == "sqlite3":  # SQLite also says "no such table" this way
            return any(word in str(exc.orig) for word in ("locked", "busy"))
        return True
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated) or getattr(exc.orig, "sqlstate", None) in (
            "40001",
            "40P01",
        )
    return False


def retry_transient(
    sleep: Callable[[float], None] = time.sleep, *, attempts: int = 8, max_wait: float = 5.0
) -> Retrying:
    """A tenacity ``Retrying`` that re-runs a whole unit of work after a transient database error,
    with exponential backoff (0.1 s doubling, at most ``max_wait``) and jitter."""
    from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

    return Retrying(
        retry=retry_if_exception(is_transient_db_error),
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=0.1, max=max_wait),
        sleep=sleep,
        reraise=True,
    )


def affected_rows(result: Result[Any]) -> int:
    """How many rows an UPDATE, DELETE or INSERT changed.

    ``Session.execute`` is typed as returning a plain ``Result``; for DML statements it is a
    ``CursorResult``, which carries ``rowcount``.
    """
    return cast("CursorResult[Any]", result).rowcount
