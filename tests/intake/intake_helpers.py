"""Builders and readers for intake tests (plain functions: no conftest, no fixture clashes)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from flask import Flask
from sqlmodel import select

from postpurchase.db import get_db
from postpurchase.inbox import ProcessStats, process_pending
from postpurchase.intake.examples import EXAMPLES
from postpurchase.intake.schemas import EventType
from postpurchase.models import InboxEvent

CONFORMANCE = Path(__file__).resolve().parents[1] / "carriers" / "fixtures" / "conformance"


def process(app: Flask) -> ProcessStats:
    """Run the inbox once, as the background processor or the sweep would."""
    return process_pending(app)


def rows(app: Flask, model: Any, *where: Any) -> list[Any]:
    """Committed rows of ``model``, read in a fresh session."""
    with get_db(app).session() as s:
        return list(s.exec(select(model).where(*where)))


def inbox(app: Flask) -> list[InboxEvent]:
    return sorted(rows(app, InboxEvent), key=lambda e: e.id)


def example(event_type: EventType | str, **data_changes: Any) -> dict[str, Any]:
    """A deep copy of the published example of ``event_type``, with ``data`` fields replaced."""
    envelope = copy.deepcopy(EXAMPLES[EventType(event_type)])
    envelope["data"].update(data_changes)
    return envelope


def event(
    event_type: str, event_id: str, occurred_at: str = "2026-11-21T10:00:00+09:00", **data: Any
) -> dict[str, Any]:
    return {"id": event_id, "type": event_type, "occurred_at": occurred_at, "data": data}
