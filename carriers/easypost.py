"""EasyPost trackers (``tracker.created`` / ``tracker.updated`` webhooks; tracker API).

Credentials: ``api_key`` (HTTP Basic user), ``webhook_secret``. Webhook authenticity: header
``X-Hmac-Signature: hmac-sha256-hex=<hex>``, HMAC-SHA256 of the raw body keyed with the secret
normalised to Unicode NFKD (EasyPost's client libraries do this; without it non-ASCII secrets
fail). ``track`` creates (or, for a known code, returns) a tracker: ``POST /v2/trackers``.

Return labels (:class:`carriers.labels.ReturnLabelBuyer`): ``POST /v2/shipments`` with
``is_return: true`` (addresses as on the outbound parcel: ``to_address`` is the customer, EasyPost
swaps them), then ``POST /v2/shipments/{id}/buy`` with the cheapest rate of the configured carrier
and service; a shipment already bought is read back (``GET /v2/shipments/{id}``), never bought again.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from carriers.adapter import Adapter, header, same_secret
from carriers.base import AuthError, Capabilities, TrackingResult
from carriers.labels import LabelAddress, PurchasedLabel, ReturnLabelRequest
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


#: EasyPost's carrier names → our carrier codes (others keep EasyPost's, lower-cased).
CARRIER_CODES = {"USPS": "usps", "UPS": "ups", "FedEx": "fedex", "DHLExpress": "dhl_express"}


def _address(address: LabelAddress) -> dict[str, str]:
    return {
        "name": address.name,
        "street1": address.street1,
        "street2": address.street2,
        "city": address.city,
        "state": address.state,
        "zip": address.postal_code,
        "country": address.country,
        "phone": address.phone,
        "email": address.email,
    }


def shipment_body(request: ReturnLabelRequest) -> dict[str, Any]:
    """The ``POST /shipments`` body of a return: EasyPost wants the outbound direction plus
    ``is_return`` (from = the brand, to = the customer), and swaps them on the label."""
    return {
        "shipment": {
            "is_return": True,
            "reference": request.reference,
            "to_address": _address(request.sender),
            "from_address": _address(request.recipient),
            # EasyPost weighs in ounces.
            "parcel": {"weight": round(request.weight_g / 28.3495, 1)},
            "options": {"label_format": "PDF", "print_custom_1": request.reference},
        }
    }


def pick_rate(shipment: Mapping[str, Any], service: Mapping[str, str]) -> Mapping[str, Any]:
    """The cheapest rate matching the configured ``carrier``/``service`` (either may be absent)."""
    rates = [
        as_dict(r)
        for r in as_list(shipment.get("rates"))
        if all(as_dict(r).get(k) == v for k, v in service.items() if k in ("carrier", "service"))
    ]
    require(bool(rates), f"no rate for {dict(service)}", CODE)
    return min(rates, key=lambda r: float(r.get("rate") or "inf"))


def parse_label(shipment: Mapping[str, Any]) -> PurchasedLabel:
    """The bought label of a Shipment object."""
    label = as_dict(shipment.get("postage_label"))
    rate = as_dict(shipment.get("selected_rate"))
    require(bool(label.get("label_url")) and bool(shipment.get("tracking_code")), "no label", CODE)
    currency = str(rate.get("currency") or "USD")
    minor = 0 if currency == "JPY" else 2
    carrier = str(rate.get("carrier") or CODE)
    return PurchasedLabel(
        shipment_id=str(shipment["id"]),
        carrier=CARRIER_CODES.get(carrier, carrier.lower()),
        tracking_number=str(shipment["tracking_code"]),
        label_url=str(label["label_url"]),
        amount=round(float(rate.get("rate") or 0) * 10**minor),
        currency=currency,
    )


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

    def create_return_shipment(self, request: ReturnLabelRequest) -> str:
        response = self.http.request(
            "POST",
            f"{self.base_url}/shipments",
            json=shipment_body(request),
            auth=(self.credential("api_key"), ""),
        )
        shipment = as_dict(load_json(response.content, CODE))
        require(shipment.get("object") == "Shipment", "not an EasyPost Shipment", CODE)
        return str(shipment["id"])

    def buy_label(self, shipment_id: str, request: ReturnLabelRequest) -> PurchasedLabel:
        auth = (self.credential("api_key"), "")
        url = f"{self.base_url}/shipments/{shipment_id}"
        shipment = as_dict(load_json(self.http.request("GET", url, auth=auth).content, CODE))
        if as_dict(shipment.get("postage_label")).get("label_url"):
            return parse_label(shipment)
        rate = pick_rate(shipment, request.service)
        response = self.http.request(
            "POST", f"{url}/buy", json={"rate": {"id": rate["id"]}}, auth=auth
        )
        return parse_label(as_dict(load_json(response.content, CODE)))

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        expected = signature(body, self.credential("webhook_secret"))
        if not same_secret(header(headers, SIGNATURE_HEADER), expected):
            raise AuthError("bad or missing X-Hmac-Signature", carrier=self.code)

    def parse_webhook(self, body: bytes) -> list[TrackingResult]:
        return parse_tracking(body)
