"""The WMS feed: every RMA state change goes to the brand's WMS as a signed outbox webhook."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest
from sqlmodel import select

from postpurchase.intake.openapi import openapi_document
from postpurchase.intake.operations import record_return
from postpurchase.intake.schemas import ReturnReceivedData
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.channels.webhook import signature
from postpurchase.messaging.outbox import send_due
from postpurchase.models import (
    Brand,
    Channel,
    Order,
    OutboxMessage,
    OutboxState,
    ReturnResolution,
    ReturnState,
)
from postpurchase.returns.operations import WantedLine, request_return, transition
from postpurchase.returns.wms import WmsReturnWebhook
from tests.conftest import PINNED_NOW
from tests.returns.conftest import later
from tests.returns.test_returns_merchant import signed_in  # noqa: F401  (fixture)

SECRET = "whsec_wms_test"
#: 23:00 in Tokyo on the pinned day: inside the customers' quiet hours, after the test returns were made.
NIGHT_IN_TOKYO = PINNED_NOW.replace(hour=14)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "WEBHOOK_SECRET": SECRET}


def _set_wms_url(session, brand_id: int, url: str | None) -> None:
    brand = session.get(Brand, brand_id)
    brand.settings = {**(brand.settings or {}), "returns": {"wms_webhook_url": url} if url else {}}
    session.add(brand)
    session.flush()


def _exchange(session, shop, now_days: float = 1):
    return request_return(
        session=session,
        brand=session.get(Brand, shop.brand_id),
        order=session.get(Order, shop.order_id),
        lines=[
            WantedLine(
                order_line_id=shop.tee,
                quantity=1,
                reason_code="size_too_small",
                exchange_sku="TEE-L",
            )
        ],
        resolution=ReturnResolution.exchange,
        now=later(now_days),
    )


def _wms_rows(session) -> list[OutboxMessage]:
    """The RMA state documents (not the exchange's outbound order, see test_returns_exchange)."""
    rows = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.trigger == Trigger.wms_return)
        .order_by(OutboxMessage.id)
    ).all()
    return [row for row in rows if row.payload["document"]["type"] != "exchange.outbound"]


def test_each_state_change_queues_one_signed_webhook_with_the_documented_body(
    session, shop
) -> None:
    _set_wms_url(session, shop.brand_id, "https://wms.example/returns")
    rma = _exchange(session, shop)
    transition(
        session=session, brand_id=shop.brand_id, return_id=rma.id, action="receive", now=later(4)
    )
    rows = _wms_rows(session)
    assert [(r.channel, r.recipient, r.state) for r in rows] == [
        (Channel.webhook, "https://wms.example/returns", OutboxState.pending)
    ] * 3
    bodies = [WmsReturnWebhook.model_validate(r.payload["document"]) for r in rows]
    assert [(b.type, b.data.state, b.data.previous_state) for b in bodies] == [
        ("return.expected", ReturnState.approved, None),
        ("return.expected", ReturnState.label_issued, ReturnState.approved),
        ("return.updated", ReturnState.received, ReturnState.label_issued),
    ]
    assert [b.id for b in bodies] == [r.idempotency_key for r in rows]
    data = bodies[-1].data
    assert (data.rma_number, data.order_id, data.order_number, data.resolution) == (
        rma.rma_number,
        "o-1001",
        "#1001",
        ReturnResolution.exchange,
    )
    assert (data.refund_amount, data.credit_amount, data.currency, data.received_at) == (
        0,
        0,
        "JPY",
        later(4),
    )
    assert [(x.sku, x.variant, x.quantity, x.reason_code, x.exchange_sku) for x in data.lines] == [
        ("TEE-M", "M", 1, "size_too_small", "TEE-L")
    ]


def test_the_same_state_is_sent_once_however_often_the_change_is_reported(session, shop) -> None:
    _set_wms_url(session, shop.brand_id, "https://wms.example/returns")
    rma = _exchange(session, shop)
    data = ReturnReceivedData(
        rma_number=rma.rma_number,
        order_id="o-1001",
        carrier="yamato",
        tracking_number="4912-0000-1111",
    )
    record_return(
        session=session, brand_id=shop.brand_id, occurred_at=later(5), now=later(5), data=data
    )
    record_return(
        session=session, brand_id=shop.brand_id, occurred_at=later(5), now=later(6), data=data
    )
    states = [r.payload["document"]["data"]["state"] for r in _wms_rows(session)]
    assert states == ["approved", "label_issued", "received"]
    received = _wms_rows(session)[-1].payload["document"]["data"]
    assert (received["carrier"], received["tracking_number"]) == ("yamato", "4912-0000-1111")


def test_a_brand_without_a_wms_webhook_url_gets_nothing(session, shop) -> None:
    _set_wms_url(session, shop.brand_id, None)
    _exchange(session, shop)
    assert _wms_rows(session) == []


class _Wms(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def wms_server() -> Iterator[str]:
    _Wms.received = []
    server = HTTPServer(("127.0.0.1", 0), _Wms)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/returns"
    server.shutdown()
    server.server_close()


def test_the_sender_posts_the_document_signed_with_the_brands_webhook_secret(
    app, write, shop, wms_server
) -> None:
    write(lambda s: _set_wms_url(s, shop.brand_id, wms_server))
    write(lambda s: _exchange(s, shop))
    report = send_due(app, now=NIGHT_IN_TOKYO)  # a warehouse system has no quiet hours
    assert report.sent >= 2 and report.failed == 0
    assert len(_Wms.received) == 2
    for headers, body in _Wms.received:
        timestamp = int(headers["X-Postpurchase-Signature"].split(",")[0][2:])
        assert headers["X-Postpurchase-Signature"] == signature(SECRET, body, timestamp)
        document = json.loads(body)
        assert headers["Idempotency-Key"] == document["id"]
        WmsReturnWebhook.model_validate(document)
    # Sent in parallel, so in any order: the states (which only move forward) tell the WMS which is newer.
    assert sorted(json.loads(body)["data"]["state"] for _, body in _Wms.received) == [
        "approved",
        "label_issued",
    ]
    states = write(lambda s: [r.state for r in _wms_rows(s)])
    assert states == [OutboxState.sent, OutboxState.sent]
    assert send_due(app, now=NIGHT_IN_TOKYO).sent == 0 and len(_Wms.received) == 2


def test_the_openapi_document_describes_the_outgoing_webhooks(app) -> None:
    webhooks = openapi_document(app)["webhooks"]
    assert {"return.expected", "return.updated"} <= set(webhooks)
    schema = webhooks["return.expected"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert schema == {"$ref": "#/components/schemas/WmsReturnWebhook"}
    assert "WmsReturnData" in openapi_document(app)["components"]["schemas"]


def test_the_merchants_message_log_lists_the_wms_webhooks(signed_in, write, shop) -> None:  # noqa: F811
    write(lambda s: _set_wms_url(s, shop.brand_id, "https://wms.example/returns"))
    write(lambda s: _exchange(s, shop))
    page = signed_in.get("/merchant/messages/").get_data(as_text=True)
    assert page.count("https://wms.example/returns") == 2
