"""Who may send events: a brand's API key AND a fresh signature with that brand's secret."""

from __future__ import annotations

import json

from intake_helpers import example, process, rows

from postpurchase.clock import utcnow
from postpurchase.intake.signing import sign as _sign
from postpurchase.models import InboxEvent, InboxState


def sign(secret: str, body: bytes) -> str:
    return _sign(secret, body, int(utcnow().timestamp()))


def post_signed(client, api_key: str, body: bytes, signature: str):
    """Post ``body`` with any key and signature (the ``post_event`` fixture always signs right)."""
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Content-Type": "application/json",
        "X-Postpurchase-Signature": signature,
    }
    return client.post("/webhooks/wms", data=body, headers=headers)


def test_signed_event_with_the_brands_key_is_accepted(post_event) -> None:
    response = post_event(example("order.created"))
    assert response.status_code == 202
    assert response.json["status"] == "accepted"


def test_api_events_path_is_the_same_endpoint(post_event) -> None:
    response = post_event(example("order.created"), path="/api/v1/events")
    assert response.status_code == 202


def test_missing_signature_is_401(app, post_event) -> None:
    response = post_event(example("order.created"), headers={"X-Postpurchase-Signature": ""})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "missing_signature"
    assert rows(app, InboxEvent) == []


def test_signature_over_another_body_is_401_and_stored_as_rejected(app, client, brand) -> None:
    body = json.dumps(example("order.created")).encode()
    response = post_signed(client, brand.api_key, body, sign(brand.signing_secret, body + b" "))
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_signature"
    [stored] = rows(app, InboxEvent)
    assert (stored.signature_ok, stored.state, stored.raw_body) == (
        False,
        InboxState.rejected,
        body,
    )


def test_rejected_event_does_not_block_the_genuine_one(app, client, brand, post_event) -> None:
    body = json.dumps(example("order.created")).encode()
    assert post_signed(client, brand.api_key, body, sign("not-the-secret", body)).status_code == 401
    assert post_event(body).status_code == 202
    process(app)
    states = sorted(e.state for e in rows(app, InboxEvent))
    assert states == sorted([InboxState.rejected, InboxState.processed])


def test_expired_timestamp_is_401(post_event) -> None:
    response = post_event(example("order.created"), timestamp=int(utcnow().timestamp()) - 301)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "signature_expired"


def test_timestamp_from_the_future_beyond_tolerance_is_401(post_event) -> None:
    response = post_event(example("order.created"), timestamp=int(utcnow().timestamp()) + 400)
    assert response.json["error"]["code"] == "signature_expired"


def test_timestamp_within_tolerance_is_accepted(post_event) -> None:
    assert post_event(example("order.created"), timestamp=int(utcnow().timestamp()) - 240).status_code == 202


def test_tolerance_is_configurable(app, post_event) -> None:
    app.config["SIGNATURE_TOLERANCE_SECONDS"] = 10
    assert post_event(example("order.created"), timestamp=int(utcnow().timestamp()) - 60).status_code == 401


def test_malformed_signature_header_is_401(post_event) -> None:
    response = post_event(example("order.created"), headers={"X-Postpurchase-Signature": "v1=abc"})
    assert response.json["error"]["code"] == "malformed_signature"


def test_missing_api_key_is_401(post_event) -> None:
    response = post_event(example("order.created"), headers={"Authorization": ""})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "missing_api_key"


def test_wrong_api_key_is_401(post_event) -> None:
    response = post_event(example("order.created"), headers={"Authorization": "Bearer pp_nope"})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_api_key"


def test_other_brands_key_with_this_brands_signature_is_401(app, client, brand, make_brand) -> None:
    other = make_brand("other")
    body = json.dumps(example("order.created")).encode()
    response = post_signed(client, other.api_key, body, sign(brand.signing_secret, body))
    assert response.status_code == 401
    assert all(e.state == InboxState.rejected for e in rows(app, InboxEvent))


def test_each_brand_signs_with_its_own_secret(post_event, make_brand) -> None:
    other = make_brand("other")
    assert post_event(example("order.created"), as_brand=other).status_code == 202
