"""SQLite's writers queue on one file lock, claims included."""

from __future__ import annotations

import fcntl

import pytest
from flask import Flask

from postpurchase.db import claim_scope, write_lock
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(bool(PG_URL), reason="PostgreSQL has row locks")


def test_a_claim_holds_the_write_lock_other_writers_queue_on(app: Flask) -> None:
    """A claim waiting in SQLite's busy handler lost to writers queued on the lock, for 30 s at
    a time; now it queues with them. The lock is re-entered by the thread holding it."""
    path = app.instance_path + "/sqlite-write.lock"

    def free() -> bool:
        with open(path, "a") as other:  # another open file: as another process sees the lock
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(other, fcntl.LOCK_UN)
            return True

    with app.app_context():
        with claim_scope(app):
            assert not free()
        assert free()
        with write_lock(app), claim_scope(app):
            assert not free()
        assert free()
