"""Canada Post tracking (``tracking-detail`` XML, HTTP Basic).

Credentials: ``username``, ``password`` (API key pair). Endpoint: ``GET /vis/track/pin/{pin}/detail``.
Events carry a zone abbreviation (``EST``) that is read as its fixed UTC offset.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone

from carriers.adapter import Adapter
from carriers.base import Capabilities, NotFound, TrackingResult
from carriers.parsing import (
    CUSTOMS_TEXTS,
    INFO,
    Body,
    CodeClasses,
    Rule,
    StatusTable,
    build_result,
    join_location,
    load_xml,
    parser,
    require,
    scan,
    xml_text,
)
from carriers.registry import register
from carriers.status import Status

CODE = "canadapost"
_ZONES = {
    "NST": -3.5,
    "NDT": -2.5,
    "AST": -4,
    "ADT": -3,
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
    "UTC": 0,
    "GMT": 0,
}
#: ``event-identifier`` codes; texts only for codes not listed.
STATUS_TABLE = StatusTable(
    CODE,
    {
        "3000": Status.info_received,  # order information received
        "2300": Status.in_transit,  # picked up
        "0100": Status.in_transit,  # processed at postal facility
        "0173": Status.exception,  # addressing error found; attempting to correct
        "0500": Status.out_for_delivery,
        "0174": Status.out_for_delivery,
        "1701": Status.available_for_pickup,
        "1479": Status.attempt_fail,  # attempted delivery, notice card left
        "0156": Rule(
            Status.available_for_pickup, "final_notice"
        ),  # returned if not collected in 10 days
        "1496": Status.delivered,
        "1498": Status.delivered,
        "20": INFO,  # signature image recorded
    },
    texts=(
        ("successfully delivered", Status.delivered),
        ("delivered", Status.delivered),
        ("out for delivery", Status.out_for_delivery),
        ("notice card left", Status.attempt_fail),
        ("available for pickup", Status.available_for_pickup),
        ("returned to sender", Status.returning_to_sender),
        ("return to sender", Status.returning_to_sender),
        ("signature image", INFO),
        *CUSTOMS_TEXTS,
    ),
    classes=CodeClasses(),
)


@parser(CODE)
def parse_tracking(body: Body) -> list[TrackingResult]:
    root = load_xml(body, CODE)
    if root.tag == "messages":
        code = xml_text(root, "message/code")
        raise NotFound(
            f"Canada Post message {code}: {xml_text(root, 'message/description')}", carrier=CODE
        )
    require(root.tag == "tracking-detail", "no tracking-detail", CODE)
    events, signed_by = [], None
    for raw in root.findall("significant-events/occurrence"):
        offset = _ZONES[xml_text(raw, "event-time-zone", "EST").upper()]
        at = datetime.strptime(
            f"{xml_text(raw, 'event-date')} {xml_text(raw, 'event-time')}", "%Y-%m-%d %H:%M:%S"
        ).replace(tzinfo=timezone(timedelta(hours=offset)))
        event = scan(
            STATUS_TABLE,
            at,
            xml_text(raw, "event-identifier"),
            xml_text(raw, "event-description"),
            join_location(xml_text(raw, "event-site"), xml_text(raw, "event-province")),
        )
        signed_by = signed_by or xml_text(raw, "signatory-name") or None
        events.append(event)
    expected = xml_text(root, "changed-expected-date") or xml_text(root, "expected-delivery-date")
    return [
        build_result(
            CODE,
            xml_text(root, "pin"),
            events,
            signed_by=signed_by,
            estimated_delivery=date.fromisoformat(expected) if expected else None,
            extra={"service": xml_text(root, "service-name") or None},
        )
    ]


@register(CODE)
class CanadaPost(Adapter):
    code = CODE
    name = "Canada Post"
    capabilities = Capabilities(
        max_batch=1,
        requests_per_second=2,
        auth="basic",
        tracking_url="https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={number}",
    )
    default_base_url = "https://soa-gw.canadapost.ca"
    credential_keys = ("username", "password")
    parse_function = staticmethod(parse_tracking)

    def track(self, numbers: Sequence[str]) -> list[TrackingResult]:
        results = []
        for number in self.check_batch(numbers):
            response = self.http.request(
                "GET",
                f"{self.base_url}/vis/track/pin/{number}/detail",
                auth=(self.credential("username"), self.credential("password")),
                headers={"Accept": "application/vnd.cpc.track-v2+xml", "Accept-language": "en-CA"},
            )
            results.extend(parse_tracking(response.content))
        return results
