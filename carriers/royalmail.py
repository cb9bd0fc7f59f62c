"""Royal Mail Tracking API v2 (IBM API gateway client id + secret).

Credentials: ``client_id``, ``client_secret``. Endpoint: ``GET /mailpieces/v2/{id}/events``.
"""

from __future__ import annotations

from collections.abc import Sequence

from carriers.adapter import Adapter
from carriers.base import Capabilities, TrackingResult
from carriers.parsing import (
    CUSTOMS_TEXTS,
    Body,
    CodeClasses,
    StatusTable,
    as_dict,
    as_list,
    build_result,
    estimate_date,
    load_json,
    parse_instant,
    parser,
    require,
    scan,
)
from carriers.registry import register
from carriers.status import Status

CODE = "royalmail"
#: ``eventCode``; texts only for codes not listed.
STATUS_TABLE = StatusTable(
    CODE,
    {
        "EVNMI": Status.in_transit,  # forwarded - mis-sort
        **dict.fromkeys(
            ("EVDAC", "EVDAV", "EVOCO", "EVNRT", "EVAIP", "EVIMC", "EVNOA", "EVORI"),
            Status.in_transit,
        ),
        "EVKOP": Status.out_for_delivery,
        **dict.fromkeys(("EVKSP", "EVKSF", "EVKLS", "EVKDN", "EVGPD"), Status.delivered),
        "EVKNA": Status.attempt_fail,  # delivery attempted - no answer
        "EVNPS": Status.available_for_pickup,  # ready for redelivery or collection
        "EVNDA": Status.available_for_pickup,
        "EVNRS": Status.returning_to_sender,
    },
    texts=(
        ("delivered", Status.delivered),
        ("out for delivery", Status.out_for_delivery),
        ("redelivery or collection", Status.available_for_pickup),
        ("ready for collection", Status.available_for_pickup),
        ("delivery attempted", Status.attempt_fail),
        ("return to sender", Status.returning_to_sender),
        ("returned to sender", Status.returning_to_sender),
        *CUSTOMS_TEXTS,
    ),
    classes=CodeClasses(),
)


@parser(CODE)
def parse_tracking(body: Body) -> list[TrackingResult]:
    piece = as_dict(as_dict(load_json(body, CODE)).get("mailPieces"))
    require(piece, "no mailPieces", CODE)
    summary = as_dict(piece.get("summary"))
    events = [
        scan(
            STATUS_TABLE,
            parse_instant(e["eventDateTime"]),
            str(e.get("eventCode") or ""),
            str(e.get("eventName") or ""),
            e.get("locationName"),
        )
        for e in map(as_dict, as_list(piece.get("events")))
    ]
    estimate = piece.get("estimatedDelivery")
    return [
        build_result(
            CODE,
            summary.get("oneDBarcode") or piece["mailPieceId"],
            events,
            estimated_delivery=estimate_date(estimate),
            signed_by=as_dict(piece.get("signature")).get("recipientName"),
            extra={
                "mail_piece_id": piece.get("mailPieceId"),
                "status_category": summary.get("statusCategory"),
                "service": summary.get("productName"),
            },
        )
    ]


@register(CODE)
class RoyalMail(Adapter):
    code = CODE
    name = "Royal Mail"
    capabilities = Capabilities(
        max_batch=1,
        requests_per_second=2,
        auth="api_key",
        tracking_url="https://www.royalmail.com/track-your-item#/tracking-results/{number}",
        redelivery_url="https://www.royalmail.com/receiving-mail/redelivery",
    )
    default_base_url = "https://api.royalmail.net"
    credential_keys = ("client_id", "client_secret")
    parse_function = staticmethod(parse_tracking)

    def track(self, numbers: Sequence[str]) -> list[TrackingResult]:
        results = []
        for number in self.check_batch(numbers):
            response = self.http.request(
                "GET",
                f"{self.base_url}/mailpieces/v2/{number}/events",
                headers={
                    "X-IBM-Client-Id": self.credential("client_id"),
                    "X-IBM-Client-Secret": self.credential("client_secret"),
                    "X-Accept-RMG-Terms": "yes",
                    "Accept": "application/json",
                },
            )
            results.extend(parse_tracking(response.content))
        return results
