"""Column types shared by every model."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import JSON, ColumnElement, DateTime, Table, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlmodel import Field, Session, SQLModel
from sqlmodel._compat import partial_init


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database.

    PostgreSQL stores ``timestamptz``; SQLite has no zone, so values are stored as UTC and given
    their zone back when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")

T = TypeVar("T")
M = TypeVar("M", bound=SQLModel)


@cache
def quick_factory(factory: Callable[[], T]) -> Callable[[], T]:
    """``factory`` as a default factory that is cheap to ask about.

    sqlmodel fills a table model's missing fields through pydantic's ``FieldInfo.get_default``,
    which asks ``inspect.signature`` of the factory at every construction of every model: ~6 µs
    for a function and ~110 µs for the builtin ``list`` (inspect falls back to parsing its text
    signature), so a ``Shipment()`` cost ~0.3 ms. A function carrying its signature answers at
    once."""

    def make() -> T:
        return factory()

    make.__signature__ = inspect.Signature()  # type: ignore[attr-defined]
    make.__name__ = getattr(factory, "__name__", "make")
    return make


def utc_field(*, nullable: bool = True, index: bool = False, **kwargs: Any) -> Any:
    """A ``*_at`` column: aware UTC datetime."""
    if "default_factory" in kwargs:
        kwargs["default_factory"] = quick_factory(kwargs["default_factory"])
    return Field(sa_type=UTCDateTime, nullable=nullable, index=index, **kwargs)


def json_field(default_factory: Callable[[], Any] = dict, **kwargs: Any) -> Any:
    return Field(default_factory=quick_factory(default_factory), sa_type=JSONType, **kwargs)


def brand_fk() -> Any:
    """``brand_id`` column: every brand-owned row carries it, indexed."""
    return Field(foreign_key="brand.id", index=True, nullable=False)


def enum_field(enum_cls: Any, default: Any = None, **kwargs: Any) -> Any:
    """An enum column stored as its string value, checked in Python, not as a database type."""
    from sqlalchemy import Enum

    sa_type = Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )
    if default is None:
        return Field(sa_type=sa_type, **kwargs)
    return Field(default=default, sa_type=sa_type, **kwargs)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a SQLModel class, for bulk ``insert``/``update`` statements.

    SQLModel sets ``__table__`` when the class is created, which its type stubs do not declare:
    this is the one place that says so.
    """
    return model.__table__  # type: ignore[attr-defined, no-any-return]


def id_of(row: Any) -> int:
    """The primary key of a stored row.

    SQLModel types ``id`` as optional because a new object has none until it is flushed; code that
    holds a row read from the database (or flushed) asks for it here instead of asserting.
    """
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id yet: add and flush it first")
    return int(row.id)


def id_column(model: type[SQLModel]) -> ColumnElement[int]:
    """``model.id`` as a column of stored rows, whose ids are never empty (for ``select``)."""
    return cast("ColumnElement[int]", table_of(model).c.id)


_IMMUTABLE = (str, int, float, bool, type(None), Enum, date, Decimal, tuple, frozenset)


@cache
def _defaults(model: type[SQLModel]) -> tuple[tuple[str, Any, Callable[[], Any] | None], ...]:
    """Each field of ``model`` that has a default, with its value or factory (a field without one
    stays unset, as the constructor leaves it: SQLAlchemy then reads and inserts it as NULL)."""
    return tuple(
        (name, info.default, cast("Callable[[], Any] | None", info.default_factory))
        for name, info in model.model_fields.items()
        if not info.is_required()
    )


@cache
def _plain(model: type[SQLModel]) -> bool:
    """Whether :func:`new_row` may fill ``model``'s instance dict directly."""
    return not (
        getattr(model, "__sqlmodel_relationships__", None)
        or model.__pydantic_post_init__
        or model.model_config.get("extra") == "allow"
        or any(info.alias for info in model.model_fields.values())
    )


def new_row(model: type[M], **values: Any) -> M:
    """A new (transient) row of the table model ``model``: ``model(**values)``, about eight times
    cheaper, for rows made by the thousand on the processing path.

    sqlmodel's constructor assigns every field through ``setattr``, and each assignment goes through
    SQLAlchemy's attribute events and pydantic's ``__setattr__`` (~8 µs a field, ~0.3 ms for a
    ``Shipment``). A new row needs neither: SQLAlchemy inserts a pending object from its instance
    dict, which is also pydantic's, and our models have no relationships or attribute listeners.
    So the instance state is made as sqlmodel itself makes it (``partial_init``), then the values and
    the other fields' defaults go into the dict at once. Later assignments go through ``setattr``
    as usual. Unknown names raise ``TypeError`` (the constructor would drop them silently). A model
    this shortcut would not build right (relationships, aliases, extra fields, a post-init hook) is
    built by its constructor.
    """
    unknown = values.keys() - model.model_fields.keys()
    if unknown:
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    if not _plain(model):
        return model(**values)
    with partial_init():
        row = model()
    data = dict(values)
    for name, default, factory in _defaults(model):
        if name in values:
            continue
        if factory is not None:
            data[name] = factory()
        else:
            data[name] = default if isinstance(default, _IMMUTABLE) else copy.deepcopy(default)
    row.__dict__.update(data)
    object.__setattr__(row, "__pydantic_fields_set__", set(values))
    object.__setattr__(row, "__pydantic_extra__", None)
    object.__setattr__(row, "__pydantic_private__", None)
    return row


def update_row(row: SQLModel, values: dict[str, Any]) -> None:
    """Assign ``values`` to a loaded row, skipping the fields that already hold them.

    Each assignment costs several microseconds (see :func:`new_row`) and marks the column for the
    ``UPDATE``; a recomputed row (a customer's profile) mostly keeps its values. Comparing first
    reads the loaded attribute, so only use it on rows read in this unit of work.
    """
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)


def upsert(session: Session | Connection, table: Any) -> Any:
    """``INSERT`` for ``table`` with ``on_conflict_do_*`` on this session's dialect."""
    bind = session.get_bind() if isinstance(session, Session) else session
    return (pg_insert if bind.dialect.name == "postgresql" else sqlite_insert)(table)
