"""DHL Express: MyDHL API (JSON, HTTP Basic) and the legacy XML-PI ``TrackingResponse``.

Credentials: ``username``, ``password`` (MyDHL API). Endpoint:
``GET /mydhlapi/tracking?shipmentTrackingNumber=...`` (repeatable, up to 10 per call).
Checkpoint times are local to the service area and carry no zone; they are read in
``options["naive_tz"]`` (default UTC) because DHL gives no zone to convert from.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from carriers.adapter import Adapter
from carriers.base import Capabilities, TrackingResult
from carriers.parsing import (
    Body,
    CodeClasses,
    Rule,
    StatusTable,
    as_dict,
    as_list,
    build_result,
    estimate_date,
    load_json,
    load_xml,
    looks_like_xml,
    parse_instant,
    parser,
    require,
    scan,
    xml_text,
)
from carriers.registry import register
from carriers.status import Status

CODE = "dhl_express"
DELAYED = Rule(Status.in_transit, "delayed")
#: DHL Express checkpoint codes (MyDHL ``typeCode`` = XML-PI ``EventCode``).
STATUS_TABLE = StatusTable(
    CODE,
    {
        **dict.fromkeys(
            (
                "PU",
                "PO",
                "RW",
                "PL",
                "AF",
                "DF",
                "AR",
                "TR",
                "CC",
                "FD",
                "BN",
                "SM",
                "AD",
                "MS",
                "RR",
                "PY",
                "SA",
                "SS",
                "TP",
            ),
            Status.in_transit,
        ),
        "CD": Rule(Status.held_at_customs, "delayed"),  # clearance delay
        "IC": Status.held_at_customs,  # in clearance processing
        "CR": Status.import_cleared,  # clearance release
        "TD": DELAYED,  # transport delay
        "WC": Status.out_for_delivery,  # with delivery courier
        "OK": Status.delivered,  # shipment delivered
        "PD": Status.delivered,  # partial delivery
        "NH": Status.attempt_fail,  # not home
        "CA": Status.attempt_fail,  # closed on arrival
        "ND": Status.attempt_fail,  # not delivered
        "BA": Status.exception,  # bad address
        "RD": Status.exception,  # refused delivery
        "MD": Status.exception,  # missed delivery cycle
        "OH": Status.exception,  # on hold
        "HP": Status.exception,  # held for payment
        "CM": Status.exception,  # consignee moved
        "DS": Status.exception,  # destroyed / disposed
        "RT": Status.returning_to_sender,  # returned to consignor
    },
    classes=CodeClasses(),
)


def _zone(options: dict[str, Any] | None) -> tzinfo:
    return ZoneInfo(str((options or {}).get("naive_tz") or "UTC"))


def _json_results(data: Any, tz: tzinfo) -> list[TrackingResult]:
    shipments = as_list(as_dict(data).get("shipments"))
    require(shipments, "no shipments", CODE)
    results = []
    for shipment in shipments:
        shipment = as_dict(shipment)
        events = []
        for raw in as_list(shipment.get("events")):
            raw = as_dict(raw)
            area = as_dict((as_list(raw.get("serviceArea")) or [{}])[0])
            events.append(
                scan(
                    STATUS_TABLE,
                    parse_instant(f"{raw['date']}T{raw['time']}", default_tz=tz),
                    str(raw.get("typeCode") or ""),
                    str(raw.get("description") or ""),
                    area.get("description"),
                )
            )
        eta = shipment.get("estimatedTimeOfDelivery")
        results.append(
            build_result(
                CODE,
                shipment["shipmentTrackingNumber"],
                events,
                estimated_delivery=estimate_date(eta, default_tz=tz),
                extra={"service": shipment.get("description")},
            )
        )
    return results


def _xml_results(body: Body, tz: tzinfo) -> list[TrackingResult]:
    root = load_xml(body, CODE)
    blocks = root.findall("AWBInfo")
    require(root.tag == "TrackingResponse" and blocks, "no TrackingResponse/AWBInfo", CODE)
    results = []
    for block in blocks:
        action = xml_text(block, "Status/ActionStatus").lower()
        events, signed_by = [], None
        for raw in block.findall("ShipmentInfo/ShipmentEvent"):
            code = xml_text(raw, "ServiceEvent/EventCode")
            event = scan(
                STATUS_TABLE,
                parse_instant(f"{xml_text(raw, 'Date')}T{xml_text(raw, 'Time')}", default_tz=tz),
                code,
                xml_text(raw, "ServiceEvent/Description"),
                xml_text(raw, "ServiceArea/Description"),
            )
            if event.status is Status.delivered:
                signed_by = xml_text(raw, "Signatory") or signed_by
            events.append(event)
        results.append(
            build_result(
                CODE,
                xml_text(block, "AWBNumber"),
                events,
                signed_by=signed_by,
                extra={} if action == "success" else {"action_status": action},
            )
        )
    return results


@parser(CODE)
def parse_tracking(body: Body, *, options: dict[str, Any] | None = None) -> list[TrackingResult]:
    """MyDHL API JSON or XML-PI ``TrackingResponse`` (one result per air waybill)."""
    if looks_like_xml(body):
        return _xml_results(body, _zone(options))
    return _json_results(load_json(body, CODE), _zone(options))


@register(CODE)
class DHLExpress(Adapter):
    code = CODE
    name = "DHL Express (MyDHL API)"
    capabilities = Capabilities(
        max_batch=10,
        requests_per_second=1,
        requests_per_day=500,
        auth="basic",
        tracking_url="https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={number}",
    )
    default_base_url = "https://express.api.dhl.com/mydhlapi"
    credential_keys = ("username", "password")
    parse_function = staticmethod(parse_tracking)

    def track(self, numbers: Sequence[str]) -> list[TrackingResult]:
        numbers = self.check_batch(numbers)
        if not numbers:
            return []
        response = self.http.request(
            "GET",
            f"{self.base_url}/tracking",
            params=[("shipmentTrackingNumber", n) for n in numbers]
            + [("trackingView", "all-checkpoints")],
            auth=(self.credential("username"), self.credential("password")),
            headers={"Accept": "application/json"},
        )
        return parse_tracking(response.content, options=dict(self.settings.options))
