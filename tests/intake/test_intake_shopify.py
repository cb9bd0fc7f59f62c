"""Shopify webhooks, with Shopify's documented sample bodies (conformance/commerce_webhooks)."""

from __future__ import annotations

import json

import pytest
from intake_helpers import CONFORMANCE, process, rows

from postpurchase.inbox.signing import shopify_hmac
from postpurchase.intake.shopify import exact_id, minor_units
from postpurchase.models import (
    Customer,
    InboxEvent,
    InboxState,
    Order,
    OrderLine,
    OrderStatus,
    RejectionReason,
    ReturnRequest,
    ReturnState,
    Shipment,
    WebhookRejection,
)

SECRET = "shpss_test_secret"  # the ``brand`` fixture's Shopify secret
ORDER_BODY = (CONFORMANCE / "commerce_webhooks/shopify_orders_create.json").read_bytes()
FULFILLMENT_BODY = (
    CONFORMANCE / "commerce_webhooks/shopify_fulfillments_create_update.json"
).read_bytes()
REFUND_BODY = (CONFORMANCE / "commerce_webhooks/shopify_refunds_create.json").read_bytes()
EVENT_BODY = (CONFORMANCE / "commerce_webhooks/shopify_fulfillment_events_create.json").read_bytes()
#: The fixtures' numeric ids were rounded by a JavaScript round-trip; real Shopify bodies carry the
#: exact digits that the GIDs keep. Replacing them makes a body as Shopify sends it.
LOSSY_ORDER_ID, EXACT_ORDER_ID = b"820982911946154500", b"820982911946154508"


@pytest.fixture
def shopify(client, brand):
    """Post ``body`` as Shopify would: ``shopify(body, topic, webhook_id=..., hmac=...)``."""

    def post(
        body: bytes,
        topic: str,
        *,
        webhook_id: str | None = None,
        hmac: str | None = None,
        slug: str = "acme",
    ):
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": hmac if hmac is not None else shopify_hmac(SECRET, body),
            "X-Shopify-Shop-Domain": "acme.myshopify.com",
            "X-Shopify-API-Version": "2024-10",
            "X-Shopify-Webhook-Id": webhook_id or f"wh-{topic}-{len(body)}",
        }
        return client.post(f"/webhooks/shopify/{slug}", data=body, headers=headers)

    return post


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("shopify_orders_create.json", "s8Sq+d2jtkTGhhO0sgDgqQsXjKzzZVs6/7OjTIgxTz8="),
        ("shopify_fulfillments_create_update.json", "Z9dWrHUsqsgZAvqjFsLPCEofKoNtEFF7Gt348NRM79A="),
    ],
)
def test_hmac_matches_the_conformance_known_answers(name, expected) -> None:
    body = (CONFORMANCE / f"commerce_webhooks/{name}").read_bytes()
    assert shopify_hmac("conformance-test-secret", body) == expected


def test_reserialised_body_fails_verification(shopify) -> None:
    reserialised = json.dumps(json.loads(ORDER_BODY), indent=1).encode()
    response = shopify(reserialised, "orders/create", hmac=shopify_hmac(SECRET, ORDER_BODY))
    assert response.status_code == 401


def test_fixture_ids_are_lossy_and_the_gid_keeps_the_exact_digits() -> None:
    order = json.loads(ORDER_BODY)
    assert str(order["id"]) == LOSSY_ORDER_ID.decode()
    assert exact_id(order) == EXACT_ORDER_ID.decode() != str(order["id"])


def test_valid_hmac_is_accepted_and_the_order_stored(app, shopify) -> None:
    response = shopify(ORDER_BODY, "orders/create")
    assert response.status_code == 202
    process(app)
    [order] = rows(app, Order)
    assert (order.external_id, order.number, order.currency) == (
        "820982911946154508",
        "#9999",
        "USD",
    )
    assert (order.total_amount, order.shipping_amount) == (38800, 1000)
    assert (order.shipping_postal_code, order.shipping_country) == ("40003", "US")
    assert order.status == OrderStatus.cancelled  # the sample carries cancelled_at
    assert [line.unit_price for line in rows(app, OrderLine)] == [19900, 19900]
    [customer] = rows(app, Customer)
    assert (customer.external_id, customer.email) == ("115310627314723954", "john@example.com")


def test_invalid_hmac_is_401_and_only_counted(app, shopify) -> None:
    response = shopify(ORDER_BODY, "orders/create", hmac=shopify_hmac("wrong", ORDER_BODY))
    assert response.status_code == 401
    assert rows(app, InboxEvent) == []
    [rejection] = rows(app, WebhookRejection)
    assert (rejection.source, rejection.reason, rejection.body_bytes) == (
        "shopify",
        RejectionReason.invalid_signature,
        len(ORDER_BODY),
    )


def test_non_ascii_hmac_header_is_401(shopify) -> None:
    response = shopify(ORDER_BODY, "orders/create", hmac="\u00e9t\u00e9".encode().decode("latin-1"))
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_hmac"


def test_deeply_nested_signed_body_is_400_and_not_stored(app, shopify) -> None:
    body = b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = shopify(body, "orders/create")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "too_deep"
    assert rows(app, InboxEvent) == []


def test_signed_order_with_an_amount_beyond_the_database_is_422(app, shopify) -> None:
    order = json.loads(ORDER_BODY)
    order["total_price"] = "1e26"
    order.pop("total_price_set", None)
    response = shopify(json.dumps(order).encode(), "orders/create")
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_resource"
    assert rows(app, InboxEvent) == []


def test_signed_order_without_an_id_is_422_naming_it(shopify) -> None:
    order = json.loads(ORDER_BODY)
    del order["id"], order["admin_graphql_api_id"]
    response = shopify(json.dumps(order).encode(), "orders/create")
    assert response.status_code == 422
    assert response.json["error"]["details"][0]["loc"] == "id"


def test_missing_hmac_is_401(shopify) -> None:
    assert shopify(ORDER_BODY, "orders/create", hmac="").status_code == 401


def test_unknown_shop_is_404(shopify) -> None:
    assert shopify(ORDER_BODY, "orders/create", slug="nobody").status_code == 404


def test_same_webhook_id_twice_applies_once(app, shopify) -> None:
    first = shopify(ORDER_BODY, "orders/create", webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
    again = shopify(ORDER_BODY, "orders/create", webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
    assert (first.status_code, again.status_code) == (202, 200)
    process(app)
    assert len(rows(app, Order)) == 1 and len(rows(app, InboxEvent)) == 1


def test_same_body_under_a_new_webhook_id_is_a_duplicate(shopify) -> None:
    shopify(ORDER_BODY, "orders/create", webhook_id="one")
    assert shopify(ORDER_BODY, "orders/updated", webhook_id="two").json["status"] == "duplicate"


def test_unknown_topic_is_stored_and_ignored(app, shopify) -> None:
    response = shopify(EVENT_BODY, "fulfillment_events/create")
    assert (response.status_code, response.json["status"]) == (200, "ignored")
    process(app)
    [stored] = rows(app, InboxEvent)
    assert (stored.state, stored.event_type) == (InboxState.ignored, "fulfillment_events/create")


def test_fulfillment_becomes_a_shipment_of_the_order(app, shopify) -> None:
    shopify(ORDER_BODY, "orders/create")
    shopify(FULFILLMENT_BODY.replace(LOSSY_ORDER_ID, EXACT_ORDER_ID), "fulfillments/create")
    process(app)
    [order] = rows(app, Order)
    [parcel] = rows(app, Shipment)
    assert (parcel.external_id, parcel.carrier_code, parcel.tracking_number) == (
        "shopify-123456",
        "ups",
        "1z827wk74630",
    )
    assert parcel.order_id == order.id
    assert [line["sku"] for line in parcel.lines] == ["IPOD2008PINK", "IPOD2008PINK"]


def test_fulfillment_with_the_fixtures_rounded_order_id_waits_for_that_order(app, shopify) -> None:
    shopify(ORDER_BODY, "orders/create")
    shopify(FULFILLMENT_BODY, "fulfillments/create")
    process(app)
    waiting = [e for e in rows(app, InboxEvent) if e.state == InboxState.deferred]
    assert [e.waiting_for for e in waiting] == [f"order:{LOSSY_ORDER_ID.decode()}"]


def test_fulfillment_update_changes_the_same_shipment(app, shopify) -> None:
    shopify(ORDER_BODY, "orders/create")
    body = FULFILLMENT_BODY.replace(LOSSY_ORDER_ID, EXACT_ORDER_ID)
    shopify(body, "fulfillments/create")
    updated = body.replace(b'"1z827wk74630"', b'"1Z827WK74630"')
    shopify(updated, "fulfillments/update", webhook_id="update-1")
    process(app)
    [parcel] = rows(app, Shipment)
    assert parcel.tracking_number == "1Z827WK74630"


def test_refund_records_a_refunded_return(app, shopify) -> None:
    shopify(ORDER_BODY, "orders/create")
    shopify(REFUND_BODY.replace(LOSSY_ORDER_ID, EXACT_ORDER_ID), "refunds/create")
    process(app)
    [rma] = rows(app, ReturnRequest)
    assert (rma.rma_number, rma.state, rma.refund_amount, rma.currency) == (
        "shopify-refund-890088186047892319",
        ReturnState.refunded,
        39800,
        "USD",
    )


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("398.00", "USD", 39800),
        ("1980", "JPY", 1980),
        ("1980.00", "JPY", 1980),
        ("0.5", "EUR", 50),
    ],
)
def test_money_strings_become_minor_units(amount, currency, expected) -> None:
    assert minor_units(amount, currency) == expected
