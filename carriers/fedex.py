"""FedEx Track API (REST, OAuth 2) and the legacy Web Services ``TrackReply`` XML.

Credentials: ``client_id`` (API key), ``client_secret``. Endpoint:
``POST /track/v1/trackingnumbers`` with up to 30 numbers; token from ``POST /oauth/token``.
FedEx may list one number in several ``trackResults`` (one per package history); they are
merged and sorted, so the newest scan across all of them decides the status.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from carriers.adapter import OAuthAdapter
from carriers.base import Capabilities, NotFound, TrackingEvent, TrackingResult
from carriers.parsing import (
    INFO,
    Body,
    ByText,
    CodeClasses,
    Rule,
    StatusTable,
    as_dict,
    as_list,
    build_result,
    estimate_date,
    join_location,
    load_json,
    load_xml,
    looks_like_xml,
    merge_results,
    parse_instant,
    parser,
    require,
    scan,
    xml_text,
)
from carriers.registry import register
from carriers.status import Status

CODE = "fedex"
DELAYED = Rule(Status.in_transit, "delayed")
_ATTEMPT_OR_EXCEPTION = ByText(
    (
        ("customer not available", Status.attempt_fail),
        ("business closed", Status.attempt_fail),
        ("no one", Status.attempt_fail),
        ("attempt", Status.attempt_fail),
    ),
    Status.exception,
)
#: Keys tried in order: ``eventType:exceptionCode``, ``eventType``, ``derived:<derivedStatusCode>``.
STATUS_TABLE = StatusTable(
    CODE,
    {
        "OC": Status.info_received,  # shipment information sent to FedEx
        "PU": Status.in_transit,
        "IP": Status.in_transit,  # in FedEx possession (legacy)
        "AO": INFO,  # "arriving on time": informational
        **dict.fromkeys(
            (
                "AR",
                "AF",
                "DP",
                "IT",
                "AA",
                "AD",
                "AP",
                "AC",
                "EA",
                "EO",
                "LO",
                "PF",
                "PL",
                "PM",
                "SF",
                "TR",
                "CH",
                "RR",
                "RM",
                "RC",
                "FD",
            ),
            Status.in_transit,
        ),
        "DY": DELAYED,
        "CC": Status.import_cleared,  # cleared customs
        "CD": Status.held_at_customs,  # clearance delay
        "CP": Status.held_at_customs,  # clearance in progress
        "HP": Status.available_for_pickup,  # ready for recipient pickup
        "HL": Status.available_for_pickup,  # at hold-at-location
        "DE:08": Status.attempt_fail,  # customer not available or business closed
        "DE:A47": Status.exception,  # redirected to a nearby location
        "DE": _ATTEMPT_OR_EXCEPTION,
        "SE": Status.exception,  # shipment exception (legacy 099 "Unable to deliver")
        "CA": Status.exception,  # cancelled
        "OD": Status.out_for_delivery,
        "DL": Status.delivered,
        "RS": Status.returning_to_sender,
        "derived:IN": Status.info_received,
        "derived:PU": Status.in_transit,
        "derived:IT": Status.in_transit,
        "derived:DY": DELAYED,
        "derived:DD": DELAYED,
        "derived:OD": Status.out_for_delivery,
        "derived:DE": Status.exception,
        "derived:SE": Status.exception,
        "derived:CA": Status.exception,
        "derived:HL": Status.available_for_pickup,
        "derived:DL": Status.delivered,
        "derived:RS": Status.returning_to_sender,
    },
    classes=CodeClasses(),
)


def _keys(event_type: str, exception_code: str, derived: str = "") -> list[str]:
    return [
        f"{event_type}:{exception_code}" if exception_code else "",
        event_type,
        f"derived:{derived}" if derived else "",
    ]


def _event(raw: Any) -> TrackingEvent:
    event_type = str(raw.get("eventType") or "")
    exception_code = str(raw.get("exceptionCode") or "")
    loc = as_dict(raw.get("scanLocation"))
    text = str(raw.get("eventDescription") or "")
    detail = str(raw.get("exceptionDescription") or "").strip()
    return scan(
        STATUS_TABLE,
        parse_instant(raw["date"]),
        event_type,
        f"{text}: {detail}" if detail else text,
        join_location(loc.get("city"), loc.get("stateOrProvinceCode"), loc.get("countryCode")),
        keys=_keys(event_type, exception_code, str(raw.get("derivedStatusCode") or "")),
    )


def _estimate(result: Any) -> date | None:
    window = as_dict(as_dict(result.get("estimatedDeliveryTimeWindow")).get("window"))
    for item in as_list(result.get("dateAndTimes")):
        if as_dict(item).get("type") == "ESTIMATED_DELIVERY":
            return estimate_date(item.get("dateTime"))
    return estimate_date(window.get("ends"))


def _json_results(data: Any) -> list[TrackingResult]:
    complete = as_list(as_dict(as_dict(data).get("output")).get("completeTrackResults"))
    require(complete, "no output.completeTrackResults", CODE)
    results = []
    for entry in complete:
        for result in as_list(as_dict(entry).get("trackResults")):
            result = as_dict(result)
            number = as_dict(result.get("trackingNumberInfo")).get("trackingNumber") or entry.get(
                "trackingNumber"
            )
            error = as_dict(result.get("error"))
            results.append(
                build_result(
                    CODE,
                    number,
                    [_event(as_dict(e)) for e in as_list(result.get("scanEvents"))],
                    estimated_delivery=_estimate(result),
                    signed_by=as_dict(result.get("deliveryDetails")).get("receivedByName"),
                    extra={"error": error.get("code")} if error else {},
                )
            )
    not_found = [r for r in results if "NOTFOUND" in str(r.extra.get("error", "")).upper()]
    if results and len(not_found) == len(results):
        # An answer that only says "not found" is not an empty parcel: the number is unknown.
        raise NotFound(", ".join(str(r.extra["error"]) for r in not_found)[:200], carrier=CODE)
    return merge_results(results)


def _xml_results(body: Body) -> list[TrackingResult]:
    root = load_xml(body, CODE)
    details = root.findall(".//TrackDetails")
    require(root.tag.endswith("TrackReply") and details, "no TrackReply/TrackDetails", CODE)
    results = []
    for detail in details:
        events = []
        for raw in detail.findall("Events"):
            event_type = xml_text(raw, "EventType")
            exception_code = xml_text(raw, "StatusExceptionCode")
            text = xml_text(raw, "EventDescription")
            reason = xml_text(raw, "StatusExceptionDescription")
            events.append(
                scan(
                    STATUS_TABLE,
                    parse_instant(xml_text(raw, "Timestamp")),
                    event_type,
                    f"{text}: {reason}" if reason else text,
                    join_location(
                        xml_text(raw, "Address/City"),
                        xml_text(raw, "Address/StateOrProvinceCode"),
                        xml_text(raw, "Address/CountryCode"),
                    ),
                    keys=_keys(event_type, exception_code),
                )
            )
        results.append(
            build_result(
                CODE,
                xml_text(detail, "TrackingNumber"),
                events,
                extra={"service": xml_text(detail, "Service/Description") or None},
            )
        )
    return merge_results(results)


@parser(CODE)
def parse_tracking(body: Body) -> list[TrackingResult]:
    """Track API JSON or legacy TrackReply XML → one result per tracking number."""
    if looks_like_xml(body):
        return _xml_results(body)
    return _json_results(load_json(body, CODE))


@register(CODE)
class FedEx(OAuthAdapter):
    code = CODE
    name = "FedEx"
    capabilities = Capabilities(
        max_batch=30,
        requests_per_second=5,
        requests_per_day=100_000,
        auth="oauth_client_credentials",
        tracking_url="https://www.fedex.com/fedextrack/?trknbr={number}",
    )
    default_base_url = "https://apis.fedex.com"
    parse_function = staticmethod(parse_tracking)
    token_path = "/oauth/token"
    token_style = "form"

    def track(self, numbers: Sequence[str]) -> list[TrackingResult]:
        numbers = self.check_batch(numbers)
        if not numbers:
            return []
        response = self.oauth.request(
            "POST",
            f"{self.base_url}/track/v1/trackingnumbers",
            json={
                "includeDetailedScans": True,
                "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": n}} for n in numbers],
            },
        )
        return parse_tracking(response.content)
