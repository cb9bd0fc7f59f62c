"""Voice of the customer: topics against hand labels, and comments with their delivery facts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from postpurchase.insights.voc import Topic, VoiceComment, summarise, topics
from tests.insights.voc_labels import LABELLED

#: Agreement asserted on the labelled set (the lexicon was written with this set in view, so these
#: are development figures: a merchant's comments will agree somewhat less).
MIN_KAPPA = 0.9
MIN_EXACT = 0.85


def _decisions() -> list[tuple[bool, bool]]:
    """(lexicon says topic, person says topic) for every comment and topic."""
    pairs = []
    for text, labels in LABELLED:
        found = {topic.value for topic in topics(text)}
        pairs += [(t.value in found, t.value in labels) for t in Topic]
    return pairs


def test_labelled_set_is_mostly_japanese_and_large_enough() -> None:
    japanese = [text for text, _ in LABELLED if not text.isascii()]
    assert len(japanese) >= 60
    assert len(LABELLED) > len(japanese)


def test_topics_agree_with_hand_labels_at_the_stated_kappa() -> None:
    pairs = _decisions()
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    said, labelled = sum(a for a, _ in pairs) / n, sum(b for _, b in pairs) / n
    expected = said * labelled + (1 - said) * (1 - labelled)
    assert (observed - expected) / (1 - expected) >= MIN_KAPPA


def test_most_comments_get_exactly_their_hand_labelled_topics() -> None:
    exact = sum({t.value for t in topics(text)} == labels for text, labels in LABELLED)
    assert exact / len(LABELLED) >= MIN_EXACT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("破損もなく綺麗に届きました。", set()),
        ("返信がありません。", {Topic.service}),
        ("指定日に間に合わなかった。", {Topic.late}),
        ("No damage, fast delivery.", set()),
    ],
)
def test_a_negation_undoes_a_delivery_term_but_is_the_complaint_elsewhere(
    text: str, expected: set[Topic]
) -> None:
    assert topics(text) == expected


def _comment(day: date, text: str, *, late: bool | None) -> VoiceComment:
    return VoiceComment(
        source="nps",  # type: ignore[arg-type]
        text=text,
        day=day,
        order_number="#1",
        carrier_code="yamato",
        score=3,
        reason_code=None,
        late=late,
        damaged=False,
        failed_attempt=False,
        topics=frozenset(topics(text)),
    )


def test_late_complaints_are_linked_to_parcels_that_were_late() -> None:
    monday = date(2026, 11, 2)
    voice = summarise(
        monday,
        monday + timedelta(days=13),
        [
            _comment(monday, "配達が遅れました。", late=True),
            _comment(monday + timedelta(days=8), "届くのが遅い。", late=False),
            _comment(monday + timedelta(days=9), "とても満足です。", late=False),
        ],
    )
    late = next(link for link in voice.links if link.topic == Topic.late)
    row = next(row for row in voice.topics if row.topic == Topic.late)
    assert (late.known, late.confirmed, late.other_known, late.other_confirmed) == (2, 1, 1, 0)
    assert late.share == 0.5
    assert row.weekly == [1, 1]
    assert voice.untopical == 1
