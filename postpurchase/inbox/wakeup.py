"""Wake event processing the moment an event is accepted, in this process or another machine's.

With ``INBOX_INLINE`` the accepting process processes the event itself (:mod:`.worker`). Without
it (web processes that only accept, ``postpurchase worker`` processes that only process) the
accept path sends a PostgreSQL ``NOTIFY`` after its commit and every listening worker wakes at
once; the one that claims the event first (``SKIP LOCKED``) processes it. A short poll
(``INBOX_POLL_MS``) covers a missed notification and SQLite, which has no notifications.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from postpurchase.db import get_db
from postpurchase.inbox import process_pending
from postpurchase.inbox.worker import submit
from postpurchase.metrics import metrics_of

log = logging.getLogger(__name__)

#: The PostgreSQL notification channel; the payload is the event id.
CHANNEL = "postpurchase_inbox"


def announce(app: Flask, event_id: int, *, source: str) -> None:
    """Count a committed, accepted event of ``source`` and hand it on: to this process's thread
    (``INBOX_INLINE``), else to the listening workers. Never raises: a lost wake-up only delays
    the event to the next poll."""
    metrics_of(app).intake_accepted.labels(source).inc()
    if app.config["INBOX_INLINE"]:
        submit(app, event_id)
        return
    database = get_db(app)
    if database.is_sqlite:
        return
    try:
        with database.engine.connect() as connection:
            connection.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": CHANNEL, "payload": str(event_id)},
            )
            connection.commit()
    except SQLAlchemyError:
        log.warning("could not notify workers of event %s; their poll will find it", event_id)


class InboxListener:
    """The event loop of ``postpurchase worker``: wait for a notification or the poll interval,
    then process every due event."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.poll_seconds = max(0.01, int(app.config["INBOX_POLL_MS"]) / 1000)
        self.stop = threading.Event()

    def run(self) -> None:
        """Loop until :attr:`stop` is set."""
        database = get_db(self.app)
        if database.is_sqlite:
            while not self.stop.is_set():
                self._process()
                self.stop.wait(self.poll_seconds)
            return
        while not self.stop.is_set():
            try:
                with listening(database.url) as connection:
                    while not self.stop.is_set():
                        self._process()
                        wait_for_notifications(connection, self.poll_seconds)
            except Exception:  # a dropped connection: reconnect after one poll interval
                log.warning("inbox listener lost its connection; reconnecting", exc_info=True)
                self.stop.wait(self.poll_seconds)

    def _process(self) -> None:
        try:
            stats = process_pending(self.app)
        except Exception:  # the next wake-up retries; the worker must live on
            log.exception("inbox processing failed")
            return
        if stats.total:
            log.debug("inbox: %s processed, %s deferred, %s failed", *_counts(stats))


def _counts(stats: Any) -> tuple[int, int, int]:
    return stats.processed, stats.deferred, stats.failed


@contextmanager
def listening(url: str) -> Iterator[Any]:
    """A psycopg connection (autocommit) that listens on :data:`CHANNEL`."""
    import psycopg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = psycopg.connect(dsn, autocommit=True)
    try:
        connection.execute(f"LISTEN {CHANNEL}")
        yield connection
    finally:
        connection.close()


def wait_for_notifications(connection: Any, timeout: float) -> list[int]:
    """Block until a notification arrives or ``timeout`` seconds pass; the event ids announced,
    including every other notification already waiting (one wake-up for a burst)."""
    ids = [int(n.payload) for n in connection.notifies(timeout=timeout, stop_after=1)]
    if ids:
        ids.extend(int(n.payload) for n in connection.notifies(timeout=0))
    return ids
