"""Helpers for intake tests: process the inbox, read rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlmodel import select

from postpurchase.db import get_db
from postpurchase.intake.inbox import ProcessStats, process_pending
from postpurchase.models import InboxEvent


@pytest.fixture
def process(app: Flask) -> Callable[[], ProcessStats]:
    """Run the inbox once, as the background processor or the sweep would."""
    return lambda: process_pending(app)


@pytest.fixture
def rows(app: Flask) -> Callable[..., list[Any]]:
    """``rows(Model, *where)``: committed rows, read in a fresh session."""

    def read(model: Any, *where: Any) -> list[Any]:
        with get_db(app).session() as s:
            return list(s.exec(select(model).where(*where)))

    return read


@pytest.fixture
def inbox(rows: Callable[..., list[Any]]) -> Callable[[], list[InboxEvent]]:
    return lambda: sorted(rows(InboxEvent), key=lambda e: e.id)
