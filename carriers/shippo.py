"""Shippo tracking (``track_updated`` webhooks; ``GET /tracks/{carrier}/{number}``).

Credentials: ``api_key`` (``Authorization: ShippoToken <key>``), ``webhook_token``. Shippo's
legacy webhooks are unsigned, so the webhook URL must carry a shared token: register
``https://<host>/webhooks/carrier/shippo?token=<webhook_token>`` and have the endpoint pass the
query value as header ``X-Webhook-Token``; alternatively put it in the URL's basic-auth password
(``https://shippo:<webhook_token>@<host>/...``), which arrives as ``Authorization: Basic``.
``options["carrier"]`` names the Shippo carrier token used by :meth:`Shippo.track` (e.g. ``usps``).

Decision on "out for delivery": Shippo reports it as ``TRANSIT``; the text refines it to
``out_for_delivery`` so customers get the same message as from a direct carrier adapter.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from carriers.adapter import Adapter, header, same_secret
from carriers.base import AuthError, Capabilities, TrackingEvent, TrackingResult
from carriers.parsing import (
    Body,
    ByText,
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

CODE = "shippo"
TOKEN_HEADER = "X-Webhook-Token"
#: ``substatus.code`` (newer API) first, then the legacy ``status`` refined by its text.
STATUS_TABLE = StatusTable(
    CODE,
    {
        "UNKNOWN": ByText(
            (
                ("label has been created", Status.info_received),
                ("label created", Status.info_received),
                ("electronic shipment information", Status.info_received),
                ("pre-shipment", Status.info_received),
            ),
            Status.pending,
        ),
        "PRE_TRANSIT": Status.info_received,
        "TRANSIT": ByText(
            (
                ("out for delivery", Status.out_for_delivery),
                ("available for pickup", Status.available_for_pickup),
            ),
            Status.in_transit,
        ),
        "DELIVERED": Status.delivered,
        "RETURNED": ByText(
            (
                ("being returned", Status.returning_to_sender),
                ("returning", Status.returning_to_sender),
            ),
            Status.returned,
        ),
        "FAILURE": ByText((("attempt", Status.attempt_fail),), Status.exception),
        "sub:out_for_delivery": Status.out_for_delivery,
        "sub:delivery_attempted": Status.attempt_fail,
        "sub:pickup_available": Status.available_for_pickup,
        "sub:return_to_sender": Status.returning_to_sender,
        "sub:address_issue": Status.exception,
        "sub:package_damaged": Status.exception,
        "sub:package_lost": Status.exception,
    },
)


def _event(raw: Mapping[str, Any]) -> TrackingEvent:
    status = str(raw.get("status") or "UNKNOWN")
    sub = as_dict(raw.get("substatus")).get("code")
    loc = as_dict(raw.get("location"))
    return scan(
        STATUS_TABLE,
        parse_instant(raw["status_date"]),
        status,
        str(raw.get("status_details") or ""),
        join_location(loc.get("city"), loc.get("state"), loc.get("country")),
        keys=[f"sub:{sub}" if sub else None, status],
    )


def track_result(track: Mapping[str, Any]) -> TrackingResult:
    history = [_event(as_dict(h)) for h in as_list(track.get("tracking_history"))]
    current = as_dict(track.get("tracking_status"))
    if current.get("status_date"):
        history.append(_event(current))
    eta = track.get("eta")
    return build_result(
        CODE,
        track["tracking_number"],
        history,
        estimated_delivery=estimate_date(eta),
        extra={
            "carrier_slug": track.get("carrier"),
            "service": as_dict(track.get("servicelevel")).get("name"),
        },
    )


@parser(CODE)
def parse_tracking(body: Body) -> list[TrackingResult]:
    """A Track object or a ``track_updated`` webhook (``{"event", "test", "data": Track}``)."""
    data = as_dict(load_json(body, CODE))
    if "event" in data:
        data = as_dict(data.get("data"))
    require("tracking_number" in data, "not a Shippo Track object", CODE)
    return [track_result(data)]


def _basic_password(value: str) -> str:
    if not value.lower().startswith("basic "):
        return ""
    try:
        return base64.b64decode(value[6:].strip(), validate=True).decode().partition(":")[2]
    except (binascii.Error, UnicodeDecodeError):
        return ""


@register(CODE)
class Shippo(Adapter):
    code = CODE
    name = "Shippo (aggregator)"
    capabilities = Capabilities(
        max_batch=1, requests_per_second=5, auth="api_key", supports_webhooks=True
    )
    default_base_url = "https://api.goshippo.com"
    credential_keys = ("api_key", "webhook_token")
    parse_function = staticmethod(parse_tracking)

    def track(self, numbers: Sequence[str]) -> list[TrackingResult]:
        carrier = str(self.settings.options.get("carrier") or "")
        results = []
        for number in self.check_batch(numbers):
            require(
                carrier, "options['carrier'] (Shippo carrier token) is required to poll", self.code
            )
            response = self.http.request(
                "GET",
                f"{self.base_url}/tracks/{carrier}/{number}",
                headers={"Authorization": f"ShippoToken {self.credential('api_key')}"},
            )
            results.extend(parse_tracking(response.content))
        return results

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        expected = self.credential("webhook_token")
        given = header(headers, TOKEN_HEADER) or _basic_password(header(headers, "Authorization"))
        if not same_secret(given, expected):
            raise AuthError("missing or wrong Shippo webhook token", carrier=self.code)

    def parse_webhook(self, body: bytes) -> list[TrackingResult]:
        return parse_tracking(body)
