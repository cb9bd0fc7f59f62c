"""17TRACK Tracking API v2.2 and its ``TRACKING_UPDATED`` webhook.

Credential: ``api_key`` (sent as ``17token``; also the webhook key). Numbers must be registered
before 17TRACK tracks them: :meth:`SeventeenTrack.track` calls ``gettrackinfo`` (up to 40 numbers)
and registers the ones 17TRACK does not know yet, returning them as ``pending``.
Webhook authenticity: header ``sign`` = hex SHA-256 of ``<raw body>/<api key>``, as third-party
integrations describe it (confirm against 17TRACK's docs for your account's API version).
"""

from __future__ import annotations

import hashlib
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
    load_json,
    parse_instant,
    parser,
    require,
    scan,
)
from carriers.registry import register
from carriers.status import Status

CODE = "seventeentrack"
#: ``sub_status`` first, then the event ``stage``, then the main status.
STATUS_TABLE = StatusTable(
    CODE,
    {
        "NotFound": Status.pending,
        "InfoReceived": Status.info_received,
        "InTransit": Status.in_transit,
        "PickedUp": Status.in_transit,
        "Departure": Status.in_transit,
        "Arrival": Status.in_transit,
        "Expired": Status.expired,
        "AvailableForPickup": Status.available_for_pickup,
        "OutForDelivery": Status.out_for_delivery,
        "DeliveryFailure": Status.attempt_fail,
        "Delivered": Status.delivered,
        "Exception": Status.exception,
        "Returning": Status.returning_to_sender,
        "Returned": Status.returned,
        "Exception_Returning": Status.returning_to_sender,
        "Exception_Returned": Status.returned,
    },
)
#: ``rejected[].error.code`` meaning "register this number first".
NOT_REGISTERED = {-18019902}


def _keys(sub_status: Any, *more: Any) -> list[str | None]:
    sub = str(sub_status or "")
    return [sub, *(str(m) if m else None for m in more), sub.split("_", 1)[0]]


def track_info_result(item: Mapping[str, Any]) -> TrackingResult:
    info = as_dict(item.get("track_info"))
    latest = as_dict(info.get("latest_status"))
    providers = as_list(as_dict(info.get("tracking")).get("providers"))
    events = []
    for provider in map(as_dict, providers):
        for raw in map(as_dict, as_list(provider.get("events"))):
            when = raw.get("time_iso") or raw.get("time_utc")
            events.append(
                scan(
                    STATUS_TABLE,
                    parse_instant(when),
                    str(raw.get("sub_status") or raw.get("stage") or ""),
                    str(raw.get("description") or ""),
                    raw.get("location") if isinstance(raw.get("location"), str) else None,
                    keys=_keys(raw.get("sub_status"), raw.get("stage")),
                )
            )
    status = (
        STATUS_TABLE.resolve(*_keys(latest.get("sub_status"), latest.get("status"))).status
        if latest
        else None
    )
    eta = as_dict(as_dict(as_dict(info.get("time_metrics")).get("estimated_delivery_date"))).get(
        "from"
    )
    return build_result(
        CODE,
        item["number"],
        events,
        status=status,
        sub_status=latest.get("sub_status"),
        estimated_delivery=parse_instant(eta).date() if eta else None,
        extra={"carrier_key": item.get("carrier"), "tag": item.get("tag")},
    )


@parser(CODE)
def parse_tracking(body: Body) -> list[TrackingResult]:
    """A ``gettrackinfo`` response (``data.accepted``) or a ``TRACKING_UPDATED`` webhook body."""
    data = as_dict(load_json(body, CODE))
    if "event" in data:
        if data["event"] != "TRACKING_UPDATED":
            return []
        return [track_info_result(as_dict(data["data"]))]
    require("data" in data, "no data", CODE)
    inner = as_dict(data["data"])
    results = [track_info_result(as_dict(a)) for a in as_list(inner.get("accepted"))]
    for rejected in map(as_dict, as_list(inner.get("rejected"))):
        error = as_dict(rejected.get("error"))
        results.append(
            build_result(
                CODE,
                rejected["number"],
                [],
                extra={"error": error.get("code"), "message": error.get("message")},
            )
        )
    return results


def signature(body: bytes, key: str) -> str:
    return hashlib.sha256(body + b"/" + key.encode()).hexdigest()


@register(CODE)
class SeventeenTrack(Adapter):
    code = CODE
    name = "17TRACK (aggregator)"
    capabilities = Capabilities(
        max_batch=40,
        requests_per_second=3,
        auth="api_key",
        supports_webhooks=True,
        tracking_url="https://t.17track.net/en#nums={number}",
    )
    default_base_url = "https://api.17track.net/track/v2.2"
    credential_keys = ("api_key",)
    parse_function = staticmethod(parse_tracking)

    def _post(self, path: str, numbers: Sequence[str]) -> Any:
        response = self.http.request(
            "POST",
            f"{self.base_url}/{path}",
            json=[{"number": n} for n in numbers],
            headers={"17token": self.credential("api_key")},
        )
        return response.content

    def register_numbers(self, numbers: Sequence[str]) -> None:
        """Ask 17TRACK to start tracking ``numbers`` (billed per registration)."""
        numbers = self.check_batch(numbers)
        if numbers:
            self._post("register", numbers)

    def track(self, numbers: Sequence[str]) -> list[TrackingResult]:
        numbers = self.check_batch(numbers)
        if not numbers:
            return []
        results = parse_tracking(self._post("gettrackinfo", numbers))
        unregistered = [
            r.tracking_number for r in results if r.extra.get("error") in NOT_REGISTERED
        ]
        if unregistered:
            self.register_numbers(unregistered)
        return results

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        if not same_secret(header(headers, "sign"), signature(body, self.credential("api_key"))):
            raise AuthError("bad or missing 17TRACK sign header", carrier=self.code)

    def parse_webhook(self, body: bytes) -> list[TrackingResult]:
        return parse_tracking(body)
