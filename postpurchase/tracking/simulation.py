"""Accelerated time for the demo: parcels on the sandbox carrier move while the service runs.

``use_accelerated_time(app, 60)`` makes one real minute one simulated hour for everything tracking
does (the planner job, webhooks, refreshes) and for the sandbox carrier, so the planner's hour-long
intervals pass in a minute and the demo's parcels go from 荷物受付 to 配達完了 in about an hour.
Hand sandbox parcels over at ``clock()`` (simulated now): ``sandbox.tracking_number(clock(), n)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask

from postpurchase.clock import utcnow
from postpurchase.tracking.routing import configure_adapter, extension


@dataclass
class ScaledClock:
    """``start + (real() - real start) * scale``: simulated time that runs ``scale`` times faster."""

    scale: float
    real: Callable[[], datetime] = utcnow
    start: datetime | None = None
    _real_start: datetime = field(init=False)

    def __post_init__(self) -> None:
        self._real_start = self.real()
        if self.start is None:
            self.start = self._real_start

    def __call__(self) -> datetime:
        assert self.start is not None
        return self.start + (self.real() - self._real_start) * self.scale


def use_accelerated_time(
    app: Flask,
    time_scale: float,
    *,
    real: Callable[[], datetime] = utcnow,
    carrier: str = "sandbox",
) -> ScaledClock:
    """Run tracking and the simulated ``carrier`` on a clock ``time_scale`` times faster than ``real``."""
    clock = ScaledClock(time_scale, real)
    extension(app).clock = clock
    configure_adapter(app, carrier, clock=clock, time_scale=1)
    return clock
