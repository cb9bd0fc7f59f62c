"""Sagawa Express (佐川急便) from its public tracking page.

No API and no credentials: ``GET https://k2k.sagawa-exp.co.jp/p/web/okurijosearch.do?okurijoNo=``
(one number per page). The page shows ``span.state`` (latest state, 「該当なし」 when unknown) and in
``dd#detail1`` a parcel table (送り状NO, 出荷日) followed by a history table whose rows are
「↓集荷」「↓輸送中」「↓配達中」「⇒配達完了」 + 「MM/DD HH:MM」 + office. Structure taken from public
open-source scrapers (see the constructed fixture); anything else raises ``ParseError``.
"""

from __future__ import annotations

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

CODE = "sagawa"
#: Page words; the arrows (↓ ⇒) are stripped before matching.
STATUS_TABLE = StatusTable(
    CODE,
    {
        "↓集荷": Status.in_transit,
        "↓輸送中": Status.in_transit,
        "↓配達中": Status.out_for_delivery,
        "⇒配達完了": Status.delivered,
        "配達終了": Status.delivered,
        "該当なし": Status.pending,
        **SHARED_WORDS,
    },
    texts=(
        ("配達完了", Status.delivered),
        ("持戻", Status.attempt_fail),
        ("ご不在", Status.attempt_fail),
        ("返送", Status.returning_to_sender),
        ("営業所保管", Rule(Status.available_for_pickup, "depot", Handover.depot)),
    ),
    default=UNKNOWN_WORD,
)


def _labelled(table: Element, label: str) -> str:
    for row in table.find_all("tr"):
        head = row.find("th")
        cell = row.find("td")
        if head is not None and cell is not None and label in head.text():
            return cell.text()
    return ""


@parser(CODE)
def parse_tracking(body: Body, *, now: datetime | None = None) -> list[TrackingResult]:
    root = parse_html(decode_text(body, CODE))
    state = root.find("span", cls="state")
    if state is None:
        raise ParseError("no span.state: page layout changed?", carrier=CODE)
    detail = root.find("dd", id="detail1")
    tables = (
        detail.find_all("table")
        if detail is not None
        else root.find_all("table", cls="table_okurijo_detail2")
    )
    require(tables, "no parcel table", CODE)
    number = digits(_labelled(tables[0], "送り状"))
    require(number, "parcel table without 送り状NO", CODE)
    state_text = state.text()
    said = STATUS_TABLE.resolve(state_text, text=state_text).status
    if said is Status.pending or (len(tables) < 2 and said is not None):
        # Unknown numbers, and parcels under investigation (調査中), come without a history table.
        return [
            build_result(CODE, number, [], fallback=said, extra={"carrier_status_text": state_text})
        ]
    require(len(tables) >= 2, "no history table", CODE)
    events = []
    for row in tables[1].find_all("tr"):
        cells = row.find_all("td")
        if not cells:
            continue  # header row
        require(len(cells) >= 2, "history row with fewer than 2 cells", CODE)
        status_text, when = cells[0].text(), cells[1].text()
        location = cells[2].text() if len(cells) > 2 else None
        events.append(
            scan(
                STATUS_TABLE,
                parse_jp_time(when, now=now),
                status_text,
                status_text,
                location or None,
            )
        )
    require(events, "history table without rows", CODE)
    return [
        build_result(
            CODE, number, returning_after_return(events), extra={"carrier_status_text": state_text}
        )
    ]


@register(CODE)
class Sagawa(Adapter):
    code = CODE
    name = "Sagawa Express (佐川急便)"
    local_names: ClassVar[dict[str, str]] = {"ja": "佐川急便"}
    service_names: ClassVar[dict[str, str]] = {
        "hikyaku": "飛脚宅配便",
        "hikyaku-express": "飛脚ジャストタイム便",
    }
    capabilities = Capabilities(
        max_batch=1,
        requests_per_second=0.5,
        auth="none",
        tracking_url="https://k2k.sagawa-exp.co.jp/p/web/okurijosearch.do?okurijoNo={number}",
        # The redelivery form takes no number in its address (the customer types the 送り状No.),
        # so the tracking page shows the number to copy; the tracking link above does take it.
        redelivery_url="https://www.sagawa-exp.co.jp/send/redelivery/",
    )
    default_base_url = "https://k2k.sagawa-exp.co.jp/p/web/okurijosearch.do"
    parse_function = staticmethod(parse_tracking)

    def track(self, numbers: Sequence[str]) -> list[TrackingResult]:
        results = []
        for number in self.check_batch(numbers):
            response = self.http.request("GET", self.base_url, params={"okurijoNo": digits(number)})
            results.extend(parse_tracking(response.content, now=self.clock()))
        return results
