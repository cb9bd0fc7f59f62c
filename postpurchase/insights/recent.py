"""Insights reports a web process keeps for a short while, per brand and period.

The page, a sort of its tables, its CSV and its PDF each need the whole report, and computing it
scans the period's rollup three times: 0.4-0.5 s of CPU at 18,600 parcels in the period
(``bench/insights.py``), more as the brand grows. A merchant going from the page to a sort, the
CSV and the PDF asks for the same figures within seconds, as does a team with the page open. A
report is kept for ``INSIGHTS_REUSE_SECONDS`` (default 60) under its brand, period and reference
rate, and the page and the PDF say when its figures were computed, so a kept figure never passes
for a newer one.
Each web process keeps its own: at most the last ``size`` reports asked for, and none past its
time (a report holds up to 2,000 of its period's comments).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask

from postpurchase.insights.queries import Report

EXTENSION_KEY = "postpurchase.insights.recent"


@dataclass(frozen=True)
class Made:
    """A report and the moment (UTC) its figures were computed."""

    at: datetime
    report: Report


class RecentReports:
    """The last ``size`` reports asked for, each reused for ``seconds`` after it was computed
    (0: never reused). Safe to share between a process's threads; two threads asking for the same
    missing report both compute it."""

    def __init__(self, seconds: float, size: int = 32) -> None:
        self.keep_for = timedelta(seconds=max(0.0, seconds))
        self.size = size
        self._made: OrderedDict[Hashable, Made] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, now: datetime, compute: Callable[[], Report]) -> Made:
        """The report kept under ``key`` if it was computed less than ``seconds`` before ``now``
        (and not after it: a clock set back does not make a report young), else ``compute()``'s."""
        if self.keep_for:
            with self._lock:
                made = self._made.get(key)
                if made is not None and self._young(made, now):
                    self._made.move_to_end(key)
                    return made
        made = Made(now, compute())
        if self.keep_for:
            with self._lock:
                for old in [k for k, kept in self._made.items() if not self._young(kept, now)]:
                    del self._made[old]
                self._made[key] = made
                self._made.move_to_end(key)
                while len(self._made) > self.size:
                    self._made.popitem(last=False)
        return made

    def _young(self, made: Made, now: datetime) -> bool:
        return made.at <= now < made.at + self.keep_for

    def __len__(self) -> int:
        return len(self._made)


def recent_reports(app: Flask) -> RecentReports:
    """The app's reports kept, made on first use from the ``INSIGHTS_REUSE_SECONDS`` setting."""
    recent: RecentReports | None = app.extensions.get(EXTENSION_KEY)
    if recent is None:
        recent = app.extensions.setdefault(
            EXTENSION_KEY, RecentReports(float(app.config["INSIGHTS_REUSE_SECONDS"]))
        )
    return recent
