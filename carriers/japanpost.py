"""Japan Post (日本郵便: ゆうパック, ゆうパケット, 書留) from its public tracking page.

No API and no credentials: ``GET https://trackings.post.japanpost.jp/services/srv/search/direct
?searchKind=S002&locale=ja&reqCodeNo1=<number>``. The detail page has a table
``summary="配達状況詳細"`` (number, service) and a table ``summary="履歴情報"`` whose events take two
rows each: 状態発生日 「YYYY/MM/DD HH:MM」, 配送履歴, 詳細, 取扱局, 県名等, then 郵便番号. Structure
taken from public open-source scrapers (see the constructed fixture); anything else raises
``ParseError``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from carriers.adapter import Adapter
from carriers.base import Capabilities, ParseError, TrackingResult
from carriers.htmldom import parse_html
from carriers.jp import SHARED_WORDS, UNKNOWN_WORD, digits, parse_jp_time, returning_after_return
from carriers.parsing import (
    Body,
    Rule,
    StatusTable,
    build_result,
    decode_text,
    join_location,
    parser,
    require,
    scan,
)
from carriers.registry import register
from carriers.status import Handover, Status

CODE = "japanpost"
#: 配送履歴 words → status; substring fallbacks after the exact words.
STATUS_TABLE = StatusTable(
    CODE,
    {
        "引受": Status.in_transit,
        "通過": Status.in_transit,
        "到着": Status.in_transit,
        "発送": Status.in_transit,
        "中継": Status.in_transit,
        "転送": Status.in_transit,
        "配達希望受付": Status.in_transit,
        "持ち出し中": Status.out_for_delivery,
        "ご不在のため持ち戻り": Status.attempt_fail,
        "保管": Rule(Status.available_for_pickup, "post_office", Handover.post_office),
        "お届け先にお届け済み": Status.delivered,
        "窓口でお渡し": Rule(Status.delivered, place=Handover.post_office),
        "差出人に返送": Status.returning_to_sender,
        "差出人に返送済み": Status.returned,
        **SHARED_WORDS,
    },
    texts=(
        ("お届け済み", Status.delivered),
        ("お渡し", Status.delivered),
        ("返送済み", Status.returned),
        ("返送", Status.returning_to_sender),
        ("持ち戻り", Status.attempt_fail),
        ("保管", Status.available_for_pickup),
        ("調査", Status.exception),
    ),
    default=UNKNOWN_WORD,
)
_DATE_CELL = re.compile(r"\d{1,4}[/年]\d{1,2}")


@parser(CODE)
def parse_tracking(body: Body, *, now: datetime | None = None) -> list[TrackingResult]:
    root = parse_html(decode_text(body, CODE))
    summary = root.find("table", summary="配達状況詳細")
    if summary is None:
        raise ParseError('no table summary="配達状況詳細": page layout changed?', carrier=CODE)
    first_cells = summary.find_all("td")
    number = digits(first_cells[0].text()) if first_cells else ""
    history = root.find("table", summary="履歴情報")
    if history is None:
        require(
            number or "見つかりません" in summary.text(),
            "neither history nor a not-found notice",
            CODE,
        )
        # A parcel under investigation (調査中) comes without its history, the word in the summary.
        said = STATUS_TABLE.resolve(text=summary.text())
        return [
            build_result(
                CODE,
                number or "unknown",
                [],
                fallback=said.status or Status.pending,
                extra={"carrier_status_text": summary.text()},
            )
        ]
    require(number, "summary table without a number", CODE)
    events = []
    for row in history.find_all("tr"):
        cells = row.find_all("td")
        if len(cells) < 2 or not _DATE_CELL.search(cells[0].text()):
            continue  # header rows and the postcode half of each event
        status_text = cells[1].text()
        detail = cells[2].text() if len(cells) > 2 else ""
        location = join_location(*(c.text() for c in cells[3:5]))
        events.append(
            scan(
                STATUS_TABLE,
                parse_jp_time(cells[0].text(), now=now),
                status_text,
                f"{status_text} {detail}".strip(),
                location,
                keys=[status_text],
            )
        )
    require(events, "history table without events", CODE)
    service = first_cells[1].text() if len(first_cells) > 1 else None
    return [build_result(CODE, number, returning_after_return(events), extra={"service": service})]


@register(CODE)
class JapanPost(Adapter):
    code = CODE
    name = "Japan Post (日本郵便)"
    local_names: ClassVar[dict[str, str]] = {"ja": "日本郵便"}
    service_names: ClassVar[dict[str, str]] = {
        "yu-pack": "ゆうパック",
        "yu-packet": "ゆうパケット",
        "letterpack": "レターパック",
    }
    capabilities = Capabilities(
        max_batch=1,
        requests_per_second=0.5,
        auth="none",
        tracking_url="https://trackings.post.japanpost.jp/services/srv/search/direct?searchKind=S002&locale=ja&reqCodeNo1={number}",
        # The 再配達 form takes no number in its address and asks for more (postal code, notice
        # date, item type), so the tracking page shows the number to copy; the tracking link
        # above does take it.
        redelivery_url="https://trackings.post.japanpost.jp/delivery/deli/",
    )
    default_base_url = "https://trackings.post.japanpost.jp/services/srv/search/direct"
    parse_function = staticmethod(parse_tracking)

    def track(self, numbers: Sequence[str]) -> list[TrackingResult]:
        results = []
        for number in self.check_batch(numbers):
            response = self.http.request(
                "GET",
                self.base_url,
                params={"searchKind": "S002", "locale": "ja", "reqCodeNo1": digits(number)},
            )
            results.extend(parse_tracking(response.content, now=self.clock()))
        return results
