"""Yamato Transport (クロネコヤマト) from its public tracking page.

No API and no credentials: the page takes up to 10 numbers per form POST
(``number01`` … ``number10``, ``category=0``) to ``https://toi.kuronekoyamato.co.jp/cgi-bin/tneko``
and answers one ``.parts-tracking-invoice-block`` per number, each with a state title and a
``.tracking-invoice-block-detail > ol > li`` history (``.item`` status, ``.date`` 「MM月DD日 HH:MM」,
``.name`` depot). The structure is taken from public open-source scrapers (see the constructed
fixture); when a page does not have it the parser raises ``ParseError`` instead of guessing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from carriers.adapter import Adapter
from carriers.base import Capabilities, ParseError, TrackingResult
from carriers.htmldom import Element, parse_html
from carriers.jp import SHARED_WORDS, UNKNOWN_WORD, digits, parse_jp_time, returning_after_return
from carriers.parsing import (
    Body,
    Rule,
    StatusTable,
    build_result,
    decode_text,
    parser,
    require,
    scan,
)
from carriers.registry import register
from carriers.status import Handover, Status

CODE = "yamato"
#: Page status words (exact text, compared after NFKC) → status; then substring fallbacks.
STATUS_TABLE = StatusTable(
    CODE,
    {
        "出荷指示": Status.info_received,  # slip registered, not handed over yet
        "荷物受付": Status.in_transit,  # accepted by Yamato (first physical scan)
        "発送": Status.in_transit,  # older wording
        "発送済み": Status.in_transit,
        "作業店通過": Status.in_transit,
        "輸送中": Status.in_transit,
        "配達中": Status.out_for_delivery,
        "持戻（ご不在）": Status.attempt_fail,
        "持戻（休業）": Status.attempt_fail,
        "持戻（住所不明）": Status.exception,
        "持戻（転居）": Status.exception,
        "配達日・時間帯指定（保管中）": Status.in_transit,  # held until the requested slot: not a failure
        "ご来店予定（保管中）": Rule(Status.available_for_pickup, "depot", Handover.depot),
        "依頼受付（再配達）": Status.in_transit,
        "配達完了": Status.delivered,
        "配達完了（宅配ボックス）": Rule(Status.delivered, place=Handover.delivery_box),
        "投函完了": Rule(Status.delivered, place=Handover.mailbox),
        "伝票番号誤り": Status.pending,
        "伝票番号未登録": Status.pending,
        **SHARED_WORDS,
    },
    texts=(
        ("配達完了", Status.delivered),
        ("投函完了", Status.delivered),
        ("持戻", Status.attempt_fail),
        ("返品", Status.returning_to_sender),
        ("保管中", Status.available_for_pickup),
    ),
    default=UNKNOWN_WORD,
)
FORM_URL = "https://toi.kuronekoyamato.co.jp/cgi-bin/tneko"


def _text(element: Element | None) -> str:
    return element.text() if element is not None else ""


def _block(block: Element, now: datetime | None) -> TrackingResult:
    title = _text(block.find(cls="tracking-invoice-block-title"))
    match = re.search(r"\d{4}-?\d{4}-?\d{4}", title.replace(" ", ""))
    if match is None:
        raise ParseError("invoice block without a slip number", carrier=CODE)
    number = digits(match.group(0))
    error = block.find(cls="is-urgent-red")
    state = _text(block.find(cls="tracking-invoice-block-state-title")) or _text(error)
    detail = block.find(cls="tracking-invoice-block-detail")
    if detail is None:
        require(error is not None or state, "invoice block without history or state", CODE)
        fallback = STATUS_TABLE.resolve(state, text=state).status or Status.pending
        return build_result(
            CODE, number, [], fallback=fallback, extra={"carrier_status_text": state}
        )
    rows = [li for ol in detail.find_all("ol") for li in ol.child_elements("li")]
    require(rows, "history list is empty", CODE)
    events = []
    for li in rows:
        item, when = _text(li.find(cls="item")), _text(li.find(cls="date"))
        require(item and when, "history row without .item or .date", CODE)
        events.append(
            scan(
                STATUS_TABLE,
                parse_jp_time(when, now=now),
                item,
                item,
                _text(li.find(cls="name")) or None,
            )
        )
    return build_result(
        CODE, number, returning_after_return(events), extra={"carrier_status_text": state or None}
    )


@parser(CODE)
def parse_tracking(body: Body, *, now: datetime | None = None) -> list[TrackingResult]:
    """Every invoice block of a Yamato result page (``now`` places year-less dates)."""
    root = parse_html(decode_text(body, CODE))
    blocks = root.find_all(cls="parts-tracking-invoice-block")
    if not blocks:
        raise ParseError("no .parts-tracking-invoice-block: page layout changed?", carrier=CODE)
    return [_block(block, now) for block in blocks]


@register(CODE)
class Yamato(Adapter):
    code = CODE
    name = "Yamato Transport (クロネコヤマト)"
    local_names: ClassVar[dict[str, str]] = {"ja": "ヤマト運輸"}
    service_names: ClassVar[dict[str, str]] = {
        "takkyubin": "宅急便",
        "compact": "宅急便コンパクト",
        "nekopos": "ネコポス",
    }
    capabilities = Capabilities(
        max_batch=10,
        requests_per_second=0.5,
        auth="none",
        tracking_url="https://jizen.kuronekoyamato.co.jp/jizen/servlet/crjz.b.NQ0010?id={number}",
        # The parcel's own page on Kuroneko Members, where the date, slot and place are changed.
        redelivery_url="https://member.kms.kuronekoyamato.co.jp/parcel/detail?pno={number}",
    )
    default_base_url = FORM_URL
    parse_function = staticmethod(parse_tracking)

    def track(self, numbers: Sequence[str]) -> list[TrackingResult]:
        numbers = [digits(n) for n in self.check_batch(numbers)]
        if not numbers:
            return []
        form = {"category": "0", **{f"number{i:02d}": n for i, n in enumerate(numbers, start=1)}}
        response = self.http.request("POST", self.base_url, data=form)
        results = parse_tracking(response.content, now=self.clock())
        require(
            {r.tracking_number for r in results} >= set(numbers),
            "page lacks a requested number",
            CODE,
        )
        return results
