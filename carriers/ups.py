"""UPS Tracking API v1 (OAuth 2 client credentials).

Credentials: ``client_id``, ``client_secret``. Endpoint: ``GET /api/track/v1/details/{number}``
(one number per call), token from ``POST /security/v1/oauth/token`` with HTTP Basic.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from carriers.adapter import OAuthAdapter
from carriers.base import Capabilities, NotFound, TrackingEvent, TrackingResult
from carriers.parsing import (
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
    parser,
    require,
    scan,
    us_state_zone,
)
from carriers.registry import register
from carriers.status import Status

CODE = "ups"
_ATTEMPT = ByText(
    (
        ("delivery attempt", Status.attempt_fail),
        ("receiver not available", Status.attempt_fail),
        ("not available", Status.attempt_fail),
        ("business closed", Status.attempt_fail),
    ),
    Status.exception,
)
#: ``activity[].status``: ``type:code`` first, then ``statusCode``, then ``type``.
STATUS_TABLE = StatusTable(
    CODE,
    {
        "M": Status.info_received,  # manifest: label created, not yet received
        "MV": Status.exception,  # manifest voided
        "P": Status.in_transit,  # pickup
        "I": Status.in_transit,  # in transit
        "I:OT": Status.out_for_delivery,  # type I, code OT = out for delivery
        "status:021": Status.out_for_delivery,
        "O": Status.out_for_delivery,
        "D": Status.delivered,
        "DO": Status.delivered,  # delivered to origin CFS (freight)
        "DD": Status.delivered,  # delivered to destination CFS (freight)
        "X": _ATTEMPT,  # exception: attempts vs everything else by text
        "RS": Status.returning_to_sender,  # returned to shipper
        "NA": Status.pending,  # not available
        "U": Rule(Status.in_transit, "updated"),
    },
    classes=CodeClasses(
        # Activity type letters: the family of any code filed under them.
        (
            ("D", Status.delivered),
            ("X", Status.exception),
            ("O", Status.out_for_delivery),
            ("R", Status.returning_to_sender),
            ("M", Status.info_received),
            ("I", Status.in_transit),
            ("P", Status.in_transit),
        )
    ),
)


def _when(activity: Any, home_state: str | None) -> datetime:
    """GMT fields when UPS sends them, else local date/time in the scan state's zone."""
    gmt_date, gmt_time = activity.get("gmtDate"), activity.get("gmtTime")
    if gmt_date and gmt_time:
        offset = str(activity.get("gmtOffset") or "+00:00")
        sign = -1 if offset.startswith("-") else 1
        hours, _, minutes = offset.lstrip("+-").partition(":")
        tz = timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))
        utc = datetime.strptime(
            f"{gmt_date}{str(gmt_time).replace(':', '')[:6]}", "%Y%m%d%H%M%S"
        ).replace(tzinfo=UTC)
        return utc.astimezone(tz)
    address = as_dict(as_dict(activity.get("location")).get("address"))
    zone = (
        us_state_zone(address.get("stateProvince"), home_state)
        if address.get("countryCode") in (None, "US")
        else UTC
    )
    return datetime.strptime(
        f"{activity['date']}{str(activity['time'])[:6]}", "%Y%m%d%H%M%S"
    ).replace(tzinfo=zone)


def _event(activity: Any, home_state: str | None) -> TrackingEvent:
    status = as_dict(activity["status"])
    kind, code = str(status.get("type") or ""), str(status.get("code") or "")
    address = as_dict(as_dict(activity.get("location")).get("address"))
    return scan(
        STATUS_TABLE,
        _when(activity, home_state),
        f"{kind}/{code}".strip("/"),
        str(status.get("description") or ""),
        join_location(
            address.get("city"), address.get("stateProvince"), address.get("countryCode")
        ),
        keys=[f"{kind}:{code}", f"status:{status.get('statusCode')}", kind],
    )


def _estimate(package: Any) -> date | None:
    for item in as_list(package.get("deliveryDate")):
        if as_dict(item).get("type") in ("SDD", "RDD", "EDD") and item.get("date"):
            return estimate_date(item["date"])
    return None


@parser(CODE)
def parse_tracking(body: Body) -> list[TrackingResult]:
    data = load_json(body, CODE)
    shipments = as_list(as_dict(as_dict(data).get("trackResponse")).get("shipment"))
    require(shipments, "no trackResponse.shipment", CODE)
    results = []
    for shipment in shipments:
        for package in as_list(as_dict(shipment).get("package")):
            package = as_dict(package)
            number = package.get("trackingNumber") or shipment.get("inquiryNumber")
            addresses = [
                as_dict(as_dict(a).get("address")) for a in as_list(package.get("packageAddress"))
            ]
            home_state = next(
                (a.get("stateProvince") for a in addresses if a.get("stateProvince")), None
            )
            events = [_event(as_dict(a), home_state) for a in as_list(package.get("activity"))]
            signed_by = as_dict(package.get("deliveryInformation")).get("receivedBy")
            results.append(
                build_result(
                    CODE,
                    number,
                    events,
                    estimated_delivery=_estimate(package),
                    signed_by=signed_by if isinstance(signed_by, str) else None,
                    extra={"service": as_dict(package.get("service")).get("description") or None},
                )
            )
    warnings = [as_dict(w) for s in shipments for w in as_list(as_dict(s).get("warnings"))]
    if not results and warnings:
        # A shipment with only warnings (e.g. "Tracking Information Not Found") names no parcel.
        raise NotFound(
            "; ".join(f"{w.get('code')} {w.get('message')}" for w in warnings)[:200], carrier=CODE
        )
    return results


@register(CODE)
class UPS(OAuthAdapter):
    code = CODE
    name = "UPS"
    capabilities = Capabilities(
        max_batch=1,
        requests_per_second=5,
        auth="oauth_client_credentials",
        tracking_url="https://www.ups.com/track?tracknum={number}",
    )
    default_base_url = "https://onlinetools.ups.com"
    parse_function = staticmethod(parse_tracking)
    token_path = "/security/v1/oauth/token"
    token_style = "basic"

    def track(self, numbers: Sequence[str]) -> list[TrackingResult]:
        results = []
        for number in self.check_batch(numbers):
            response = self.oauth.request(
                "GET",
                f"{self.base_url}/api/track/v1/details/{number}",
                params={"locale": "en_US", "returnSignature": "false"},
                headers={"transId": uuid.uuid4().hex, "transactionSrc": "postpurchase"},
            )
            results.extend(parse_tracking(response.content))
        return results
