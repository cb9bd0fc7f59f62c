"""Horizontal bar charts as plain geometry, drawn by the ``charts.html`` macro as inline SVG (no JavaScript).

Labels are measured, not guessed: the label column is as wide as the widest label (wrapped onto more
lines past :data:`MAX_LABEL_WIDTH`), so a long Japanese label is never cut at the left edge.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

#: Layout in SVG user units: font size, bar area, row height of one line, bar height, gaps.
FONT_SIZE, BAR_WIDTH, LINE_HEIGHT, BAR_HEIGHT, GAP = 13, 300, 16, 18, 10
#: Labels wider than this wrap onto further lines.
MAX_LABEL_WIDTH = 240


def text_width(text: str, font_size: float = FONT_SIZE) -> float:
    """A generous width of ``text`` in user units: a full em for wide (CJK) characters, 0.62 em for others.

    Proportional Latin glyphs average about 0.55 em, so the estimate errs towards room to spare.
    """
    wide = sum(1 for char in text if unicodedata.east_asian_width(char) in "WF")
    return (wide + 0.62 * (len(text) - wide)) * font_size


def wrap(text: str, width: float) -> list[str]:
    """``text`` in lines no wider than ``width``: at spaces where there are any, else between characters."""
    lines: list[str] = []
    line = ""
    for char in text:
        if line and text_width(line + char) > width:
            cut = line.rfind(" ")
            if cut > 0 and char != " ":
                lines.append(line[:cut])
                line = line[cut + 1 :]
            else:
                lines.append(line.rstrip())
                line = ""
        if line or char != " ":
            line += char
    return [*lines, line] if line else lines or [""]


@dataclass(frozen=True)
class Bar:
    label: str
    #: The label as drawn, one entry per line.
    lines: list[str]
    #: What the bar says in words, e.g. ``2 days`` or ``93%``; also its accessible name.
    text: str
    y: int
    width: float
    #: Height of the bar's row (more than one line when its label wraps).
    height: int


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Bar]
    width: int
    height: int
    label_width: int
    bar_height: int = BAR_HEIGHT
    line_height: int = LINE_HEIGHT


def bar_chart(title: str, items: Sequence[tuple[str, float, str]]) -> Chart:
    """One bar per ``(label, value, text)``, lengths proportional to the largest value."""
    largest = max((value for _, value, _ in items), default=0) or 1
    wrapped = [wrap(label, MAX_LABEL_WIDTH) for label, _, _ in items]
    label_width = round(max((text_width(line) for lines in wrapped for line in lines), default=0))
    value_width = round(max((text_width(text) for _, _, text in items), default=0))
    bars = []
    y = 0
    for (label, value, text), lines in zip(items, wrapped, strict=True):
        height = max(BAR_HEIGHT, len(lines) * LINE_HEIGHT) + GAP
        bars.append(
            Bar(
                label=label,
                lines=lines,
                text=text,
                y=y,
                width=round(BAR_WIDTH * max(value, 0) / largest, 1),
                height=height,
            )
        )
        y += height
    return Chart(
        title=title,
        bars=bars,
        width=label_width + GAP + BAR_WIDTH + GAP + value_width + GAP,
        height=max(y, BAR_HEIGHT + GAP),
        label_width=label_width + GAP,
    )
