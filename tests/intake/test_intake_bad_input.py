"""Bad input is refused with a JSON error that says what is wrong, and nothing is stored."""

from __future__ import annotations

import json

import pytest
from intake_helpers import example, rows

from postpurchase.models import InboxEvent


def test_body_over_the_limit_is_413(app, post_event) -> None:
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"] = 2048
    envelope = example("order.created", attributes={"note": "あ" * 1000})
    response = post_event(envelope)
    assert response.status_code == 413
    assert response.json["error"]["code"] == "body_too_large"
    assert rows(app, InboxEvent) == []


def test_default_limit_is_one_mebibyte(post_event) -> None:
    envelope = example("order.created", attributes={"note": "x" * (1024 * 1024)})
    assert post_event(envelope).status_code == 413


def test_non_json_content_type_is_415(post_event) -> None:
    response = post_event(example("order.created"), headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.json["error"]["code"] == "unsupported_media_type"


def test_malformed_json_is_400(app, post_event) -> None:
    response = post_event(b'{"id": "evt_1", "type": "order.created",')
    assert response.status_code == 400
    assert response.json["error"]["code"] == "malformed_event"
    assert rows(app, InboxEvent) == []


def test_json_that_is_not_an_object_is_400(post_event) -> None:
    assert post_event(b"[1, 2, 3]").status_code == 400


def test_envelope_without_id_is_400_naming_the_field(post_event) -> None:
    envelope = example("order.created")
    del envelope["id"]
    response = post_event(envelope)
    assert response.status_code == 400
    assert response.json["error"]["details"] == [{"loc": "id", "msg": "Field required"}]


def test_unknown_event_type_is_400(post_event) -> None:
    envelope = {**example("order.created"), "type": "order.exploded"}
    response = post_event(envelope)
    assert response.status_code == 400
    assert response.json["error"]["details"][0]["loc"] == "type"


def test_schema_error_is_422_with_the_field_path(app, post_event) -> None:
    envelope = example("order.created")
    envelope["data"]["lines"][0]["quantity"] = 0
    response = post_event(envelope)
    assert response.status_code == 422
    [detail] = response.json["error"]["details"]
    assert detail["loc"] == "data.lines[0].quantity"
    assert "greater than or equal to 1" in detail["msg"]
    assert rows(app, InboxEvent) == []


def test_naive_occurred_at_is_422(post_event) -> None:
    envelope = {**example("order.created"), "occurred_at": "2026-11-20T21:14:06"}
    response = post_event(envelope)
    assert response.status_code == 422
    assert response.json["error"]["details"][0]["loc"] == "occurred_at"


def test_misspelt_field_is_422_rather_than_dropped(post_event) -> None:
    envelope = example("shipment.updated", time_slots="19-21")
    response = post_event(envelope)
    assert response.status_code == 422
    assert response.json["error"]["details"][0]["loc"] == "data.time_slots"


def test_unknown_time_slot_is_422(post_event) -> None:
    response = post_event(example("shipment.updated", time_slot="20-22"))
    assert response.json["error"]["details"][0]["loc"] == "data.time_slot"


def test_tracking_number_and_parcels_together_are_422(post_event) -> None:
    response = post_event(example("shipment.created", tracking_number="4912-0000-0000"))
    assert response.status_code == 422
    assert "not both" in json.dumps(response.json)


def test_deeply_nested_signed_body_is_400_naming_the_body(app, post_event) -> None:
    body = b'{"id": "evt_deep", "data": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    response = post_event(body)
    assert response.status_code == 400
    assert response.json["error"]["details"] == [
        {"loc": "body", "msg": "The body nests arrays/objects deeper than 32 levels."}
    ]
    assert rows(app, InboxEvent) == []


def test_nan_in_a_signed_body_is_400(post_event) -> None:
    envelope = json.dumps(example("order.created", attributes={"x": 777_001}))
    response = post_event(envelope.replace("777001", "NaN").encode())
    assert response.status_code == 400


def test_nul_character_in_a_string_is_400(post_event) -> None:
    response = post_event(example("order.created", channel="web\u0000"))
    assert response.status_code == 400
    assert response.json["error"]["details"][0]["loc"] == "body"


@pytest.mark.parametrize("amount", ["1e26", str(10**26), str(2**31)])
def test_an_amount_beyond_the_database_is_422_at_the_door(app, post_event, amount) -> None:
    envelope = json.dumps(example("order.created", total_amount=777_002))
    response = post_event(envelope.replace("777002", amount).encode())
    assert response.status_code == 422
    assert response.json["error"]["details"][0]["loc"] == "data.total_amount"
    assert rows(app, InboxEvent) == []


def test_order_line_image_that_is_not_https_is_refused_naming_the_field(app, post_event) -> None:
    envelope = example("order.created")
    envelope["data"]["lines"][0]["image_url"] = "http://shop.example/tea.jpg"
    response = post_event(envelope)
    assert response.status_code == 422
    assert "image_url" in json.dumps(response.json["error"])
    assert rows(app, InboxEvent) == []


def test_unknown_duties_terms_are_refused_naming_the_field(app, post_event) -> None:
    envelope = example("order.created")
    envelope["data"]["duties_terms"] = "cif"
    response = post_event(envelope)
    assert response.status_code == 422
    assert "duties_terms" in json.dumps(response.json["error"])
    assert rows(app, InboxEvent) == []
