"""The processes the benchmarks start and stop: gunicorn, ``postpurchase worker`` and a throwaway
PostgreSQL cluster, plus the CPU time a process and its children used (read from ``/proc``).

One home for what ``bench/ingest.py``, ``bench/faults.py``, ``bench/load.py`` and
``bench/wakeup.py`` share.
"""

from __future__ import annotations

import http.client
import multiprocessing
import multiprocessing.connection
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: The sync worker the project deploys (``deploy/gunicorn.conf.py``): gunicorn's, woken alone.
SYNC_WORKER = "postpurchase.web.serving.SyncWorker"


def worker_name(worker_class: str) -> str:
    """How a report names gunicorn's ``-k``."""
    return "sync, woken alone" if worker_class == SYNC_WORKER else worker_class


def start_gunicorn(
    target: str,
    chdir: Path,
    env: dict[str, str],
    workers: int = 2,
    *,
    worker_class: str = SYNC_WORKER,
    threads: int = 1,
    nice: int = 0,
    options: tuple[str, ...] = (),
) -> tuple[subprocess.Popen, int]:
    """gunicorn serving ``target`` on a free loopback port, once it answers (2 of the project's
    sync workers unless told otherwise; at niceness ``nice``, which its workers inherit; more of
    gunicorn's command-line ``options``)."""
    port = free_port()
    process = subprocess.Popen(
        [
            *(["nice", "-n", str(nice)] if nice else []),
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-k",
            worker_class,
            "--threads",
            str(threads),
            "-b",
            f"127.0.0.1:{port}",
            "--chdir",
            str(chdir),
            "--backlog",
            "2048",
            "--log-level",
            "warning",
            *options,
            target,
        ],
        env=env,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        # An answer, not just an open port: the master listens before its workers have imported
        # the app, and the first posts would otherwise wait for that (seconds, in p99 of short runs).
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/")
            connection.getresponse().read()
            connection.close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"gunicorn did not start: {target}")


def http_request(
    method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> bytes:
    """An HTTP/1.1 request to the loopback server, as the bytes :func:`send_paced` sends."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


@dataclass
class Paced:
    """One kind of request sent open-loop at ``rate`` per second to ``port``: the n-th is
    ``build(n)``, due ``n / rate`` seconds after the start, whatever the earlier ones' fate."""

    rate: float
    port: int
    build: Callable[[int], bytes]
    #: Per answer: (when it was sent, ``time.perf_counter()``; seconds from connecting to the whole
    #: answer; status, 0 for a failed exchange).
    answers: list[tuple[float, float, int]] = field(default_factory=list)
    #: Requests sent more than 10 ms after their time (the client itself behind).
    late: int = 0


@dataclass
class _Exchange:
    paced: Paced
    sock: socket.socket
    request: memoryview
    began: float
    received: bytes = b""


#: Seconds :func:`send_paced` waits for answers after the last request; a request with no
#: answer by then, or none sent at all, is counted as taking this long, with status 0.
UNANSWERED = 30.0


def send_paced(
    streams: list[Paced], seconds: float, timeout: float = UNANSWERED, start: float | None = None
) -> None:
    """Send every stream for ``seconds`` from one thread (non-blocking sockets, one connection per
    request, HTTP/1.1 answers read to their length), then wait up to ``timeout`` for the answers
    still due. ``start`` (a ``time.perf_counter()`` moment, the same in every process on Linux)
    is when the first requests are due; by default now.

    A load generator sharing the measured machine takes CPU from the server: with ``http.client``
    and a hundred threads (one connection each), ``bench/load.py``'s client used about a quarter
    of a core for 525 requests per second (31.8 CPU s in 120 s). One thread with a selector used
    17-20 s, about 0.3 ms per request, most of it the kernel's loopback TCP (connecting and
    sending each take ~0.09 ms, the server's side of them included). And it is open-loop, as
    real visitors are: a slow answer does not hold back the next request.
    """
    selector = selectors.DefaultSelector()
    for stream in streams:
        if stream.rate > 0:
            stream.build(0)  # a builder's first call imports what it needs: not in the run's time
    if start is None:
        start = time.perf_counter()
    else:
        time.sleep(max(0.0, start - time.perf_counter()))
    sent = [0] * len(streams)
    busy = 0
    while True:
        now = time.perf_counter()
        upcoming = []
        for i, stream in enumerate(streams):
            if stream.rate <= 0:
                continue
            due = start + sent[i] / stream.rate
            while due <= now and due - start < seconds:
                if now - due > 0.01:
                    stream.late += 1
                busy += _connect(selector, stream, stream.build(sent[i]))
                sent[i] += 1
                due = start + sent[i] / stream.rate
            if due - start < seconds:
                upcoming.append(due)
        if not upcoming and (not busy or now - start > seconds + timeout):
            break
        wait = max(0.0, min(upcoming) - now) if upcoming else 0.5
        for key, _events in selector.select(wait):
            busy -= _advance(selector, key.data)
    for key in list(selector.get_map().values()):
        exchange = key.data
        exchange.paced.answers.append((exchange.began, time.perf_counter() - exchange.began, 0))
        selector.unregister(exchange.sock)
        exchange.sock.close()
    selector.close()


def send_paced_apart(streams: list[Paced], seconds: float, start: float) -> float:
    """:func:`send_paced` from ``start`` in a process of its own; fills in the streams' answers
    and returns the CPU seconds it used sending.

    In the bench's own process the sender shares the GIL with what else runs there (the SMTP sink
    the workers send to, the samples' queries): when a burst of mail arrived, every route's
    answers came back late together, the sender's doing rather than the server's. The process is
    spawned, not forked: a child forked while one of the bench's other threads holds a lock waits
    for it for ever (one run's sender hung on a futex). So the streams' ``build`` must
    pickle (:class:`Cycle`, or a class of the bench's main module), and ``start`` leaves the new
    interpreter a moment to import.
    """
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=_send_and_answer, args=(streams, seconds, start, sending))
    process.start()
    sending.close()  # the child's copy stays open: recv() raises EOFError should it fail
    results, cpu = receiving.recv()
    process.join()
    for stream, (answers, late) in zip(streams, results, strict=True):
        stream.answers, stream.late = answers, late
    return float(cpu)


def _send_and_answer(
    streams: list[Paced],
    seconds: float,
    start: float,
    answer: multiprocessing.connection.Connection,
) -> None:
    imported = time.process_time()
    send_paced(streams, seconds, start=start)
    sending = time.process_time() - imported
    answer.send(([(stream.answers, stream.late) for stream in streams], sending))
    answer.close()


@dataclass(frozen=True)
class Cycle:
    """A stream's requests taken in turn, the n-th being ``requests[n % len(requests)]``."""

    requests: tuple[bytes, ...]

    def __call__(self, n: int) -> bytes:
        return self.requests[n % len(self.requests)]


def _connect(selector: selectors.BaseSelector, paced: Paced, request: bytes) -> int:
    """Start sending ``request``: 1 when its exchange is under way, 0 when it could not start
    (every descriptor the process may open already waits for an answer from a server far behind:
    the request counts as unanswered)."""
    began = time.perf_counter()
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    except OSError:
        paced.answers.append((began, UNANSWERED, 0))
        return 0
    sock.setblocking(False)
    sock.connect_ex(("127.0.0.1", paced.port))
    exchange = _Exchange(paced, sock, memoryview(request), began)
    selector.register(sock, selectors.EVENT_WRITE, exchange)
    return 1


def _advance(selector: selectors.BaseSelector, exchange: _Exchange) -> int:
    """Send or read what the socket allows; 1 when the exchange is over (answer or failure)."""
    sock = exchange.sock
    try:
        if exchange.request:
            exchange.request = exchange.request[sock.send(exchange.request) :]
            if not exchange.request:
                selector.modify(sock, selectors.EVENT_READ, exchange)
            return 0
        chunk = sock.recv(65536)
        exchange.received += chunk
        status = answer_status(exchange.received, ended=not chunk)
    except OSError:
        status = 0
    if status is None:
        return 0
    exchange.paced.answers.append((exchange.began, time.perf_counter() - exchange.began, status))
    selector.unregister(sock)
    sock.close()
    return 1


def answer_status(received: bytes, *, ended: bool) -> int | None:
    """The status of the HTTP answer in ``received`` once it is whole (its ``Content-Length``
    read, or the connection ``ended``); None while more is due, 0 if it ended short."""
    head, separator, body = received.partition(b"\r\n\r\n")
    if not separator:
        return 0 if ended else None
    status_line, *fields = head.lower().split(b"\r\n")
    length = next(
        (int(f.partition(b":")[2]) for f in fields if f.startswith(b"content-length:")), None
    )
    if length is not None and len(body) < length:
        return 0 if ended else None
    if length is None and not ended:
        return None
    return int(status_line.split(b" ", 2)[1])


def start_workers(count: int, env: dict[str, str]) -> list[subprocess.Popen]:
    """``count`` ``postpurchase worker`` processes (inbox processing and the scheduler)."""
    return [
        subprocess.Popen([sys.executable, "-m", "postpurchase.cli", "worker"], env=env, cwd=ROOT)
        for _ in range(count)
    ]


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


def children_of(pid: int) -> list[int]:
    """The live children of process ``pid``, whichever of its threads started them (Linux
    lists each thread's children under that thread); empty when the process is gone."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += map(int, (task / "children").read_text().split())
        except OSError:
            continue
    return kids


def machine_times() -> list[int]:
    """The machine's CPU time since boot by kind, in ticks (``/proc/stat``'s first line: user,
    nice, system, idle, iowait, irq, softirq, steal); empty where there is no such file."""
    try:
        with open("/proc/stat") as stat:
            return [int(value) for value in stat.readline().split()[1:9]]
    except OSError:
        return []


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads), with ``children`` also
    those of its live children and of the children it has already reaped (Linux ``/proc``).
    0 when the process is gone."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # Fields 14-17 of proc(5) (utime, stime, cutime, cstime) are 11-14 after the name.
    own = int(fields[11]) + int(fields[12])
    if not children:
        return own / tick
    total = own + int(fields[13]) + int(fields[14])
    return total / tick + sum(cpu_seconds(kid, children=True) for kid in children_of(pid))


def wakeups(pid: int) -> int:
    """Times process ``pid``'s live children (all their threads) slept and were woken (Linux's
    voluntary context switches): a web worker woken for a connection another worker accepts
    counts one more, with nothing to show for it."""
    total = 0
    for kid in children_of(pid):
        for status in Path(f"/proc/{kid}/task").glob("*/status"):
            for line in status.read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
    return total


@dataclass
class Postgres:
    """A throwaway cluster made by ``scripts/pg-start`` in ``folder`` on ``port``."""

    folder: Path
    port: int
    url: str = ""

    def start(self) -> str:
        self.url = subprocess.run(
            [str(ROOT / "scripts" / "pg-start"), str(self.folder), str(self.port)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return self.url

    def stop(self) -> None:
        subprocess.run(
            [str(ROOT / "scripts" / "pg-stop"), str(self.folder)], check=True, capture_output=True
        )

    def cpu_seconds(self) -> float:
        """CPU seconds of the server so far: the postmaster, its backends and those it reaped."""
        pid = int((self.folder / "postmaster.pid").read_text().split()[0])
        return cpu_seconds(pid, children=True)


@contextmanager
def throwaway_postgres(prefix: str = "pp-pg-") -> Iterator[Postgres]:
    """A started cluster in a new temporary folder on a free port, stopped on the way out."""
    cluster = Postgres(Path(tempfile.mkdtemp(prefix=prefix)) / "data", free_port())
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def fresh_database(url: str) -> None:
    """Drop everything in the ``public`` schema of ``url`` (a throwaway PostgreSQL database) and
    migrate it afresh."""
    from sqlalchemy import create_engine, text

    from postpurchase.db import upgrade

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    upgrade(url)


def wait_idle(processes: list[subprocess.Popen], timeout: float = 60) -> None:
    """Return once ``processes`` have used (almost) no CPU for half a second: started up."""
    deadline = time.monotonic() + timeout
    before = sum(cpu_seconds(p.pid) for p in processes)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = sum(cpu_seconds(p.pid) for p in processes)
        if now - before <= 0.02 * len(processes):  # none: at once
            return
        before = now
    raise RuntimeError("the workers did not settle")
