"""Bar chart geometry: lengths proportional to the largest value, one row per item."""

from __future__ import annotations

from postpurchase.insights.charts import BAR_WIDTH, ROW_HEIGHT, bar_chart


def test_bars_are_proportional_to_the_largest_value() -> None:
    chart = bar_chart("Days", [("a", 2, "2 days"), ("b", 4, "4 days"), ("c", 0, "0 days")])
    assert [bar.width for bar in chart.bars] == [BAR_WIDTH / 2, BAR_WIDTH, 0]
    assert [bar.y for bar in chart.bars] == [0, ROW_HEIGHT, 2 * ROW_HEIGHT]
    assert chart.height == 3 * ROW_HEIGHT


def test_a_chart_of_zeros_draws_no_bar_length() -> None:
    assert [bar.width for bar in bar_chart("Share", [("a", 0, "0%")]).bars] == [0]
