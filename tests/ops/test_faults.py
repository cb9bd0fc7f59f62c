"""The short fault suite: web and workers killed, PostgreSQL and SMTP down, the clock jumping."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_URL

FAULTS = Path(__file__).resolve().parents[2] / "bench" / "faults.py"


@pytest.mark.slow
@pytest.mark.faults
@pytest.mark.skipif(not PG_URL, reason="runs in the PostgreSQL pass, where initdb is installed")
def test_short_fault_suite_loses_and_doubles_nothing() -> None:
    # Its own processes and its own PostgreSQL cluster, on the wall clock: a subprocess.
    run = subprocess.run(
        [sys.executable, str(FAULTS), "--short"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
