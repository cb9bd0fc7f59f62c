"""Every webhook route stores through the one inbox writer, with the same deduplication.

The routes come from the app's URL map: a new route under ``/webhooks/`` (or a new events
endpoint) fails here until it has a valid request below, and then fails unless what it stores goes
through :func:`postpurchase.inbox.accept` (which stores with :func:`postpurchase.inbox.receive`, in
the spool or the inbox).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from carriers.aftership import signature as aftership_signature
from postpurchase import inbox
from postpurchase.brands import NewBrand
from postpurchase.db import get_db
from postpurchase.inbox.signing import shopify_hmac
from postpurchase.intake.examples import EXAMPLES
from postpurchase.intake.schemas import EventType
from postpurchase.models import InboxEvent
from tests.conftest import CONFORMANCE

AFTERSHIP_SECRET = "aftership-webhook-secret"
SHOPIFY_SECRET = "shpss_test_secret"  # the ``brand`` fixture's Shopify secret
AFTERSHIP_BODY = (
    CONFORMANCE / "aggregator_webhooks/aftership_tracking_fedex_cn_to_jp_delivered.json"
).read_bytes()
SHOPIFY_ORDER_BODY = (CONFORMANCE / "commerce_webhooks/shopify_orders_create.json").read_bytes()

Post = Callable[[FlaskClient, NewBrand], Any]


def _generic_event(path: str) -> Post:
    def post(client: FlaskClient, brand: NewBrand) -> Any:
        from tests.conftest import sign

        body = json.dumps(EXAMPLES[EventType("order.created")]).encode()
        return client.post(
            path,
            data=body,
            headers={
                "Authorization": f"Bearer {brand.api_key}",
                "Content-Type": "application/json",
                "X-Postpurchase-Signature": sign(brand.signing_secret, body),
            },
        )

    return post


def _shopify_order(client: FlaskClient, brand: NewBrand) -> Any:
    return client.post(
        f"/webhooks/shopify/{brand.slug}",
        data=SHOPIFY_ORDER_BODY,
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": shopify_hmac(SHOPIFY_SECRET, SHOPIFY_ORDER_BODY),
            "X-Shopify-Shop-Domain": "acme.myshopify.com",
            "X-Shopify-API-Version": "2024-10",
            "X-Shopify-Webhook-Id": "wh-orders-create-1",
        },
    )


def _aftership_push(with_brand: bool) -> Post:
    def post(client: FlaskClient, brand: NewBrand) -> Any:
        path = "/webhooks/carrier/aftership" + (f"/{brand.slug}" if with_brand else "")
        return client.post(
            path,
            data=AFTERSHIP_BODY,
            headers={
                "Content-Type": "application/json",
                "aftership-hmac-sha256": aftership_signature(AFTERSHIP_BODY, AFTERSHIP_SECRET),
            },
        )

    return post


LINE_SECRET = "line-channel-secret"
LINE_BODY = b'{"destination":"U0","events":[{"type":"unfollow","mode":"active","timestamp":1,"source":{"type":"user","userId":"U1"}}]}'


def _line_event(client: FlaskClient, brand: NewBrand) -> Any:
    return client.post(
        f"/webhooks/line/{brand.slug}",
        data=LINE_BODY,
        headers={
            "Content-Type": "application/json",
            "X-Line-Signature": shopify_hmac(LINE_SECRET, LINE_BODY),  # the same HMAC scheme
        },
    )


#: A valid request for each webhook route (by rule), as its sender would make it.
VALID_REQUESTS: dict[str, Post] = {
    "/webhooks/wms": _generic_event("/webhooks/wms"),
    "/api/v1/events": _generic_event("/api/v1/events"),
    "/webhooks/shopify/<slug>": _shopify_order,
    "/webhooks/carrier/<code>": _aftership_push(with_brand=False),
    "/webhooks/carrier/<code>/<brand_slug>": _aftership_push(with_brand=True),
    "/webhooks/line/<brand_slug>": _line_event,
}


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **app_config,
        "CARRIER_AFTERSHIP_WEBHOOK_SECRET": AFTERSHIP_SECRET,
        "LINE_CHANNEL_SECRET": LINE_SECRET,
    }


@pytest.fixture
def accept_calls(monkeypatch: pytest.MonkeyPatch) -> list[inbox.Received]:
    """What :func:`inbox.accept` returned, wherever it is called from (spied in every module)."""
    calls: list[inbox.Received] = []
    original = inbox.accept

    def spy(app: Flask, **kwargs: Any) -> inbox.Received:
        received = original(app, **kwargs)
        calls.append(received)
        return received

    for module in list(sys.modules.values()):
        if (
            getattr(module, "__name__", "").startswith("postpurchase")
            and getattr(module, "accept", None) is original
        ):
            monkeypatch.setattr(module, "accept", spy)
    return calls


def _stored_ids(app: Flask) -> set[int]:
    """The inbox's ids, after moving what the spool holds (on SQLite, webhooks are spooled)."""
    inbox.move_spooled(app)
    with get_db(app).session() as session:
        return set(session.exec(select(InboxEvent.id)))  # type: ignore[arg-type]


def test_every_webhook_route_has_a_valid_request_here(app: Flask) -> None:
    routes = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or ())
        and (rule.rule.startswith("/webhooks/") or rule.rule == "/api/v1/events")
    }
    assert routes == set(VALID_REQUESTS)


@pytest.mark.parametrize("route", sorted(VALID_REQUESTS))
def test_a_webhook_route_stores_only_through_inbox_accept(
    app: Flask,
    client: FlaskClient,
    brand: NewBrand,
    accept_calls: list[inbox.Received],
    route: str,
) -> None:
    before = _stored_ids(app)
    response = VALID_REQUESTS[route](client, brand)
    assert response.status_code in (200, 202), response.json
    [received] = accept_calls
    assert not received.duplicate
    assert _stored_ids(app) - before == {received.id}


@pytest.mark.parametrize("route", sorted(VALID_REQUESTS))
def test_a_repeated_webhook_is_a_duplicate_of_the_first(
    app: Flask,
    client: FlaskClient,
    brand: NewBrand,
    accept_calls: list[inbox.Received],
    route: str,
) -> None:
    VALID_REQUESTS[route](client, brand)
    stored = _stored_ids(app)
    response = VALID_REQUESTS[route](client, brand)
    assert response.status_code == 200
    first, again = accept_calls
    assert again == inbox.Received(first.id, duplicate=True)
    assert _stored_ids(app) == stored
