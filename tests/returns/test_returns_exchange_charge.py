"""What an exchange costs more, for a Shopify order: a draft order for the difference whose invoice
Shopify emails to the customer, against a local fake that checks the request shape and answers with
recorded Shopify bodies; one draft and one invoice whatever the job repeats."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from sqlmodel import select

from postpurchase.inbox.signing import shopify_hmac
from postpurchase.models import (
    Brand,
    ExecutionKind,
    ExecutionState,
    Order,
    OutboxMessage,
    ResolutionExecution,
    ReturnRequest,
)
from postpurchase.models.enums import ReturnState
from postpurchase.returns.exchange import record_charge_paid
from postpurchase.returns.execution import RETRY_AFTER, STALE_AFTER, execute_due
from postpurchase.returns.operations import record_external
from postpurchase.returns.shopify_admin import ShopifyAdmin
from tests.intake.intake_helpers import CONFORMANCE, process
from tests.returns.conftest import later
from tests.returns.test_returns_exchange import (  # noqa: F401 (the fixture)
    _hoodie,
    _with_wms,
    catalogue,
)
from tests.returns.test_returns_execution import FIXTURES, SHOP, TOKEN

DRAFT = "517119332"
ORDER_BODY = (CONFORMANCE / "commerce_webhooks/shopify_orders_create.json").read_bytes()
SHOPIFY_SECRET = "shpss_test_secret"  # the ``brand`` fixture's Shopify webhook secret
DRAFTS = f"{SHOP}/draft_orders"


def recorded(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def admin(_brand: Brand) -> ShopifyAdmin:
    return ShopifyAdmin(shop="acme.myshopify.com", token=TOKEN, http=requests.Session())


def _received(catalogue, write) -> int:  # noqa: F811
    """An exchange of the ¥3,980 tee for the ¥4,500 hoodie on a Shopify order, received: ¥520 due."""

    def build(s) -> int:
        order = s.get(Order, catalogue.order_id)
        order.attributes = {"source": "shopify", "shopify_id": "450789469"}
        s.add(order)
        rma = _hoodie(s, catalogue)
        record_external(session=s, rma=rma, state=ReturnState.received, at=later(3), now=later(3))
        return rma.id

    return write(build)


@pytest.fixture
def charged(catalogue, set_policy, write):  # noqa: F811
    _with_wms(set_policy, catalogue)
    return _received(catalogue, write)


@pytest.fixture
def held(catalogue, set_policy, write):  # noqa: F811
    """Like ``charged``, for a brand whose exchanges ship only once the difference is paid."""
    _with_wms(set_policy, catalogue, ship_after_payment=True)
    return _received(catalogue, write)


@pytest.fixture
def shopify_webhook(client, brand):
    """``shopify_webhook(body, topic)``: post ``body`` signed as Shopify would."""

    def post(body: bytes, topic: str):
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": shopify_hmac(SHOPIFY_SECRET, body),
            "X-Shopify-Shop-Domain": "acme.myshopify.com",
            "X-Shopify-Webhook-Id": f"wh-{topic}-{len(body)}",
        }
        return client.post("/webhooks/shopify/acme", data=body, headers=headers)

    return post


def _row(write, return_id: int) -> ResolutionExecution:
    return write(
        lambda s: s.exec(
            select(ResolutionExecution).where(ResolutionExecution.return_id == return_id)
        ).one()
    )


class FakeDrafts:
    """Shopify's draft order endpoints: what was created and which invoices went out."""

    def __init__(self, rsps: responses.RequestsMock, *, invoice_status: int = 200) -> None:
        self.created: list[dict] = []
        self.invoices = 0
        self.invoice_status = invoice_status
        self.invoice_sent_at: str | None = None
        rsps.add_callback(responses.POST, f"{DRAFTS}.json", callback=self.create)
        rsps.add_callback(responses.GET, f"{DRAFTS}/{DRAFT}.json", callback=self.show)
        rsps.add_callback(
            responses.POST, f"{DRAFTS}/{DRAFT}/send_invoice.json", callback=self.send_invoice
        )

    def create(self, request):
        assert request.headers["X-Shopify-Access-Token"] == TOKEN
        body = json.loads(request.body)
        assert set(body) == {"draft_order"}
        self.created.append(body["draft_order"])
        return 201, {}, json.dumps(recorded("draft_order.json"))

    def show(self, request):
        assert request.headers["X-Shopify-Access-Token"] == TOKEN
        draft = recorded("draft_order.json")
        draft["draft_order"]["invoice_sent_at"] = self.invoice_sent_at
        return 200, {}, json.dumps(draft)

    def send_invoice(self, request):
        assert request.headers["X-Shopify-Access-Token"] == TOKEN
        assert json.loads(request.body) == {"draft_order_invoice": {}}
        if self.invoice_status != 200:
            return self.invoice_status, {}, '{"errors":"busy"}'
        self.invoices += 1
        self.invoice_sent_at = "2026-11-20T10:00:00+09:00"
        return 200, {}, json.dumps(recorded("draft_order_invoice.json"))


def test_a_shopify_exchange_charge_is_a_draft_order_for_the_difference_with_its_invoice_sent(
    app, charged, write
) -> None:
    with responses.RequestsMock() as rsps:
        fake = FakeDrafts(rsps)
        execute_due(app, shopify=admin, now=later(3))
    (draft,) = fake.created
    assert draft["line_items"] == [
        {
            "title": draft["line_items"][0]["title"],
            "price": "520",
            "quantity": 1,
            "requires_shipping": False,
            "taxable": False,
        }
    ]
    assert draft["email"] == "hanako@example.jp"
    row = _row(write, charged)
    assert draft["note"].endswith(f"[{row.idempotency_key}]")
    assert draft["note_attributes"] == [
        {"name": "postpurchase_charge", "value": row.idempotency_key}
    ]
    assert fake.invoices == 1
    assert (row.kind, row.state, row.via, row.external_id) == (
        ExecutionKind.charge,
        ExecutionState.done,
        "shopify",
        DRAFT,
    )


def test_a_retried_job_creates_one_draft_and_sends_one_invoice(app, charged, write) -> None:
    with responses.RequestsMock() as rsps:
        fake = FakeDrafts(rsps, invoice_status=503)
        execute_due(app, shopify=admin, now=later(3))
        row = _row(write, charged)
        assert (row.state, row.external_id) == (ExecutionState.pending, DRAFT)
        fake.invoice_status = 200
        execute_due(app, shopify=admin, now=later(3) + RETRY_AFTER)
        execute_due(app, shopify=admin, now=later(3) + RETRY_AFTER * 2)
    assert (len(fake.created), fake.invoices) == (1, 1)
    assert _row(write, charged).state == ExecutionState.done


def test_an_invoice_whose_answer_was_lost_is_not_sent_again(app, charged, write) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeDrafts(rsps)
        execute_due(app, shopify=admin, now=later(3))

        def forget(s) -> None:  # the process died before recording the invoice
            row = s.exec(select(ResolutionExecution)).one()
            row.state = ExecutionState.sending
            s.add(row)

        write(forget)
        execute_due(app, shopify=admin, now=later(3) + STALE_AFTER)
    assert (len(fake.created), fake.invoices) == (1, 1)
    assert _row(write, charged).state == ExecutionState.done


def _outbound(write) -> list[str]:
    return write(
        lambda s: [
            m.idempotency_key
            for m in s.exec(select(OutboxMessage)).all()
            if m.idempotency_key.endswith(".outbound:webhook")
        ]
    )


def test_without_the_rule_the_outbound_order_goes_on_receipt_unpaid(charged, write) -> None:
    assert len(_outbound(write)) == 1


def test_the_outbound_order_waits_for_the_difference_when_the_brand_says_so(held, write) -> None:
    assert _outbound(write) == []

    def paid(s) -> None:
        rma = s.get(ReturnRequest, held)
        brand = s.get(Brand, rma.brand_id)
        record_charge_paid(session=s, brand=brand, rma=rma, actor="test", now=later(4))
        record_charge_paid(session=s, brand=brand, rma=rma, actor="test", now=later(5))

    write(paid)
    assert len(_outbound(write)) == 1


def test_shopify_orders_paid_for_the_charges_invoice_sends_the_held_outbound_order(
    app, held, write, shopify_webhook
) -> None:
    with responses.RequestsMock() as rsps:
        FakeDrafts(rsps)
        execute_due(app, shopify=admin, now=later(3))
    key = _row(write, held).idempotency_key
    orders_before = len(write(lambda s: s.exec(select(Order)).all()))
    body = json.loads(ORDER_BODY)
    body["note_attributes"] = [{"name": "postpurchase_charge", "value": key}]
    response = shopify_webhook(json.dumps(body).encode(), "orders/paid")
    assert response.status_code == 202
    process(app)
    assert len(_outbound(write)) == 1
    assert len(write(lambda s: s.exec(select(Order)).all())) == orders_before


def test_shopify_orders_paid_for_any_other_order_updates_it(app, shopify_webhook, write) -> None:
    assert shopify_webhook(ORDER_BODY, "orders/paid").status_code == 202
    process(app)
    (order,) = write(lambda s: s.exec(select(Order)).all())
    assert order.number == "#9999"
