"""Voice of the customer: topics against hand labels, and comments with their delivery facts."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlmodel import select

from postpurchase.clock import utcnow
from postpurchase.db import get_db
from postpurchase.insights.figures import refresh_rollup
from postpurchase.insights.voc import Topic, VoiceComment, summarise, topics
from postpurchase.models import Feedback, Shipment
from tests.insights.conftest import MONDAY
from tests.insights.test_insights_pages import PERIOD, _sign_in
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


@pytest.fixture
def commented(app, brand, make_brand, add_parcel, committed):
    """A late yamato parcel with a late complaint, an on-time one with praise, and another brand's comment."""
    late = add_parcel(
        brand.brand_id,
        delivered_at=MONDAY + timedelta(days=3),
        promised_date=(MONDAY + timedelta(days=2)).date(),
    )
    on_time = add_parcel(
        brand.brand_id,
        delivered_at=MONDAY + timedelta(days=1),
        promised_date=(MONDAY + timedelta(days=2)).date(),
    )
    other = make_brand("other")
    elsewhere = add_parcel(other.brand_id, delivered_at=MONDAY + timedelta(days=1))
    with app.app_context():
        s = get_db(app).session()
        parcel = {
            o: s.exec(select(Shipment.id).where(Shipment.order_id == o)).one()
            for o in (late, on_time, elsewhere)
        }
        s.close()
    at = MONDAY + timedelta(days=4)
    committed(
        Feedback(
            brand_id=brand.brand_id,
            order_id=late,
            shipment_id=parcel[late],
            nps_score=2,
            comment="配達が二日も遅れました。",
            created_at=at,
        ),
        Feedback(
            brand_id=brand.brand_id,
            order_id=on_time,
            shipment_id=parcel[on_time],
            nps_score=10,
            comment="とても満足です。",
            created_at=at,
        ),
        Feedback(
            brand_id=other.brand_id,
            order_id=elsewhere,
            shipment_id=parcel[elsewhere],
            nps_score=1,
            comment="他社の秘密のコメント",
            created_at=at,
        ),
    )
    with app.app_context():
        s = get_db(app).session()
        for brand_id in (brand.brand_id, other.brand_id):
            refresh_rollup(session=s, brand_id=brand_id, now=utcnow())
        s.commit()
        s.close()
    return brand


def _cells(page: str, table: str, topic: str) -> list[str]:
    body = re.search(rf'<table id="{table}-table">(.*?)</table>', page, re.S).group(1)
    row = re.search(rf'<tr data-topic="{topic}">(.*?)</tr>', body, re.S).group(1)
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
    ]


def test_voice_page_counts_topics_per_week_in_japanese(app, client, commented) -> None:
    _sign_in(app, client, commented.brand_id)
    page = client.get("/merchant/insights/voice", query_string={**PERIOD, "lang": "ja"}).get_data(
        as_text=True
    )
    cells = _cells(page, "topics", "late")
    assert cells[1] == "1"
    # The weeks of 26 Oct, 2, 9, 16, 23 and 30 Nov; the comment is in 2 Nov's.
    assert cells[2:] == ["0", "1", "0", "0", "0", "0"]
    assert "配達が二日も遅れました。" in page


def test_voice_page_links_late_complaints_to_late_parcels_in_english(
    app, client, commented
) -> None:
    _sign_in(app, client, commented.brand_id)
    page = client.get("/merchant/insights/voice", query_string={**PERIOD, "lang": "en"}).get_data(
        as_text=True
    )
    assert _cells(page, "facts", "late")[2] == "100% (1 of 1)"
    assert _cells(page, "facts", "late")[3] == "0% (0 of 1)"
    assert "Late delivery" in page


def test_voice_page_shows_only_the_brands_own_comments(app, client, commented) -> None:
    _sign_in(app, client, commented.brand_id)
    page = client.get("/merchant/insights/voice", query_string=PERIOD).get_data(as_text=True)
    assert "他社の秘密のコメント" not in page


def test_voice_page_bad_period_is_a_400_naming_start(app, client, commented) -> None:
    _sign_in(app, client, commented.brand_id)
    response = client.get(
        "/merchant/insights/voice", query_string={"start": "2026-11-30", "end": "2026-11-01"}
    )
    assert response.status_code == 400
    assert "start" in response.get_data(as_text=True)


def test_pdf_report_has_the_weekly_voice_digest(app, commented) -> None:
    from flask_babel import force_locale

    from postpurchase.insights import queries
    from postpurchase.insights.web import render_report
    from postpurchase.models import Brand

    with app.test_request_context(), force_locale("en"):
        s = get_db(app).session()
        brand = s.get(Brand, commented.brand_id)
        monday = MONDAY.date()
        report = queries.report(
            session=s, brand_id=brand.id, start=monday, end=monday + timedelta(days=6)
        )
        html = render_report("pdf/insights.html", brand, report)
        s.close()
    digest = re.search(r'<table id="voice-digest-table">(.*?)</table>', html, re.S).group(1)
    assert re.search(
        r'data-topic="late">.*?<td>1</td><td>配達が二日も遅れました。</td>', digest, re.S
    )
    assert "Late delivery: 100% of these comments" in html


def test_voice_page_names_topics_in_japanese(app, client, commented) -> None:
    _sign_in(app, client, commented.brand_id)
    page = client.get("/merchant/insights/voice", query_string={**PERIOD, "lang": "ja"}).get_data(
        as_text=True
    )
    assert _cells(page, "topics", "late")[0] == "配達の遅れ"
    assert "1件中1件" in page
