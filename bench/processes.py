"""The processes the benchmarks start and stop: gunicorn, ``postpurchase worker`` and a throwaway
PostgreSQL cluster, plus the CPU time a process and its children used (read from ``/proc``).

One home for what ``bench/ingest.py``, ``bench/faults.py``, ``bench/load.py`` and
``bench/wakeup.py`` share.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(
    target: str,
    chdir: Path,
    env: dict[str, str],
    workers: int = 2,
    *,
    worker_class: str = "sync",
    threads: int = 1,
) -> tuple[subprocess.Popen, int]:
    """gunicorn serving ``target`` on a free loopback port, once it answers (2 sync workers unless
    told otherwise)."""
    port = free_port()
    process = subprocess.Popen(
        [
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
    seconds = total / tick
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        kids = []
    return seconds + sum(cpu_seconds(int(kid), children=True) for kid in kids)


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
