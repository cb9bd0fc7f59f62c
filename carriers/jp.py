"""Helpers shared by the Japanese carrier pages (Yamato, Sagawa, Japan Post).

Pages give local time (JST) without a zone and often without a year: 「12月30日 18:02」,
「06/27 11:19」, 「2025/01/05 10:12」, 「2009年08月24日」.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

from carriers.base import TrackingEvent
from carriers.parsing import JST, Rule, infer_year
from carriers.status import Handover, Status

#: A page word no table lists: kept as raw text on an informational scan (the parcel keeps its
#: status, and ``sub_status`` flags it) instead of passing for "in transit".
UNKNOWN_WORD = Rule(None, "unknown_status")

#: Words every Japanese carrier's page uses the same way (each table adds them to its own).
SHARED_WORDS: dict[str, Status | Rule] = {
    "置き配完了": Rule(Status.delivered, place=Handover.safe_place),
    "コンビニ到着": Rule(Status.available_for_pickup, "store", Handover.convenience_store),
    # Held at the depot after a failed attempt, waiting for redelivery or collection.
    "保管中": Rule(Status.available_for_pickup, "depot", Handover.depot),
    "調査中": Status.exception,
    "返品": Status.returning_to_sender,
}

_MOVING = frozenset({Status.in_transit, Status.out_for_delivery, Status.info_received})

_DATE = re.compile(
    r"(?:(?P<year>\d{4})\s*[年/.-]\s*)?(?P<month>\d{1,2})\s*[月/.-]\s*(?P<day>\d{1,2})\s*日?"
    r"(?:[^\d]{0,6}?(?P<hour>\d{1,2})\s*[:時]\s*(?P<minute>\d{2}))?"
)


def parse_jp_time(text: str, *, now: datetime | None) -> datetime:
    """A page timestamp as an aware JST datetime; without a year, the latest one not after ``now``.

    A date without a time (some Yamato rows) is read as 00:00 of that day.
    """
    normalized = unicodedata.normalize("NFKC", text or "")
    match = _DATE.search(normalized)
    if not match:
        raise ValueError(f"no date in {text!r}")
    month, day = int(match["month"]), int(match["day"])
    hour, minute = int(match["hour"] or 0), int(match["minute"] or 0)
    if match["year"]:
        return datetime(int(match["year"]), month, day, hour, minute, tzinfo=JST)
    return infer_year(month, day, hour, minute, now=now or datetime.now(UTC))


def digits(text: str) -> str:
    """「4000-0000-0001」 → ``400000000001`` (tracking numbers without separators)."""
    return re.sub(r"\D", "", unicodedata.normalize("NFKC", text or ""))


def returning_after_return(events: Iterable[TrackingEvent]) -> list[TrackingEvent]:
    """Transport scans after a 返品 (return) scan move the parcel back to its sender.

    Pages list the return and then ordinary 輸送中 lines; read alone, those would put the parcel
    back "in transit" to the customer.
    """
    ordered = sorted(events, key=lambda e: e.occurred_at)
    returning = False
    kept = []
    for event in ordered:
        if event.status is Status.returning_to_sender:
            returning = True
        elif returning and event.status in _MOVING and not event.informational:
            event = replace(event, status=Status.returning_to_sender)
        elif event.status in (Status.delivered, Status.returned):
            returning = False
        kept.append(event)
    return kept
