"""USPS Tracking API v3 (OAuth 2) and the legacy Web Tools TrackV2 XML.

Credentials: ``client_id``, ``client_secret``. Endpoint: ``GET /tracking/v3/tracking/{number}
?expand=DETAIL``; token from ``POST /oauth2/v3/token`` (JSON body). TrackV2 times carry no zone:
they are read in the scan state's zone (else the destination state's).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from xml.etree.ElementTree import Element

from carriers.adapter import OAuthAdapter
from carriers.base import Capabilities, TrackingEvent, TrackingResult
from carriers.parsing import (
    CUSTOMS_TEXTS,
    Body,
    CodeClasses,
    StatusTable,
    as_dict,
    as_list,
    build_result,
    join_location,
    load_json,
    load_xml,
    looks_like_xml,
    parse_instant,
    parser,
    require,
    scan,
    us_state_zone,
    xml_text,
)
from carriers.registry import register
from carriers.status import Status

CODE = "usps"
#: ``eventCode`` (v3) / ``EventCode`` (TrackV2); texts decide only for codes not listed here.
STATUS_TABLE = StatusTable(
    CODE,
    {
        "GX": Status.info_received,  # shipping label created, USPS awaiting item
        "MA": Status.info_received,  # pre-shipment information sent
        **dict.fromkeys(
            (
                "03",
                "OA",
                "10",
                "SF",
                "T1",
                "TL",
                "A1",
                "EF",
                "PC",
                "07",
                "U1",
                "L1",
                "08",
                "14",
                "MR",
                "RB",
            ),
            Status.in_transit,
        ),
        "OF": Status.out_for_delivery,
        "01": Status.delivered,
        "17": Status.delivered,  # picked up by agent
        "02": Status.attempt_fail,  # notice left (no authorized recipient available)
        "52": Status.available_for_pickup,
        "04": Status.exception,  # refused
        "05": Status.exception,  # undeliverable as addressed
        "21": Status.exception,  # no such number
        "22": Status.exception,  # insufficient address
        "09": Status.returning_to_sender,
        "29": Status.returning_to_sender,
    },
    texts=(
        ("delivered", Status.delivered),
        ("out for delivery", Status.out_for_delivery),
        ("available for pickup", Status.available_for_pickup),
        ("notice left", Status.attempt_fail),
        ("delivery attempted", Status.attempt_fail),
        ("return to sender", Status.returning_to_sender),
        ("refused", Status.exception),
        ("undeliverable", Status.exception),
        ("label created", Status.info_received),
        *CUSTOMS_TEXTS,
    ),
    classes=CodeClasses(),
)


def strip_html(text: Any) -> str | None:
    """``USPS Ground Advantage<SUP>&#153;</SUP>`` → ``USPS Ground Advantage™``."""
    if not isinstance(text, str):
        return None
    return html.unescape(re.sub(r"<[^>]*>", "", text)).strip() or None


def _v3_when(raw: Any) -> datetime:
    if raw.get("GMTTimestamp"):
        instant = parse_instant(raw["GMTTimestamp"])
        offset = str(raw.get("GMTOffset") or "")
        match = re.fullmatch(r"([+-])(\d{1,2}):(\d{2})", offset)
        if match:
            sign = -1 if match.group(1) == "-" else 1
            tz = timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
            return instant.astimezone(tz)
        return instant
    return parse_instant(raw["eventTimestamp"], default_tz=us_state_zone(raw.get("eventState")))


def _v3_event(raw: Any) -> TrackingEvent:
    return scan(
        STATUS_TABLE,
        _v3_when(raw),
        str(raw.get("eventCode") or ""),
        str(raw.get("eventType") or ""),
        join_location(raw.get("eventCity"), raw.get("eventState"), raw.get("eventZIP")),
    )


def _v3_results(data: Any) -> list[TrackingResult]:
    data = as_dict(data)
    require(
        "trackingEvents" in data or "trackingNumber" in data,
        "not a USPS v3 tracking response",
        CODE,
    )
    events = [_v3_event(as_dict(e)) for e in as_list(data.get("trackingEvents"))]
    expected = data.get("expectedDeliveryTimeStamp") or data.get("expectedDeliveryDate")
    delivered: Any = next(
        (e for e in as_list(data.get("trackingEvents")) if as_dict(e).get("eventCode") == "01"), {}
    )
    return [
        build_result(
            CODE,
            data["trackingNumber"],
            events,
            estimated_delivery=parse_instant(str(expected)[:10]).date() if expected else None,
            signed_by=as_dict(delivered).get("name") or None,
            extra={
                "service": strip_html(data.get("mailClass")),
                "status_category": data.get("statusCategory"),
            },
        )
    ]


def _legacy_event(raw: Element, fallback_state: str) -> TrackingEvent:
    day, clock = xml_text(raw, "EventDate"), xml_text(raw, "EventTime") or "12:00 am"
    zone = us_state_zone(xml_text(raw, "EventState"), fallback_state, default=UTC)
    at = datetime.strptime(f"{day} {clock.upper()}", "%B %d, %Y %I:%M %p").replace(tzinfo=zone)
    return scan(
        STATUS_TABLE,
        at,
        xml_text(raw, "EventCode"),
        xml_text(raw, "Event"),
        join_location(
            xml_text(raw, "EventCity"), xml_text(raw, "EventState"), xml_text(raw, "EventZIPCode")
        ),
    )


def _legacy_results(body: Body) -> list[TrackingResult]:
    root = load_xml(body, CODE)
    infos = root.findall("TrackInfo")
    require(root.tag == "TrackResponse" and infos, "no TrackResponse/TrackInfo", CODE)
    results = []
    for info in infos:
        number = info.get("ID") or ""
        error = xml_text(info, "Error/Description")
        state = xml_text(info, "DestinationState")
        raws = info.findall("TrackSummary") + info.findall("TrackDetail")
        events = [_legacy_event(raw, state) for raw in raws if xml_text(raw, "EventDate")]
        expected = xml_text(info, "PredictedDeliveryDate") or xml_text(info, "ExpectedDeliveryDate")
        results.append(
            build_result(
                CODE,
                number,
                events,
                estimated_delivery=(
                    # a calendar date in the carrier's words: no time, so no zone to attach
                    datetime.strptime(expected, "%B %d, %Y").date()  # noqa: DTZ007
                )
                if expected
                else None,
                extra={
                    "service": strip_html(xml_text(info, "Class")),
                    "status_category": xml_text(info, "StatusCategory"),
                    **({"error": error} if error else {}),
                },
            )
        )
    return results


@parser(CODE)
def parse_tracking(body: Body) -> list[TrackingResult]:
    """USPS v3 JSON (one number) or legacy TrackV2 XML (several ``TrackInfo``)."""
    if looks_like_xml(body):
        return _legacy_results(body)
    return _v3_results(load_json(body, CODE))


@register(CODE)
class USPS(OAuthAdapter):
    code = CODE
    name = "USPS"
    capabilities = Capabilities(
        max_batch=1,
        requests_per_second=1,
        requests_per_day=None,
        auth="oauth_client_credentials",
        tracking_url="https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
    )
    default_base_url = "https://apis.usps.com"
    parse_function = staticmethod(parse_tracking)
    token_path = "/oauth2/v3/token"
    token_style = "json"

    def track(self, numbers: Sequence[str]) -> list[TrackingResult]:
        results = []
        for number in self.check_batch(numbers):
            response = self.oauth.request(
                "GET", f"{self.base_url}/tracking/v3/tracking/{number}", params={"expand": "DETAIL"}
            )
            results.extend(parse_tracking(response.content))
        return results
