"""Helpers shared by the Japanese carrier pages (Yamato, Sagawa, Japan Post).

Pages give local time (JST) without a zone and often without a year: 「12月30日 18:02」,
「06/27 11:19」, 「2025/01/05 10:12」, 「2009年08月24日」.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

from carriers.parsing import JST, infer_year

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
