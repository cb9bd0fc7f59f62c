"""EasyPost trackers (``tracker.created`` / ``tracker.updated`` webhooks; tracker API).

Credentials: ``api_key`` (HTTP Basic user), ``webhook_secret``. Webhook authenticity: header
``X-Hmac-Signature: hmac-sha256-hex=<hex>``, HMAC-SHA256 of the raw body keyed with the secret
normalised to Unicode NFKD (EasyPost's client libraries do this; without it non-ASCII secrets
fail). ``track`` creates (or, for a known code, returns) a tracker: ``POST /v2/trackers``.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from carriers.adapter import Adapter, header, same_secret
from carriers.base import AuthError, Capabilities, TrackingResult
from carriers.parsing import (
    Body,
    ByText,
    Rule,
    StatusTable,
    as_dict,
    as_list,
    build_result,
    estimate_date,
    join_location,
    load_json,
    parse_instant,
    parser,
    require,
    scan,
)
from carriers.registry import register
from carriers.status import Status

CODE = "easypost"
SIGNATURE_HEADER = "X-Hmac-Signature"
#: ``status:status_detail`` first, then ``status``.
STATUS_TABLE = StatusTable(
    CODE,
    {
        "pre_transit": Status.info_received,
        "in_transit": Status.in_transit,
        "in_transit:delayed": Rule(Status.in_transit, "delayed"),
        "in_transit:weather_delay": Rule(Status.in_transit, "delayed"),
        "out_for_delivery": Status.out_for_delivery,
        "available_for_pickup": Status.available_for_pickup,
        "delivered": Status.delivered,
        "return_to_sender": Status.returning_to_sender,
        "failure": ByText((("attempt", Status.attempt_fail),), Status.exception),
        "cancelled": Status.exception,
        "unknown": Status.pending,
        "error": Status.pending,
    },
)


def _tracker(tracker: Mapping[str, Any]) -> TrackingResult:
    events = []
    for raw in map(as_dict, as_list(tracker.get("tracking_details"))):
        status, detail = str(raw.get("status") or ""), str(raw.get("status_detail") or "")
        loc = as_dict(raw.get("tracking_location"))
        events.append(
            scan(
                STATUS_TABLE,
                parse_instant(raw["datetime"]),
                str(raw.get("carrier_code") or status),
                str(raw.get("message") or raw.get("description") or ""),
                join_location(loc.get("city"), loc.get("state"), loc.get("country")),
                keys=[f"{status}:{detail}", status],
            )
        )
    top = str(tracker.get("status") or "unknown")
    eta = tracker.get("est_delivery_date")
    return build_result(
        CODE,
        tracker["tracking_code"],
        events,
        fallback=STATUS_TABLE.resolve(
            f"{top}:{tracker.get('status_detail')}",
            top,
            text=str(tracker.get("status_detail") or ""),
        ).status
        or Status.pending,
        estimated_delivery=estimate_date(eta),
        signed_by=tracker.get("signed_by"),
        extra={
            "carrier_slug": tracker.get("carrier"),
            "easypost_id": tracker.get("id"),
            "public_url": tracker.get("public_url"),
        },
    )


@parser(CODE)
def parse_tracking(body: Body) -> list[TrackingResult]:
    """An Event (``result`` is the Tracker), a Tracker, or a list response (``trackers``)."""
    data = as_dict(load_json(body, CODE))
    if data.get("object") == "Event":
        data = as_dict(data.get("result"))
    trackers = list(map(as_dict, as_list(data.get("trackers")))) if "trackers" in data else [data]
    require(all(t.get("object") == "Tracker" for t in trackers), "not an EasyPost Tracker", CODE)
    return [_tracker(t) for t in trackers]


def signature(body: bytes, secret: str) -> str:
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()


@register(CODE)
class EasyPost(Adapter):
    code = CODE
    name = "EasyPost (aggregator)"
    capabilities = Capabilities(
        max_batch=1, requests_per_second=5, auth="api_key", supports_webhooks=True
    )
    default_base_url = "https://api.easypost.com/v2"
    credential_keys = ("api_key", "webhook_secret")
    parse_function = staticmethod(parse_tracking)

    def track(self, numbers: Sequence[str]) -> list[TrackingResult]:
        results = []
        carrier = self.settings.options.get("carrier")
        for number in self.check_batch(numbers):
            tracker = {"tracking_code": number, **({"carrier": carrier} if carrier else {})}
            response = self.http.request(
                "POST",
                f"{self.base_url}/trackers",
                json={"tracker": tracker},
                auth=(self.credential("api_key"), ""),
            )
            results.extend(parse_tracking(response.content))
        return results

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        expected = signature(body, self.credential("webhook_secret"))
        if not same_secret(header(headers, SIGNATURE_HEADER), expected):
            raise AuthError("bad or missing X-Hmac-Signature", carrier=self.code)

    def parse_webhook(self, body: bytes) -> list[TrackingResult]:
        return parse_tracking(body)
