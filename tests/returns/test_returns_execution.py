"""Paying out received returns: Shopify refunds and gift cards against a local fake answering with
recorded Shopify bodies, the ``return.resolution`` webhook for other OMSs, and never paying twice."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import responses
from sqlmodel import select

from postpurchase.models import (
    Brand,
    ExecutionKind,
    ExecutionState,
    Order,
    OrderLine,
    OutboxMessage,
    ResolutionExecution,
    ReturnRequest,
    ReturnResolution,
    ReturnState,
)
from postpurchase.returns.execution import STALE_AFTER, claim_due, execute_due
from postpurchase.returns.operations import WantedLine, record_external, request_return
from postpurchase.returns.shopify_admin import ShopifyAdmin, gift_card_code
from tests.conftest import PINNED_NOW
from tests.returns.conftest import later

FIXTURES = Path(__file__).parent / "fixtures" / "shopify"
SHOP = "https://acme.myshopify.com/admin/api/2024-07"
TOKEN = "shpat_test_token"
SHOPIFY_ORDER = "450789469"
#: The recorded calculate answer can refund at most 41.94 USD: the tee costs that here.
PRICE = 4194


def recorded(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def admin(_brand: Brand) -> ShopifyAdmin:
    return ShopifyAdmin(shop="acme.myshopify.com", token=TOKEN, http=requests.Session())


@pytest.fixture
def received(shop, write):
    """``received(resolution, shopify=True)``: an RMA of one tee, reported received by the WMS."""

    def make(resolution=ReturnResolution.refund, *, shopify: bool = True) -> int:
        def build(s) -> int:
            order = s.get(Order, shop.order_id)
            order.currency = "USD"
            if shopify:
                order.attributes = {"source": "shopify", "shopify_id": SHOPIFY_ORDER}
            line = s.get(OrderLine, shop.tee)
            line.unit_price = PRICE
            line.line_key = "703073504"
            s.add_all([order, line])
            s.flush()
            rma = request_return(
                session=s,
                brand=s.get(Brand, shop.brand_id),
                order=order,
                lines=[WantedLine(order_line_id=shop.tee, quantity=1, reason_code="damaged")],
                resolution=resolution,
                now=later(1),
            )
            record_external(
                session=s, rma=rma, state=ReturnState.received, at=later(2), now=later(2)
            )
            return rma.id

        return write(build)

    return make


def _executions(write, return_id: int) -> list[ResolutionExecution]:
    return write(
        lambda s: s.exec(
            select(ResolutionExecution).where(ResolutionExecution.return_id == return_id)
        ).all()
    )


def _rma(write, return_id: int) -> ReturnRequest:
    return write(lambda s: s.get(ReturnRequest, return_id))


def _checked(check):
    """A ``responses`` callback: ``check(request)`` asserts the request's shape, then the answer."""

    def callback(request):
        assert request.headers["X-Shopify-Access-Token"] == TOKEN
        return check(request)

    return callback


def _fake_refund(rsps, key: str, *, existing: list | None = None) -> list[dict]:
    """The Admin API's refund endpoints; returns the bodies posted to them."""
    posted: list[dict] = []

    def calculate(request):
        body = json.loads(request.body)["refund"]
        assert body == {
            "currency": "USD",
            "refund_line_items": [
                {"line_item_id": 703073504, "quantity": 1, "restock_type": "return"}
            ],
        }
        return 200, {}, json.dumps(recorded("refund_calculate.json"))

    def create(request):
        body = json.loads(request.body)["refund"]
        posted.append(body)
        return 201, {}, json.dumps(recorded("refund.json"))

    url = f"{SHOP}/orders/{SHOPIFY_ORDER}/refunds"
    rsps.add(responses.GET, f"{url}.json", json={"refunds": existing or []})
    rsps.add_callback(responses.POST, f"{url}/calculate.json", callback=_checked(calculate))
    rsps.add_callback(responses.POST, f"{url}.json", callback=_checked(create))
    return posted


def test_receipt_schedules_one_payout_per_kind_owed(received, write) -> None:
    return_id = received(ReturnResolution.refund)
    (row,) = _executions(write, return_id)
    assert (row.kind, row.state, row.amount, row.currency) == (
        ExecutionKind.refund,
        ExecutionState.pending,
        PRICE,
        "USD",
    )


def test_nothing_is_paid_before_the_goods_are_received(shop, write) -> None:
    def build(s) -> int:
        return request_return(
            session=s,
            brand=s.get(Brand, shop.brand_id),
            order=s.get(Order, shop.order_id),
            lines=[WantedLine(order_line_id=shop.tee, quantity=1, reason_code="damaged")],
            resolution=ReturnResolution.refund,
            now=later(1),
        ).id

    assert _executions(write, write(build)) == []


def test_shopify_refund_posts_the_recorded_shape_and_settles_the_rma(app, received, write) -> None:
    return_id = received(ReturnResolution.refund)
    key = _executions(write, return_id)[0].idempotency_key
    with responses.RequestsMock() as rsps:
        posted = _fake_refund(rsps, key)
        assert execute_due(app, shopify=admin, now=later(2)) == 1
    (body,) = posted
    assert body["transactions"] == [
        {"parent_id": 801038806, "amount": "41.94", "kind": "refund", "gateway": "bogus"}
    ]
    assert body["currency"] == "USD" and body["notify"] is True
    assert body["note"].endswith(f"[{key}]")
    (row,) = _executions(write, return_id)
    assert (row.state, row.via, row.external_id, row.attempts) == (
        ExecutionState.done,
        "shopify",
        "509562969",
        1,
    )
    assert _rma(write, return_id).state == ReturnState.refunded


def test_running_the_job_again_refunds_nothing_more(app, received, write) -> None:
    return_id = received(ReturnResolution.refund)
    key = _executions(write, return_id)[0].idempotency_key
    with responses.RequestsMock() as rsps:
        _fake_refund(rsps, key)
        execute_due(app, shopify=admin, now=later(2))
    # Any call now would fail: the mock has nothing registered.
    with responses.RequestsMock() as rsps:
        assert execute_due(app, shopify=admin, now=later(3)) == 0
        assert len(rsps.calls) == 0


def test_a_refund_whose_answer_was_lost_is_found_on_retry_not_made_again(
    app, received, write
) -> None:
    return_id = received(ReturnResolution.refund)
    key = _executions(write, return_id)[0].idempotency_key
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _fake_refund(rsps, key)
        rsps.replace(
            responses.POST,
            f"{SHOP}/orders/{SHOPIFY_ORDER}/refunds.json",
            body=requests.ConnectionError("connection reset"),
        )
        execute_due(app, shopify=admin, now=later(2))
    (row,) = _executions(write, return_id)
    assert (row.state, row.attempts) == (ExecutionState.pending, 1)
    # Shopify did make that refund: it now lists it, with our key in the note.
    made = {**recorded("refund.json")["refund"], "note": f"Return [{key}]"}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        posted = _fake_refund(rsps, key, existing=[made])
        execute_due(app, shopify=admin, now=later(3))
    assert posted == []
    (row,) = _executions(write, return_id)
    assert (row.state, row.external_id, row.attempts) == (ExecutionState.done, "509562969", 2)


def test_a_claim_left_sending_is_taken_again_only_once_stale(app, received, write) -> None:
    return_id = received(ReturnResolution.refund)
    with app.app_context():
        from postpurchase.db import claim_scope

        with claim_scope(app) as s:
            assert claim_due(session=s, now=PINNED_NOW) != []
        with claim_scope(app) as s:
            assert claim_due(session=s, now=PINNED_NOW + STALE_AFTER - timedelta(seconds=1)) == []
        with claim_scope(app) as s:
            assert claim_due(session=s, now=PINNED_NOW + STALE_AFTER) != []
    assert _executions(write, return_id)[0].attempts == 2


def test_refusal_by_shopify_fails_the_payout_and_leaves_the_rma_received(
    app, received, write
) -> None:
    return_id = received(ReturnResolution.refund)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.GET, f"{SHOP}/orders/{SHOPIFY_ORDER}/refunds.json", json={"refunds": []})
        rsps.add(
            responses.POST,
            f"{SHOP}/orders/{SHOPIFY_ORDER}/refunds/calculate.json",
            status=422,
            json={"errors": {"refund_line_items": ["is invalid"]}},
        )
        execute_due(app, shopify=admin, now=later(2))
    (row,) = _executions(write, return_id)
    assert row.state == ExecutionState.failed and "HTTP 422" in row.last_error
    assert _rma(write, return_id).state == ReturnState.received


def test_store_credit_is_a_gift_card_with_a_code_from_the_key(app, received, write) -> None:
    return_id = received(ReturnResolution.store_credit)
    key = _executions(write, return_id)[0].idempotency_key

    def create(request):
        card = json.loads(request.body)["gift_card"]
        assert card == {
            "initial_value": "41.94",
            "currency": "USD",
            "code": gift_card_code(key),
            "note": f"Return {_rma(write, return_id).rma_number} [{key}]",
        }
        return 201, {}, json.dumps(recorded("gift_card.json"))

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.POST, f"{SHOP}/gift_cards.json", callback=_checked(create))
        execute_due(app, shopify=admin, now=later(2))
    (row,) = _executions(write, return_id)
    assert (row.kind, row.state, row.external_id) == (
        ExecutionKind.store_credit,
        ExecutionState.done,
        "4208208",
    )
    assert _rma(write, return_id).state == ReturnState.credited


def test_a_gift_card_issued_before_is_found_instead_of_a_second(app, received, write) -> None:
    return_id = received(ReturnResolution.store_credit)
    key = _executions(write, return_id)[0].idempotency_key
    first = {**recorded("gift_card.json")["gift_card"], "note": f"Return [{key}]"}
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST,
            f"{SHOP}/gift_cards.json",
            status=422,
            json={"errors": {"code": ["has already been taken"]}},
        )
        rsps.add(
            responses.GET,
            f"{SHOP}/gift_cards/search.json?query=last_characters:{gift_card_code(key)[-4:].lower()}",
            json={"gift_cards": [first]},
        )
        execute_due(app, shopify=admin, now=later(2))
    (row,) = _executions(write, return_id)
    assert (row.state, row.external_id) == (ExecutionState.done, "4208208")


def test_other_oms_gets_a_signed_resolution_webhook(app, received, write, set_policy, shop) -> None:
    set_policy(shop.brand_id, wms_webhook_url="https://oms.example.com/hooks")
    return_id = received(ReturnResolution.refund, shopify=False)
    with responses.RequestsMock() as rsps:
        execute_due(app, shopify=admin, now=later(2))
        assert len(rsps.calls) == 0
    (row,) = _executions(write, return_id)
    assert (row.state, row.via) == (ExecutionState.done, "webhook")
    documents = [
        message.payload["document"]
        for message in write(lambda s: s.exec(select(OutboxMessage)).all())
        if message.payload.get("document", {}).get("type") == "return.resolution"
    ]
    assert [(d["id"], d["data"]["kind"], d["data"]["amount"]) for d in documents] == [
        (row.idempotency_key, "refund", PRICE)
    ]
    assert _rma(write, return_id).state == ReturnState.refunded


def test_without_any_platform_the_payout_fails_saying_why(app, received, write) -> None:
    return_id = received(ReturnResolution.refund, shopify=False)
    execute_due(app, shopify=admin, now=later(2))
    (row,) = _executions(write, return_id)
    assert row.state == ExecutionState.failed and "no platform" in row.last_error
