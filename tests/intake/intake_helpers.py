"""Event builders for intake tests."""

from __future__ import annotations

import copy
from typing import Any

from postpurchase.intake.examples import EXAMPLES
from postpurchase.intake.schemas import EventType


def example(event_type: EventType | str, **data_changes: Any) -> dict[str, Any]:
    """A deep copy of the published example of ``event_type``, with ``data`` fields replaced."""
    envelope = copy.deepcopy(EXAMPLES[EventType(event_type)])
    envelope["data"].update(data_changes)
    return envelope


def event(event_type: str, event_id: str, occurred_at: str = "2026-11-21T10:00:00+09:00",
          **data: Any) -> dict[str, Any]:
    return {"id": event_id, "type": event_type, "occurred_at": occurred_at, "data": data}
