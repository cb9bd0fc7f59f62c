"""gunicorn's sync worker, woken alone for each new connection.

gunicorn's sync workers all wait for connections with ``select()`` on the one listening socket,
so every connection wakes every idle worker; one accepts it and the others find nothing
(``EAGAIN``) and go back to waiting (gunicorn issue 792, "thundering herd"). Each such
wake-up costs a process switch and the caches of the worker that is busy.

:class:`SyncWorker` waits with ``epoll`` instead and registers the listening sockets with
``EPOLLEXCLUSIVE`` (Linux 4.5+), so the kernel wakes one waiting worker per connection. Its
signal pipe is registered as usual, so stopping and reloading work as in gunicorn's worker.
Where ``EPOLLEXCLUSIVE`` does not exist it waits as gunicorn's worker does.

After answering, gunicorn's worker half-closes the connection and waits for the client to close
its side (up to 2 s: RFC 9112 section 9.6, so that request bytes still on their way do not turn
the close into a reset that cuts the answer short). The worker sleeps until the client's FIN
and serves no one meanwhile: a second wake-up per request, and, when the client is slow to close
(a busy proxy, a phone), a worker held. Here, when the request was read to its end and nothing
more has arrived, nothing can be lost and the connection is closed at once; otherwise gunicorn's
careful close runs as before (an answer given before its request's body was read, say). With
five workers, ``python bench/page_http.py --web-workers 5`` counts 6.7 wake-ups of the web
processes per tracking page with gunicorn's worker and 1.0 with this one.

A request still running when gunicorn's ``timeout`` ends the worker is answered 503 with
``Retry-After`` (gunicorn answers 500 there: the abort is a ``SystemExit`` raised inside the
request), and a connection whose request never came 408: the service is busy, it did not fail.

Use it with ``gunicorn -k postpurchase.web.serving.SyncWorker`` (``deploy/gunicorn.conf.py`` does).
"""

from __future__ import annotations

import os
import select
import socket
from typing import Any

from gunicorn import util
from gunicorn.http.body import LengthReader
from gunicorn.workers import sync

#: Linux's flag; None elsewhere.
EXCLUSIVE: int | None = getattr(select, "EPOLLEXCLUSIVE", None)
#: Seconds a client is asked to wait before it tries again after a timed-out request.
RETRY_AFTER = 10


def _answer(status: int, reason: str, message: str) -> bytes:
    body = message.encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nRetry-After: {RETRY_AFTER}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class SyncWorker(sync.SyncWorker):  # type: ignore[misc]  # gunicorn has no type hints
    """gunicorn's sync worker, waiting for connections with ``EPOLLEXCLUSIVE``."""

    _poller: Any = None
    _by_fd: dict[int, socket.socket]

    def wait(self, timeout: float) -> list[Any] | None:
        if EXCLUSIVE is None:
            waited: list[Any] | None = super().wait(timeout)
            return waited
        if self._poller is None:
            self._poller = select.epoll()
            self._by_fd = {}
            for listener in self.sockets:
                self._poller.register(listener.fileno(), select.EPOLLIN | EXCLUSIVE)
                self._by_fd[listener.fileno()] = listener
            self._poller.register(self.PIPE[0], select.EPOLLIN)
        self.notify()
        try:
            events = self._poller.poll(timeout)
        except InterruptedError:
            return list(self.sockets)
        ready: list[Any] = []
        for fd, _mask in events:
            if fd == self.PIPE[0]:
                os.read(fd, 1)
                ready.append(fd)
            elif fd in self._by_fd:
                ready.append(self._by_fd[fd])
        return ready

    def handle_request(self, listener: Any, req: Any, client: socket.socket, addr: Any) -> None:
        super().handle_request(listener, req, client, addr)
        if _read_to_its_end(req) and _nothing_more_arrived(client):
            client.close()  # gunicorn's close that follows finds it closed and returns

    def handle_error(self, req: Any, client: socket.socket, addr: Any, exc: BaseException) -> None:
        if not isinstance(exc, SystemExit):  # gunicorn's answers: 400s for bad requests, else 500
            super().handle_error(req, client, addr, exc)
            return
        if req is None:
            self.log.warning("Worker timeout before a request was read: answered 408")
            answer = _answer(408, "Request Timeout", "The request did not arrive in time.")
        else:
            self.log.warning("Worker timeout during %s %s: answered 503", req.method, req.path)
            answer = _answer(503, "Service Unavailable", "The service is busy. Try again shortly.")
        try:
            util.write_nonblock(client, answer)
        except OSError:
            self.log.debug("Could not send the timeout's answer.")


def _read_to_its_end(req: Any) -> bool:
    """Whether the request's body (by its ``Content-Length``, or none) was read whole."""
    reader = getattr(getattr(req, "body", None), "reader", None)
    return isinstance(reader, LengthReader) and reader.length == 0


def _nothing_more_arrived(client: socket.socket) -> bool:
    """Whether no byte waits unread on the connection (a TLS socket takes no flags: not known)."""
    try:
        return client.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""  # b"": client closed
    except BlockingIOError:
        return True
    except (OSError, ValueError):
        return False
