"""DHL Shipment Tracking - Unified API (all DHL divisions).

Credential: ``api_key`` (sent as ``DHL-API-Key``). Endpoint: ``GET /track/shipments?trackingNumber=``.
``statusCode`` is the field that counts; the free-text ``status`` may contradict it (DHL's own
example says ``pre-transit`` with ``status: "DELIVERED"``) and is kept as description only.
Event timestamps may lack an offset; they are read as UTC, like the shipment-level timestamp.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from carriers.adapter import Adapter
from carriers.base import Capabilities, TrackingEvent, TrackingResult
from carriers.parsing import (
    Body,
    CodeClasses,
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

CODE = "dhl"
#: ``statusCode`` values of the Unified API.
STATUS_TABLE = StatusTable(
    CODE,
    {
        "pre-transit": Status.info_received,
        "transit": Status.in_transit,
        "delivered": Status.delivered,
        "failure": Status.exception,
        "unknown": Status.pending,
    },
    classes=CodeClasses(
        # Status categories DHL may refine (``delivered-…``, ``failure-…``).
        (
            ("pre-transit", Status.info_received),
            ("transit", Status.in_transit),
            ("deliver", Status.delivered),
            ("fail", Status.exception),
            ("return", Status.returning_to_sender),
        )
    ),
)


def _event(raw: Any) -> TrackingEvent:
    address = as_dict(as_dict(raw.get("location")).get("address"))
    code = str(raw.get("statusCode") or "")
    text = " - ".join(
        str(raw[k]).strip() for k in ("status", "description", "remark") if raw.get(k)
    )
    return scan(
        STATUS_TABLE,
        parse_instant(raw["timestamp"]),
        code,
        text,
        join_location(address.get("addressLocality"), address.get("countryCode")),
    )


@parser(CODE)
def parse_tracking(body: Body) -> list[TrackingResult]:
    data = as_dict(load_json(body, CODE))
    shipments = as_list(data.get("shipments"))
    require(shipments, "no shipments", CODE)
    results = []
    for shipment in shipments:
        shipment = as_dict(shipment)
        status = as_dict(shipment.get("status"))
        fallback = (
            STATUS_TABLE.resolve(str(status.get("statusCode") or "unknown")).status
            or Status.pending
        )
        eta = shipment.get("estimatedTimeOfDelivery")
        signed = as_dict(
            as_dict(as_dict(shipment.get("details")).get("proofOfDelivery")).get("signed")
        )
        results.append(
            build_result(
                CODE,
                shipment["id"],
                [_event(as_dict(e)) for e in as_list(shipment.get("events"))],
                fallback=fallback,
                estimated_delivery=estimate_date(eta),
                signed_by=signed.get("name") if fallback is Status.delivered else None,
                extra={
                    "service": shipment.get("service"),
                    "carrier_status_text": status.get("status"),
                },
            )
        )
    return results


@register(CODE)
class DHLUnified(Adapter):
    code = CODE
    name = "DHL (Shipment Tracking - Unified)"
    capabilities = Capabilities(
        max_batch=1,
        requests_per_second=1,
        requests_per_day=250,
        auth="api_key",
        tracking_url="https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={number}",
    )
    default_base_url = "https://api-eu.dhl.com"
    credential_keys = ("api_key",)
    parse_function = staticmethod(parse_tracking)

    def track(self, numbers: Sequence[str]) -> list[TrackingResult]:
        results = []
        for number in self.check_batch(numbers):
            response = self.http.request(
                "GET",
                f"{self.base_url}/track/shipments",
                params={"trackingNumber": number},
                headers={"DHL-API-Key": self.credential("api_key"), "Accept": "application/json"},
            )
            results.extend(parse_tracking(response.content))
        return results
