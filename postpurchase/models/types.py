"""Column types shared by every model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field


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


def utc_field(*, nullable: bool = True, index: bool = False, **kwargs: Any) -> Any:
    """A ``*_at`` column: aware UTC datetime."""
    return Field(sa_type=UTCDateTime, nullable=nullable, index=index, **kwargs)


def json_field(default_factory: Any = dict, **kwargs: Any) -> Any:
    return Field(default_factory=default_factory, sa_type=JSONType, **kwargs)


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
