"""Horizontal bar charts as plain geometry, drawn by the ``charts.html`` macro as inline SVG (no JavaScript)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Layout in SVG user units: label column, bar area, value column, row height.
LABEL_WIDTH, BAR_WIDTH, VALUE_WIDTH, ROW_HEIGHT, BAR_HEIGHT = 220, 300, 80, 28, 18


@dataclass(frozen=True)
class Bar:
    label: str
    #: What the bar says in words, e.g. ``2 days`` or ``93%``; also its accessible name.
    text: str
    y: int
    width: float


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Bar]
    width: int
    height: int
    label_width: int = LABEL_WIDTH
    bar_height: int = BAR_HEIGHT


def bar_chart(title: str, items: Sequence[tuple[str, float, str]]) -> Chart:
    """One bar per ``(label, value, text)``, lengths proportional to the largest value."""
    largest = max((value for _, value, _ in items), default=0) or 1
    bars = [
        Bar(
            label=label,
            text=text,
            y=index * ROW_HEIGHT,
            width=round(BAR_WIDTH * max(value, 0) / largest, 1),
        )
        for index, (label, value, text) in enumerate(items)
    ]
    return Chart(
        title=title,
        bars=bars,
        width=LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH,
        height=max(len(bars), 1) * ROW_HEIGHT,
    )
