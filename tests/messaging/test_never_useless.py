"""Never useless: no review request after a complaint or during an open return, no replenishment
reminder for an item the customer sent back; each suppression keeps its reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from carriers.status import Status
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.timers import run_timers
from postpurchase.models import (
    Feedback,
    OutboxState,
    ReturnLine,
    ReturnRequest,
    ReturnState,
)
from tests.messaging.conftest import NOW
from tests.messaging.helpers import only

CONSENT = {"email": {"transactional": True, "marketing": True}}


def _delivered(shop, session, at: datetime) -> None:
    shop.shipment.status, shop.shipment.delivered_at = Status.delivered, at
    session.add(shop.shipment)
    session.flush()


def _returned(session, shop, sku: str, state: ReturnState) -> None:
    rma = ReturnRequest(
        brand_id=shop.brand.id, order_id=shop.order.id, rma_number=f"R-{sku}", state=state
    )
    session.add(rma)
    session.flush()
    session.add(ReturnLine(brand_id=shop.brand.id, return_id=rma.id, sku=sku))
    session.flush()


def test_no_review_request_after_the_customer_complained(make_shop, session, messaging) -> None:
    earlier = make_shop(consent=CONSENT)
    session.add(Feedback(brand_id=earlier.brand.id, order_id=earlier.order.id, nps_score=2))
    shop = make_shop(customer=earlier.customer)
    session.delete(earlier.shipment)
    _delivered(shop, session, NOW - timedelta(days=7, hours=1))
    run_timers(session=session, messaging=messaging, now=NOW)
    message = only(session, Trigger.review_request)
    assert message.state == OutboxState.suppressed
    assert message.reason == {"why": "complained", "args": {"score": "2"}}


def test_no_review_request_while_a_return_of_the_customer_is_open(
    make_shop, session, messaging
) -> None:
    earlier = make_shop(consent=CONSENT)
    session.delete(earlier.shipment)
    _returned(session, earlier, "KETTLE-1", ReturnState.label_issued)
    shop = make_shop(customer=earlier.customer)
    _delivered(shop, session, NOW - timedelta(days=7, hours=1))
    run_timers(session=session, messaging=messaging, now=NOW)
    message = only(session, Trigger.review_request)
    assert message.reason == {"why": "open_return", "args": {"rma": "R-KETTLE-1"}}


def test_a_settled_return_does_not_hold_back_the_review_request(
    make_shop, session, messaging
) -> None:
    earlier = make_shop(consent=CONSENT)
    session.delete(earlier.shipment)
    _returned(session, earlier, "KETTLE-1", ReturnState.refunded)
    shop = make_shop(customer=earlier.customer)
    _delivered(shop, session, NOW - timedelta(days=7, hours=1))
    run_timers(session=session, messaging=messaging, now=NOW)
    assert only(session, Trigger.review_request).state == OutboxState.pending


def test_no_replenishment_reminder_for_an_item_returned_in_an_earlier_order(
    make_shop, session, messaging
) -> None:
    beans = [{"sku": "BEANS-200", "name": "コーヒー豆 200g", "category": "beans", "quantity": 2}]
    earlier = make_shop(consent={"email": {"marketing": True}}, lines=beans)
    session.delete(earlier.shipment)
    _returned(session, earlier, "BEANS-200", ReturnState.refunded)
    shop = make_shop(customer=earlier.customer, lines=beans)
    shop.configure(
        consumables={"sku": {"BEANS-200": 14}}, triggers={"replenishment": {"lead_days": 5}}
    )
    _delivered(shop, session, datetime(2026, 11, 1, 3, 0, tzinfo=UTC))
    run_timers(session=session, messaging=messaging, now=NOW)
    message = only(session, Trigger.replenishment)
    assert message.state == OutboxState.suppressed
    assert message.reason == {"why": "returned_before", "args": {"sku": "BEANS-200"}}
