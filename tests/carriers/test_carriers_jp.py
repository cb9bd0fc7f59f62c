"""Japanese carriers: every status word of the vocabulary TSV, year inference, loud failures."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from carriers import japanpost, metrics, sagawa, yamato
from carriers.base import ParseError
from carriers.jp import parse_jp_time
from carriers.parsing import JST
from carriers.status import Status
from tests.conftest import CONFORMANCE

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2025, 1, 14, 3, 0, tzinfo=UTC)
CAMEL = {
    "Pending": {Status.pending},
    "InfoReceived": {Status.info_received},
    "InTransit": {Status.in_transit},
    "OutForDelivery": {Status.out_for_delivery},
    "AttemptFail": {Status.attempt_fail},
    "AvailableForPickup": {Status.available_for_pickup},
    "Delivered": {Status.delivered},
    "Exception": {Status.exception},
    "ReturnedToSender": {Status.returning_to_sender, Status.returned},
    "Expired": {Status.expired},
}
TABLES = {
    "yamato": yamato.STATUS_TABLE,
    "sagawa": sagawa.STATUS_TABLE,
    "japanpost": japanpost.STATUS_TABLE,
}
#: The shared vocabulary also lists warehouse (WMS) states; no carrier reports them and intake
#: takes no WMS state, so nothing here maps them.
WAREHOUSES = {"openlogi", "logiless"}


def vocab_rows() -> list[dict[str, str]]:
    with (CONFORMANCE / "jp_carriers" / "jp_carrier_status_vocab.tsv").open(
        encoding="utf-8"
    ) as handle:
        return [
            row
            for row in csv.DictReader(handle, delimiter="\t")
            if row["carrier"] not in WAREHOUSES
        ]


@pytest.mark.parametrize("row", vocab_rows(), ids=lambda r: f"{r['carrier']}:{r['raw_status']}")
def test_every_status_word_of_the_vocabulary_maps_as_listed(row: dict[str, str]) -> None:
    table = TABLES[row["carrier"]]
    assert row["raw_status"] in table, "listed explicitly, not by a fallback"
    rule = table.resolve(row["raw_status"], text=row["raw_status"])
    assert rule.status in CAMEL[row["normalized_status"]]


def test_the_vocabulary_covers_every_carrier_table() -> None:
    assert {r["carrier"] for r in vocab_rows()} == set(TABLES)


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("荷物受付", Status.in_transit),
        ("発送済み", Status.in_transit),
        ("輸送中", Status.in_transit),
        ("配達中", Status.out_for_delivery),
        ("持戻(ご不在)", Status.attempt_fail),
        ("持戻（ご不在）", Status.attempt_fail),
        ("配達完了", Status.delivered),
        ("調査中", Status.exception),
        ("返品", Status.returning_to_sender),
    ],
)
def test_issue_scan_texts_map_including_half_width_brackets(word: str, status: Status) -> None:
    assert yamato.STATUS_TABLE.resolve(word, text=word).status is status


def test_returned_completed_is_distinguished_from_returning() -> None:
    table = japanpost.STATUS_TABLE
    assert table.resolve("差出人に返送").status is Status.returning_to_sender
    assert table.resolve("差出人に返送済み").status is Status.returned


def test_year_less_dates_take_the_latest_year_not_after_now() -> None:
    assert parse_jp_time("12月30日 18:02", now=NOW) == datetime(2024, 12, 30, 18, 2, tzinfo=JST)
    assert parse_jp_time("01/13 15:20", now=NOW) == datetime(2025, 1, 13, 15, 20, tzinfo=JST)
    assert parse_jp_time("2009年08月24日", now=NOW) == datetime(2009, 8, 24, tzinfo=JST)


def test_yamato_page_with_three_numbers_crosses_new_year() -> None:
    results = yamato.parse_tracking(
        (FIXTURES / "yamato_multi_constructed.html").read_bytes(), now=NOW
    )
    delivered, returned, invalid = results
    assert [r.tracking_number for r in results] == ["400000000001", "400000000002", "400000000003"]
    assert delivered.status is Status.delivered
    assert delivered.events[0].occurred_at == datetime(2024, 12, 30, 18, 2, tzinfo=JST)
    assert delivered.events[-1].occurred_at == datetime(2025, 1, 2, 10, 12, tzinfo=JST)
    assert Status.attempt_fail in [e.status for e in delivered.events]
    assert returned.status is Status.returning_to_sender
    assert (invalid.status, invalid.events) == (Status.pending, ())


def test_sagawa_strips_arrows_and_reads_unknown_numbers_as_pending() -> None:
    [delivered] = sagawa.parse_tracking(
        (FIXTURES / "sagawa_delivered_constructed.html").read_bytes(), now=NOW
    )
    assert [e.status for e in delivered.events] == [
        Status.in_transit,
        Status.in_transit,
        Status.in_transit,
        Status.out_for_delivery,
        Status.delivered,
    ]
    assert delivered.events[0].code == "↓集荷"  # raw text kept
    [unknown] = sagawa.parse_tracking(
        (FIXTURES / "sagawa_not_found_constructed.html").read_bytes(), now=NOW
    )
    assert (unknown.tracking_number, unknown.status) == ("360099990000", Status.pending)


def test_japan_post_attempt_then_counter_pickup() -> None:
    [result] = japanpost.parse_tracking(
        (FIXTURES / "japanpost_delivered_constructed.html").read_bytes(), now=NOW
    )
    assert [e.status for e in result.events][-3:] == [
        Status.attempt_fail,
        Status.available_for_pickup,
        Status.delivered,
    ]
    assert result.extra["service"] == "ゆうパック"


def test_japan_post_returned_page_without_years() -> None:
    [result] = japanpost.parse_tracking(
        (FIXTURES / "japanpost_returned_constructed.html").read_bytes(), now=NOW
    )
    assert result.status is Status.returned
    assert result.events[0].occurred_at.year == 2024 and result.events[-1].occurred_at.year == 2025


def test_fixtures_are_marked_constructed() -> None:
    for path in FIXTURES.glob("*.html"):
        assert "CONSTRUCTED" in path.read_text(encoding="utf-8").split("-->")[0], path.name


def test_shift_jis_pages_decode() -> None:
    page = (
        (FIXTURES / "sagawa_delivered_constructed.html")
        .read_text(encoding="utf-8")
        .replace("UTF-8", "Shift_JIS")
    )
    [result] = sagawa.parse_tracking(page.encode("cp932"), now=NOW)
    assert result.status is Status.delivered


@pytest.mark.parametrize(
    ("module", "page"),
    [
        (yamato, "<html><body><div class='tracking-result'>新しいレイアウト</div></body></html>"),
        (sagawa, "<html><body><p>メンテナンス中です</p></body></html>"),
        (
            japanpost,
            "<html><body><table summary='別の表'><tr><td>x</td></tr></table></body></html>",
        ),
        (
            yamato,
            "<div class='parts-tracking-invoice-block'><div class='tracking-invoice-block-title'>1件目</div></div>",
        ),
        (
            yamato,
            (
                "<div class='parts-tracking-invoice-block'><div class='tracking-invoice-block-title'>4000-0000-0001</div>"
                "<div class='tracking-invoice-block-detail'><ol><li><div class='item'>配達完了</div></li></ol></div></div>"
            ),
        ),
    ],
)
def test_unexpected_page_structure_fails_loudly_and_is_counted(module, page: str) -> None:
    before = metrics.snapshot().get(module.CODE, 0)
    with pytest.raises(ParseError) as raised:
        module.parse_tracking(page.encode(), now=NOW)
    assert raised.value.carrier == module.CODE
    assert metrics.snapshot()[module.CODE] == before + 1
