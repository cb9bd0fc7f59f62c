"""AfterShip Tracking API and webhooks: covers carriers we have no adapter for.

Credentials: ``api_key`` (sent as ``as-api-key``), ``webhook_secret`` (verifies the
``aftership-hmac-sha256`` header: base64 HMAC-SHA256 of the raw body). AfterShip's ``tag`` is
already our model, so the tracking-level tag decides the status; ``subtag`` refines it. The
underlying carrier is kept as ``extra["carrier_slug"]`` (``fedex``, ``yamato``, ...).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from carriers.adapter import Adapter, header, same_secret
from carriers.base import AuthError, Capabilities, TrackingResult
from carriers.parsing import (
    Body,
    StatusTable,
    as_dict,
    as_list,
    build_result,
    join_location,
    load_json,
    parse_instant,
    parser,
    require,
    scan,
)
from carriers.registry import register
from carriers.status import Status

CODE = "aftership"
SIGNATURE_HEADER = "aftership-hmac-sha256"
#: ``subtag`` first (only where it changes the meaning), then ``tag``.
STATUS_TABLE = StatusTable(
    CODE,
    {
        "Pending": Status.pending,
        "InfoReceived": Status.info_received,
        "InTransit": Status.in_transit,
        "OutForDelivery": Status.out_for_delivery,
        "AttemptFail": Status.attempt_fail,
        "AvailableForPickup": Status.available_for_pickup,
        "Delivered": Status.delivered,
        "Exception": Status.exception,
        "Expired": Status.expired,
        "Exception_004": Status.held_at_customs,  # delayed in customs clearance
        "Exception_010": Status.returning_to_sender,  # on its way back to the sender
        "Exception_011": Status.returned,  # returned to the sender
    },
)


def _estimate(tracking: Mapping[str, Any]) -> Any:
    for key in ("latest_estimated_delivery", "first_estimated_delivery"):
        value = as_dict(tracking.get(key)).get("datetime")
        if value:
            return parse_instant(value).date()
    for key in ("expected_delivery", "aftership_estimated_delivery_date"):
        if tracking.get(key):
            return parse_instant(str(tracking[key])[:10]).date()
    return None


def tracking_result(tracking: Mapping[str, Any]) -> TrackingResult:
    events = [
        scan(
            STATUS_TABLE,
            parse_instant(c["checkpoint_time"]),
            str(c.get("subtag") or c.get("tag") or ""),
            str(c.get("message") or ""),
            c.get("location") or join_location(c.get("city"), c.get("country_iso3")),
            keys=[c.get("subtag"), c.get("tag")],
        )
        for c in map(as_dict, as_list(tracking.get("checkpoints")))
    ]
    tag = tracking.get("tag")
    status = STATUS_TABLE.resolve(tracking.get("subtag"), tag).status if tag else None
    return build_result(
        CODE,
        tracking["tracking_number"],
        events,
        status=status,
        sub_status=tracking.get("subtag"),
        estimated_delivery=_estimate(tracking),
        signed_by=tracking.get("signed_by"),
        extra={
            "carrier_slug": tracking.get("slug"),
            "aftership_id": tracking.get("id"),
            "return_to_sender": bool(tracking.get("return_to_sender")),
        },
    )


@parser(CODE)
def parse_tracking(body: Body) -> list[TrackingResult]:
    """A webhook envelope (``msg``), a GET response (``data.tracking`` / ``data.trackings``) or a
    bare tracking object."""
    data = as_dict(load_json(body, CODE))
    if "msg" in data:
        trackings = [as_dict(data["msg"])]
    elif "data" in data:
        inner = as_dict(data["data"])
        trackings = (
            [as_dict(inner["tracking"])]
            if "tracking" in inner
            else list(map(as_dict, as_list(inner.get("trackings"))))
        )
    else:
        trackings = [data]
    require(
        all("tracking_number" in t for t in trackings),
        "tracking object without tracking_number",
        CODE,
    )
    return [tracking_result(t) for t in trackings]


def signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@register(CODE)
class AfterShip(Adapter):
    code = CODE
    name = "AfterShip (aggregator)"
    capabilities = Capabilities(
        max_batch=50,
        requests_per_second=10,
        auth="api_key",
        supports_webhooks=True,
    )
    default_base_url = "https://api.aftership.com/tracking/2024-04"
    credential_keys = ("api_key", "webhook_secret")
    parse_function = staticmethod(parse_tracking)

    def track(self, numbers: Sequence[str]) -> list[TrackingResult]:
        numbers = self.check_batch(numbers)
        if not numbers:
            return []
        response = self.http.request(
            "GET",
            f"{self.base_url}/trackings",
            params={"tracking_numbers": ",".join(numbers)},
            headers={"as-api-key": self.credential("api_key"), "Content-Type": "application/json"},
        )
        return parse_tracking(response.content)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        expected = signature(body, self.credential("webhook_secret"))
        if not same_secret(header(headers, SIGNATURE_HEADER), expected):
            raise AuthError("bad or missing aftership-hmac-sha256 signature", carrier=self.code)

    def parse_webhook(self, body: bytes) -> list[TrackingResult]:
        return parse_tracking(body)
