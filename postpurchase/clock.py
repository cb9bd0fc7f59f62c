"""Time in one place, so tests and simulations can control it.

Operations take ``now`` as an argument where the moment matters; :func:`utcnow` is the default
source of it. :func:`use` swaps the source for a block (a test's pinned clock, a simulation's
accelerated one); nothing else in the code reads the wall clock for a moment that matters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

Source = Callable[[], datetime]


def system_utcnow() -> datetime:
    """The machine's wall clock, aware UTC."""
    return datetime.now(UTC)


_source: Source = system_utcnow


def utcnow() -> datetime:
    """The current moment as an aware UTC datetime, from the source in force."""
    return as_utc(_source())


@contextmanager
def use(source: Source) -> Iterator[Source]:
    """Make ``source`` the answer of :func:`utcnow` (in every thread) until the block ends."""
    global _source
    previous = _source
    _source = source
    try:
        yield source
    finally:
        _source = previous


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive values are taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
