"""The benchmark clock: ``postpurchase worker`` adds the seconds a fault suite writes to a file."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from postpurchase.clock import offset_file_source

BASE = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def test_offset_file_moves_the_clock_by_its_seconds(tmp_path: Path) -> None:
    offset = tmp_path / "offset"
    offset.write_text("3600")
    assert offset_file_source(offset, lambda: BASE)() == BASE + timedelta(hours=1)


def test_offset_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    offset = tmp_path / "offset"
    offset.write_text("60")
    os.utime(offset, ns=(1, 1))
    source = offset_file_source(offset, lambda: BASE)
    source()
    offset.write_text("86400")
    os.utime(offset, ns=(2, 2))
    assert source() == BASE + timedelta(days=1)


def test_missing_or_garbled_offset_file_leaves_the_clock_alone(tmp_path: Path) -> None:
    offset = tmp_path / "offset"
    assert offset_file_source(offset, lambda: BASE)() == BASE
    offset.write_text("soon")
    assert offset_file_source(offset, lambda: BASE)() == BASE
