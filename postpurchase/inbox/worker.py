"""In-process background processing of freshly stored events (``INBOX_INLINE``).

The web view hands each new inbox id to :func:`submit` after its commit; one thread per process
drains the queue in batches. The thread starts lazily, so it is created after gunicorn forks its
workers. Ids only live in memory: if the process dies, the events are still ``pending`` in the
database and the scheduler's sweep (:func:`sweep`) processes them.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time

from flask import Flask

from postpurchase.inbox import process_events, process_pending, webhooks_wait_for_units

log = logging.getLogger(__name__)
EXTENSION_KEY = "postpurchase.inbox_worker"
#: GIL switch interval while the worker runs. With CPython's default (5 ms) a request thread that
#: releases the GIL for every socket or SQLite call waits up to 5 ms each time to get it back from
#: the CPU-bound processing thread (the "convoy effect"); 0.5 ms keeps request latency low.
SWITCH_INTERVAL = 0.0005
#: How long the worker waits for more ids before processing a batch: bigger batches, fewer commits.
GATHER_SECONDS = 0.05
#: Largest batch. A batch is applied together (one flush, one INSERT per kind of row), so the
#: bigger the cheaper per event: 50, as the ``postpurchase worker``'s, took inline processing from
#: 132 to 225 events/s side by side (bench/ingest.py, BENCHMARKS.md).
WORKER_BATCH = 50
#: ... except where webhooks wait for units of work (SQLite without the accept spool): 5 kept p99
#: at 57–82 ms where 10 gave 108–141 ms.
WORKER_BATCH_REQUESTS_WAIT = 5


class InboxWorker:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.queue: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def submit(self, event_id: int) -> None:
        self._ensure_started()
        self.queue.put(event_id)

    def _ensure_started(self) -> None:
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                if self._pid != os.getpid():
                    self.queue = queue.SimpleQueue()  # a forked child must not share the parent's
                self._pid = os.getpid()
                sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
                self._thread = threading.Thread(target=self._run, name="inbox-worker", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        largest = WORKER_BATCH_REQUESTS_WAIT if webhooks_wait_for_units(self.app) else WORKER_BATCH
        while True:
            ids = [self.queue.get()]
            deadline = time.monotonic() + GATHER_SECONDS
            while len(ids) < largest:
                try:
                    ids.append(self.queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            try:
                with self.app.app_context():
                    process_events(self.app, ids)
            except Exception:  # the sweep picks the events up later; the thread must live on
                log.exception("inbox batch failed; the scheduler's sweep will retry it")


def submit(app: Flask, event_id: int) -> None:
    """Queue a stored event for processing in this process's background thread."""
    worker = app.extensions.get(EXTENSION_KEY)
    if worker is None:
        worker = app.extensions.setdefault(EXTENSION_KEY, InboxWorker(app))
    worker.submit(event_id)


def sweep(app: Flask) -> None:
    """Scheduler job: process pending events, failed events due for retry, and due deferrals."""
    stats = process_pending(app)
    if stats.total:
        log.info(
            "inbox sweep: %s processed, %s deferred, %s failed",
            stats.processed,
            stats.deferred,
            stats.failed,
        )
