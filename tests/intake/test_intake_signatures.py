"""Who may send events: a brand's API key AND a fresh signature with that brand's secret."""

from __future__ import annotations

import json

from intake_helpers import example, process, rows

from postpurchase.clock import utcnow
from postpurchase.inbox.rejections import ROWS_PER_MINUTE
from postpurchase.inbox.signing import sign as _sign
from postpurchase.models import InboxEvent, InboxState, RejectionReason, WebhookRejection


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


def test_signature_over_another_body_is_401_and_not_stored(app, client, brand) -> None:
    body = json.dumps(example("order.created")).encode()
    response = post_signed(client, brand.api_key, body, sign(brand.signing_secret, body + b" "))
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_signature"
    assert rows(app, InboxEvent) == []


def test_a_rejection_is_counted_without_body_or_headers(app, client, brand) -> None:
    body = json.dumps(example("order.created")).encode()
    post_signed(client, brand.api_key, body, sign("not-the-secret", body))
    [rejection] = rows(app, WebhookRejection)
    assert (rejection.source, rejection.brand_id, rejection.reason, rejection.body_bytes) == (
        "wms",
        brand.brand_id,
        RejectionReason.invalid_signature,
        len(body),
    )
    assert rejection.remote_addr == "127.0.0.1"


def test_a_flood_of_bad_signatures_adds_a_bounded_number_of_rows(app, client, brand) -> None:
    body = b'{"pad": "' + b"x" * 100_000 + b'"}'
    for _ in range(ROWS_PER_MINUTE + 15):
        assert post_signed(client, brand.api_key, body, sign("nope", body)).status_code == 401
    rejections = rows(app, WebhookRejection)
    assert len(rejections) == ROWS_PER_MINUTE
    assert sum(r.count for r in rejections) == ROWS_PER_MINUTE + 15


def test_rejections_of_a_new_minute_get_rows_of_their_own(app, client, brand, clock) -> None:
    body = b"{}"
    for _ in range(ROWS_PER_MINUTE + 2):
        post_signed(client, brand.api_key, body, sign("nope", body))
    clock.advance(minutes=1)
    post_signed(client, brand.api_key, body, sign("nope", body))
    assert len(rows(app, WebhookRejection)) == ROWS_PER_MINUTE + 1


def test_unknown_api_key_is_counted_as_a_rejection(app, client) -> None:
    post_signed(client, "pp_nope", b"{}", "t=1,v1=00")
    [rejection] = rows(app, WebhookRejection)
    assert (rejection.brand_id, rejection.reason) == (None, RejectionReason.invalid_credentials)


def test_non_ascii_signature_value_is_401_malformed(client, brand) -> None:
    signature = f"t={int(utcnow().timestamp())},v1=\u00e9".encode().decode("latin-1")
    response = post_signed(client, brand.api_key, b"{}", signature)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "malformed_signature"


def test_a_400_digit_timestamp_is_401_malformed(client, brand) -> None:
    response = post_signed(client, brand.api_key, b"{}", "t=" + "9" * 400 + ",v1=00")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "malformed_signature"


def test_rejected_event_does_not_block_the_genuine_one(app, client, brand, post_event) -> None:
    body = json.dumps(example("order.created")).encode()
    assert post_signed(client, brand.api_key, body, sign("not-the-secret", body)).status_code == 401
    assert post_event(body).status_code == 202
    process(app)
    assert [e.state for e in rows(app, InboxEvent)] == [InboxState.processed]


def test_expired_timestamp_is_401(post_event) -> None:
    response = post_event(example("order.created"), timestamp=int(utcnow().timestamp()) - 301)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "signature_expired"


def test_timestamp_from_the_future_beyond_tolerance_is_401(post_event) -> None:
    response = post_event(example("order.created"), timestamp=int(utcnow().timestamp()) + 400)
    assert response.json["error"]["code"] == "signature_expired"


def test_timestamp_within_tolerance_is_accepted(post_event) -> None:
    assert (
        post_event(example("order.created"), timestamp=int(utcnow().timestamp()) - 240).status_code
        == 202
    )


def test_tolerance_is_configurable(app, post_event) -> None:
    app.config["SIGNATURE_TOLERANCE_SECONDS"] = 10
    assert (
        post_event(example("order.created"), timestamp=int(utcnow().timestamp()) - 60).status_code
        == 401
    )


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
    assert rows(app, InboxEvent) == []


def test_each_brand_signs_with_its_own_secret(post_event, make_brand) -> None:
    other = make_brand("other")
    assert post_event(example("order.created"), as_brand=other).status_code == 202
