"""Leases in the database: one holder of a name (the scheduler) at a time, across machines.

A holder renews its lease every few seconds; when it stops (a crash, a lost network), the lease
expires and the next process that asks takes it over. Taking is one conditional UPDATE, or one
INSERT on the primary key when nobody ever held it, so two processes never both succeed: on
PostgreSQL the second UPDATE waits for the first's row lock and re-checks its condition; on
SQLite writers are serialized.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, case, or_, update
from sqlmodel import Session, col, select

from postpurchase.db import affected_rows
from postpurchase.models import LeaderLease
from postpurchase.models.types import table_of, upsert

SCHEDULER = "scheduler"


def acquire(*, session: Session, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``now + ttl``; False if another
    holder's lease is still running. Flushes nothing: the caller commits."""
    table = table_of(LeaderLease)
    c = table.c
    moment = bindparam("now", now, type_=c.renewed_at.type)
    renewed = session.execute(
        update(table)
        .where(c.name == name, or_(c.holder == holder, c.expires_at <= moment))
        .values(
            holder=holder,
            acquired_at=case((c.holder == holder, c.acquired_at), else_=moment),
            renewed_at=moment,
            expires_at=now + ttl,
        )
    )
    if affected_rows(renewed):
        return True
    created = session.execute(
        upsert(session, table)
        .values(name=name, holder=holder, acquired_at=now, renewed_at=now, expires_at=now + ttl)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(table.c.name)
    )
    return created.scalar() is not None


def release(*, session: Session, name: str, holder: str, now: datetime) -> None:
    """End ``holder``'s lease now, so that another process need not wait for it to expire."""
    table = table_of(LeaderLease)
    session.execute(
        update(table).where(table.c.name == name, table.c.holder == holder).values(expires_at=now)
    )


def current(*, session: Session, name: str, now: datetime) -> LeaderLease | None:
    """The running lease ``name``, or None when nobody holds it (never taken, or expired)."""
    return session.exec(
        select(LeaderLease).where(col(LeaderLease.name) == name, col(LeaderLease.expires_at) > now)
    ).first()
