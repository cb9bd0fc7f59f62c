"""Australia Post Shipping & Tracking API (``/shipping/v1/track``), mapped by text.

Credentials: ``api_key``, ``password``, ``account_number``. Up to 10 ids per call. Events sit
under ``trackable_items[].items[].events`` or directly under ``trackable_items[].events``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from carriers.adapter import Adapter
from carriers.base import Capabilities, TrackingEvent, TrackingResult
from carriers.parsing import (
    CUSTOMS_TEXTS,
    Body,
    CodeClasses,
    StatusTable,
    as_dict,
    as_list,
    build_result,
    load_json,
    parse_instant,
    parser,
    require,
    scan,
)
from carriers.registry import register
from carriers.status import Status

CODE = "australiapost"
#: Australia Post has no event codes: ordered substring rules on the description.
STATUS_TABLE = StatusTable(
    CODE,
    {"unknown": Status.pending, "delivered": Status.delivered, "in transit": Status.in_transit},
    texts=(
        *CUSTOMS_TEXTS,
        ("shipping information received", Status.info_received),
        ("shipping information approved", Status.info_received),
        ("onboard for delivery", Status.out_for_delivery),
        ("with driver", Status.out_for_delivery),
        ("awaiting collection", Status.available_for_pickup),
        ("ready for collection", Status.available_for_pickup),
        ("attempted delivery", Status.attempt_fail),
        ("card left", Status.attempt_fail),
        ("returned to sender", Status.returning_to_sender),
        ("return to sender", Status.returning_to_sender),
        ("unable to deliver", Status.exception),
        ("damaged", Status.exception),
        ("delivered", Status.delivered),
        ("received by australia post", Status.in_transit),
        ("received item from sender", Status.in_transit),
        ("facility", Status.in_transit),
        ("customs", Status.in_transit),
        ("clearance", Status.in_transit),
        ("air carrier", Status.in_transit),
        ("in transit", Status.in_transit),
        ("despatch", Status.in_transit),
        ("arrived", Status.in_transit),
        ("cleared", Status.in_transit),
    ),
    classes=CodeClasses(),
)


def _events(raw_events: Any) -> list[TrackingEvent]:
    return [
        scan(
            STATUS_TABLE,
            parse_instant(e["date"]),
            "",
            str(e.get("description") or ""),
            e.get("location"),
            keys=[],
        )
        for e in map(as_dict, as_list(raw_events))
    ]


@parser(CODE)
def parse_tracking(body: Body) -> list[TrackingResult]:
    tracking_results = as_list(as_dict(load_json(body, CODE)).get("tracking_results"))
    require(tracking_results, "no tracking_results", CODE)
    results = []
    for entry in map(as_dict, tracking_results):
        events: list[TrackingEvent] = []
        for item in map(as_dict, as_list(entry.get("trackable_items"))):
            events += _events(item.get("events"))
            for article in map(as_dict, as_list(item.get("items"))):
                events += _events(article.get("events"))
        top = str(entry.get("status") or "unknown")
        errors = [
            as_dict(e).get("name") or as_dict(e).get("code") for e in as_list(entry.get("errors"))
        ]
        results.append(
            build_result(
                CODE,
                entry["tracking_id"],
                events,
                fallback=STATUS_TABLE.resolve(top, text=top).status or Status.pending,
                extra={
                    "carrier_status_text": entry.get("status"),
                    **({"errors": errors} if errors else {}),
                },
            )
        )
    return results


@register(CODE)
class AustraliaPost(Adapter):
    code = CODE
    name = "Australia Post"
    capabilities = Capabilities(
        max_batch=10,
        requests_per_second=10,
        auth="basic",
        tracking_url="https://auspost.com.au/mypost/track/details/{number}",
    )
    default_base_url = "https://digitalapi.auspost.com.au"
    credential_keys = ("api_key", "password", "account_number")
    parse_function = staticmethod(parse_tracking)

    def track(self, numbers: Sequence[str]) -> list[TrackingResult]:
        numbers = self.check_batch(numbers)
        if not numbers:
            return []
        response = self.http.request(
            "GET",
            f"{self.base_url}/shipping/v1/track",
            params={"tracking_ids": ",".join(numbers)},
            auth=(self.credential("api_key"), self.credential("password")),
            headers={
                "account-number": self.credential("account_number"),
                "Accept": "application/json",
            },
        )
        return parse_tracking(response.content)
