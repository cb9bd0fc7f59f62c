"""Bar chart geometry: lengths proportional to the largest value, labels measured so none is cut."""

from __future__ import annotations

from postpurchase.insights.charts import BAR_WIDTH, MAX_LABEL_WIDTH, bar_chart, text_width


def test_bars_are_proportional_to_the_largest_value() -> None:
    chart = bar_chart("Days", [("a", 2, "2 days"), ("b", 4, "4 days"), ("c", 0, "0 days")])
    assert [bar.width for bar in chart.bars] == [BAR_WIDTH / 2, BAR_WIDTH, 0]
    assert [bar.y for bar in chart.bars] == sorted({bar.y for bar in chart.bars})


def test_a_chart_of_zeros_draws_no_bar_length() -> None:
    assert [bar.width for bar in bar_chart("Share", [("a", 0, "0%")]).bars] == [0]


def test_the_label_column_is_as_wide_as_the_widest_japanese_label() -> None:
    label = "佐川急便 · 飛脚宅配便"
    chart = bar_chart("Days", [(label, 1, "1日"), ("a", 2, "2日")])
    assert chart.label_width >= text_width(label) >= 13 * 9


def test_a_label_too_long_for_one_line_wraps_and_keeps_every_character() -> None:
    label = "ヤマト運輸 · 宅急便コンパクト（北海道・沖縄県・離島を含む全国一律）"
    (bar,) = bar_chart("Days", [(label, 1, "1日")]).bars
    assert len(bar.lines) > 1 and "".join(bar.lines).replace(" ", "") == label.replace(" ", "")
    assert all(text_width(line) <= MAX_LABEL_WIDTH for line in bar.lines)
