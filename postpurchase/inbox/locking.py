"""Serialize SQLite writers with a file lock instead of SQLite's sleeping busy handler.

SQLite allows one writer at a time; a writer that finds the database locked sleeps in growing
steps (up to 100 ms) and retries, so under steady load requests wait far longer than the lock is
actually held. Taking an exclusive ``flock`` first queues writers in the kernel, which wakes the
next one as soon as the lock is released. PostgreSQL needs none of this (row locks, SKIP LOCKED).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import IO, Any

from flask import Flask

from postpurchase.config import running_app
from postpurchase.db import get_db

EXTENSION_KEY = "postpurchase.sqlite_write_lock"


class FileWriteLock:
    """One per app; a thread lock inside the process, an ``flock`` across processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._threads = threading.Lock()
        self._file: IO[str] | None = None
        self._pid = 0

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._threads:
            if self._file is None or self._pid != os.getpid():  # a forked worker opens its own
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a")
                self._pid = os.getpid()
            fcntl.flock(self._file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._file, fcntl.LOCK_UN)


def write_lock(app: Flask | None = None) -> Any:
    """Context manager held around one write transaction; a no-op on PostgreSQL."""
    app = app or running_app()
    if not get_db(app).is_sqlite:
        return nullcontext()
    lock = app.extensions.get(EXTENSION_KEY)
    if lock is None:
        lock = app.extensions.setdefault(
            EXTENSION_KEY, FileWriteLock(Path(app.instance_path) / "sqlite-write.lock")
        )
    return lock.hold()
