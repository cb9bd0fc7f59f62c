"""Tables of the running installation itself: who leads the scheduler, and counters that every
process adds to (so a metrics scrape of any one process sees the whole deployment)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from postpurchase.models.types import utc_field


class LeaderLease(SQLModel, table=True):
    """The process that holds ``name`` (``scheduler``) until ``expires_at``, renewed while it lives.

    A process that finds the lease expired takes it over; a lease is never held by two processes
    at once because taking it is one conditional UPDATE (or one INSERT on a unique key).
    """

    name: str = Field(primary_key=True, max_length=64)
    #: ``<host>:<pid>:<random>``, unique per process start.
    holder: str = Field(max_length=200)
    acquired_at: datetime = utc_field(nullable=False)
    renewed_at: datetime = utc_field(nullable=False)
    expires_at: datetime = utc_field(nullable=False)


class OpsCounter(SQLModel, table=True):
    """A monotonic counter (``name`` with its ``labels`` as ``k=v,k=v``) that jobs in any process
    add to, read by ``/metrics`` at scrape time."""

    name: str = Field(primary_key=True, max_length=64)
    labels: str = Field(primary_key=True, default="", max_length=200)
    value: float = 0.0
