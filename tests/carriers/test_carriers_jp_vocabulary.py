"""Every Japanese page word, per carrier: its status and where it says the parcel is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from carriers import japanpost, sagawa, yamato
from carriers.base import TrackingResult
from carriers.parsing import StatusTable, build_result, scan
from carriers.status import Handover, Status

AT = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
TABLES = {
    "yamato": yamato.STATUS_TABLE,
    "sagawa": sagawa.STATUS_TABLE,
    "japanpost": japanpost.STATUS_TABLE,
}

#: (carrier, page word, status, delivered_to); the TSV's words plus those the issue names.
WORDS = [
    ("yamato", "出荷指示", Status.info_received, None),
    ("yamato", "荷物受付", Status.in_transit, None),
    ("yamato", "発送", Status.in_transit, None),
    ("yamato", "発送済み", Status.in_transit, None),
    ("yamato", "作業店通過", Status.in_transit, None),
    ("yamato", "輸送中", Status.in_transit, None),
    ("yamato", "配達中", Status.out_for_delivery, None),
    ("yamato", "持戻（ご不在）", Status.attempt_fail, None),
    ("yamato", "持戻（休業）", Status.attempt_fail, None),
    ("yamato", "持戻（住所不明）", Status.exception, None),
    ("yamato", "持戻（転居）", Status.exception, None),
    ("yamato", "調査中", Status.exception, None),
    ("yamato", "配達日・時間帯指定（保管中）", Status.in_transit, None),
    ("yamato", "ご来店予定（保管中）", Status.available_for_pickup, Handover.depot),
    ("yamato", "依頼受付（再配達）", Status.in_transit, None),
    ("yamato", "配達完了", Status.delivered, None),
    ("yamato", "配達完了（宅配ボックス）", Status.delivered, Handover.delivery_box),
    ("yamato", "投函完了", Status.delivered, Handover.mailbox),
    ("yamato", "返品", Status.returning_to_sender, None),
    ("yamato", "伝票番号誤り", Status.pending, None),
    ("yamato", "置き配完了", Status.delivered, Handover.safe_place),
    ("yamato", "コンビニ到着", Status.available_for_pickup, Handover.convenience_store),
    ("yamato", "保管中", Status.available_for_pickup, Handover.depot),
    ("sagawa", "↓集荷", Status.in_transit, None),
    ("sagawa", "↓輸送中", Status.in_transit, None),
    ("sagawa", "↓配達中", Status.out_for_delivery, None),
    ("sagawa", "⇒配達完了", Status.delivered, None),
    ("sagawa", "配達終了", Status.delivered, None),
    ("sagawa", "該当なし", Status.pending, None),
    ("sagawa", "置き配完了", Status.delivered, Handover.safe_place),
    ("sagawa", "コンビニ到着", Status.available_for_pickup, Handover.convenience_store),
    ("sagawa", "保管中", Status.available_for_pickup, Handover.depot),
    ("sagawa", "調査中", Status.exception, None),
    ("sagawa", "返品", Status.returning_to_sender, None),
    ("japanpost", "引受", Status.in_transit, None),
    ("japanpost", "通過", Status.in_transit, None),
    ("japanpost", "到着", Status.in_transit, None),
    ("japanpost", "持ち出し中", Status.out_for_delivery, None),
    ("japanpost", "ご不在のため持ち戻り", Status.attempt_fail, None),
    ("japanpost", "保管", Status.available_for_pickup, Handover.post_office),
    ("japanpost", "お届け先にお届け済み", Status.delivered, None),
    ("japanpost", "窓口でお渡し", Status.delivered, Handover.post_office),
    ("japanpost", "差出人に返送", Status.returning_to_sender, None),
    ("japanpost", "差出人に返送済み", Status.returned, None),
    ("japanpost", "配達希望受付", Status.in_transit, None),
    ("japanpost", "置き配完了", Status.delivered, Handover.safe_place),
    ("japanpost", "コンビニ到着", Status.available_for_pickup, Handover.convenience_store),
    ("japanpost", "保管中", Status.available_for_pickup, Handover.depot),
    ("japanpost", "調査中", Status.exception, None),
    ("japanpost", "返品", Status.returning_to_sender, None),
]


def _result(table: StatusTable, *words: str) -> TrackingResult:
    events = [scan(table, AT + timedelta(hours=i), w, w) for i, w in enumerate(words)]
    return build_result(table.carrier, "1234", events)


@pytest.mark.parametrize(
    ("carrier", "word", "status", "place"), WORDS, ids=[f"{c}:{w}" for c, w, _, _ in WORDS]
)
def test_each_page_word_maps_to_its_status_and_place(
    carrier: str, word: str, status: Status, place: Handover | None
) -> None:
    table = TABLES[carrier]
    assert word in table, "listed explicitly, not found by a fallback"
    result = _result(table, "輸送中" if carrier != "japanpost" else "通過", word)
    assert (result.status, result.delivered_to) == (status, place)


@pytest.mark.parametrize("carrier", sorted(TABLES))
def test_an_unknown_word_keeps_the_status_before_it_and_its_raw_text(carrier: str) -> None:
    table = TABLES[carrier]
    result = _result(table, "配達中" if carrier != "japanpost" else "持ち出し中", "謎の新表示")
    assert result.status is Status.out_for_delivery
    assert (result.events[-1].code, result.events[-1].sub_status) == (
        "謎の新表示",
        "unknown_status",
    )


def _sagawa_page(state: str, rows: list[tuple[str, str]]) -> str:
    history = "".join(
        f"<tr><td>{word}</td><td>{when}</td><td>京都営業所</td></tr>" for word, when in rows
    )
    table = f'<table class="table_okurijo_detail2"><tr><th>荷物状況</th></tr>{history}</table>'
    return (
        f'<span class="state">{state}</span><dd id="detail1"><table class="table_okurijo_detail2">'
        f"<tr><th>お問い合せ送り状NO</th><td>3600-1111-2222</td></tr></table>"
        f"{table if rows else ''}</dd>"
    )


def test_sagawa_under_investigation_without_history_is_an_exception() -> None:
    [result] = sagawa.parse_tracking(_sagawa_page("調査中", []), now=AT)
    assert (result.status, result.events) == (Status.exception, ())


def test_sagawa_transport_lines_after_a_return_are_the_way_back() -> None:
    page = _sagawa_page(
        "返品", [("↓輸送中", "11/16 10:00"), ("返品", "11/17 09:00"), ("↓輸送中", "11/17 18:00")]
    )
    [result] = sagawa.parse_tracking(page, now=AT)
    assert result.status is Status.returning_to_sender
    assert result.events[0].status is Status.in_transit


def test_japan_post_under_investigation_without_history_is_an_exception() -> None:
    page = '<table summary="配達状況詳細"><tr><td>1234-5678-9012</td><td>ゆうパック</td><td>調査中</td></tr></table>'
    [result] = japanpost.parse_tracking(page, now=AT)
    assert result.status is Status.exception


def test_yamato_under_investigation_without_history_is_an_exception() -> None:
    page = (
        '<div class="parts-tracking-invoice-block"><div class="tracking-invoice-block-title">'
        '4000-0000-0009</div><div class="tracking-invoice-block-state-title">調査中</div></div>'
    )
    [result] = yamato.parse_tracking(page, now=AT)
    assert result.status is Status.exception
