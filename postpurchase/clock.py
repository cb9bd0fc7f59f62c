"""Time in one place, so tests and simulations can control it.

Operations take ``now`` as an argument where the moment matters; :func:`utcnow` is the default
source of it. :func:`use` swaps the source for a block (a test's pinned clock, a simulation's
accelerated one); nothing else in the code reads the wall clock for a moment that matters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

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


#: Benchmarks only: the path of a file holding seconds to add to the wall clock. ``postpurchase
#: worker`` reads it when set, so a fault suite can move its workers' time (an hour of SMTP
#: outage, a day's jump) while they run; nothing reads it otherwise.
OFFSET_FILE_ENV = "POSTPURCHASE_BENCH_CLOCK_OFFSET_FILE"


def offset_file_source(path: Path, base: Source = system_utcnow) -> Source:
    """``base`` plus the number of seconds written in ``path`` (0 while it is missing or
    unreadable), re-read whenever the file changes."""
    cached: dict[str, float] = {"mtime": -1.0, "offset": 0.0}

    def source() -> datetime:
        try:
            mtime = float(path.stat().st_mtime_ns)
            if mtime != cached["mtime"]:
                cached["offset"] = float(path.read_text().strip() or 0)
                cached["mtime"] = mtime
        except (OSError, ValueError):
            cached["mtime"], cached["offset"] = -1.0, 0.0
        return base() + timedelta(seconds=cached["offset"])

    return source
