"""Aggregator webhooks: signatures checked on the raw body, then parsed like the API."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from carriers import registry
from carriers.base import AuthError
from carriers.registry import CarrierSettings
from carriers.status import Status
from tests.conftest import CONFORMANCE

AGGREGATORS = CONFORMANCE / "aggregator_webhooks"
AFTERSHIP = AGGREGATORS / "aftership_tracking_fedex_cn_to_jp_delivered.json"
EASYPOST = AGGREGATORS / "easypost_event_tracker_updated.json"
SHIPPO = AGGREGATORS / "shippo_track_usps_delivered.json"


def adapter(code: str, **credentials: str):
    return registry.create(code, CarrierSettings(credentials=credentials))


def pushed(carrier, headers: dict[str, str], body: bytes):
    """What the service does with a pushed body: verify it, then parse it."""
    carrier.verify_webhook(headers, body)
    return carrier.parse_webhook(body)


def aftership_envelope() -> bytes:
    tracking = json.loads(AFTERSHIP.read_text())["data"]["tracking"]
    return json.dumps(
        {
            "event": "tracking_update",
            "event_id": "5f6b0bbe-7b6f-4f1f-9c1e-6c1c3a7c2b11",
            "is_tracking_first_tag": False,
            "msg": tracking,
            "ts": 1534482646,
        }
    ).encode()


def aftership_sign(body: bytes, secret: str) -> str:
    import hmac

    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_aftership_signature_matches_the_readme_known_answer() -> None:
    from carriers.aftership import signature

    assert (
        signature(AFTERSHIP.read_bytes(), "conformance-test-secret")
        == "sj3jrolY9R8k9IoBLoscFEnFhCNRMzY8K5UPF0MfeOU="
    )


def test_aftership_webhook_with_a_valid_signature_parses_the_msg() -> None:
    body = aftership_envelope()
    headers = {
        "Aftership-Hmac-Sha256": aftership_sign(body, "whsec"),
        "as-webhook-version": "2024-04",
    }
    [result] = pushed(adapter("aftership", webhook_secret="whsec"), headers, body)
    assert (result.tracking_number, result.status) == ("111111111111", Status.delivered)


def test_aftership_webhook_rejects_a_reserialised_body() -> None:
    body = aftership_envelope()
    signature = aftership_sign(body, "whsec")
    reindented = json.dumps(json.loads(body), indent=2).encode()
    with pytest.raises(AuthError):
        adapter("aftership", webhook_secret="whsec").verify_webhook(
            {"aftership-hmac-sha256": signature}, reindented
        )


def test_aftership_webhook_without_signature_is_rejected() -> None:
    with pytest.raises(AuthError):
        adapter("aftership", webhook_secret="whsec").verify_webhook({}, aftership_envelope())


def test_easypost_webhook_matches_its_client_library_known_answer() -> None:
    header = "hmac-sha256-hex=38f3f53c103713df81616a0a186d77141957323ec21d5fe9363db93840f527db"
    body = EASYPOST.read_bytes()
    assert len(body) == 3550
    [result] = pushed(
        adapter("easypost", webhook_secret="sécret"), {"X-Hmac-Signature": header}, body
    )
    assert result.status is Status.in_transit


def test_easypost_signature_without_nfkd_normalisation_does_not_match() -> None:
    import hmac

    body = EASYPOST.read_bytes()
    composed = "hmac-sha256-hex=" + hmac.new("sécret".encode(), body, hashlib.sha256).hexdigest()
    with pytest.raises(AuthError):
        adapter("easypost", webhook_secret="sécret").verify_webhook(
            {"X-Hmac-Signature": composed}, body
        )


def shippo_body() -> bytes:
    return json.dumps(
        {"event": "track_updated", "test": True, "data": json.loads(SHIPPO.read_text())}
    ).encode()


def test_shippo_webhook_accepts_the_shared_token_header() -> None:
    [result] = pushed(
        adapter("shippo", webhook_token="tok"), {"X-Webhook-Token": "tok"}, shippo_body()
    )
    assert result.status is Status.delivered


def test_shippo_webhook_accepts_the_token_as_basic_auth_password() -> None:
    auth = "Basic " + base64.b64encode(b"shippo:tok").decode()
    [result] = pushed(
        adapter("shippo", webhook_token="tok"), {"Authorization": auth}, shippo_body()
    )
    assert result.tracking_number == "9205590164917337534322"


@pytest.mark.parametrize(
    "headers", [{}, {"X-Webhook-Token": "wrong"}, {"Authorization": "Basic !!"}]
)
def test_shippo_webhook_without_the_right_token_is_rejected(headers: dict[str, str]) -> None:
    with pytest.raises(AuthError):
        adapter("shippo", webhook_token="tok").verify_webhook(headers, shippo_body())


SEVENTEEN = {
    "event": "TRACKING_UPDATED",
    "data": {
        "number": "RR123456789CN",
        "carrier": 3011,
        "tag": "order-1",
        "track_info": {
            "latest_status": {"status": "Exception", "sub_status": "Exception_Returning"},
            "time_metrics": {"estimated_delivery_date": {"from": "2025-01-20T00:00:00+08:00"}},
            "tracking": {
                "providers": [
                    {
                        "events": [
                            {
                                "time_iso": "2025-01-12T09:00:00+08:00",
                                "description": "Returning to sender",
                                "stage": "Returning",
                                "sub_status": "Exception_Returning",
                                "location": "Shenzhen",
                            },
                            {
                                "time_iso": "2025-01-10T09:00:00+08:00",
                                "description": "Picked up",
                                "stage": "PickedUp",
                                "sub_status": "InTransit_PickedUp",
                                "location": "Shenzhen",
                            },
                        ]
                    }
                ]
            },
        },
    },
}


def test_seventeentrack_webhook_checks_the_sign_header_and_parses() -> None:
    body = json.dumps(SEVENTEEN).encode()
    sign = hashlib.sha256(body + b"/k17").hexdigest()
    [result] = pushed(adapter("seventeentrack", api_key="k17"), {"sign": sign}, body)
    assert result.status is Status.returning_to_sender
    assert [e.status for e in result.events] == [Status.in_transit, Status.returning_to_sender]
    assert result.extra["carrier_key"] == 3011


def test_seventeentrack_webhook_with_a_wrong_sign_is_rejected() -> None:
    with pytest.raises(AuthError):
        adapter("seventeentrack", api_key="k17").verify_webhook(
            {"sign": "00"}, json.dumps(SEVENTEEN).encode()
        )


def test_polling_only_carriers_refuse_webhooks() -> None:
    from carriers.base import Unsupported

    with pytest.raises(Unsupported):
        adapter("ups").verify_webhook({}, b"{}")
    with pytest.raises(Unsupported):
        adapter("ups").parse_webhook(b"{}")
