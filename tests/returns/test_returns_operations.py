"""Opening an RMA against the policy, exchanges and stock, amounts, and the merchant's state changes."""

from __future__ import annotations

import re
import threading
from decimal import Decimal

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from postpurchase import signals
from postpurchase.db import get_db, is_postgres
from postpurchase.intake.operations import record_return
from postpurchase.intake.schemas import ReturnReceivedData
from postpurchase.messaging.catalogue import Trigger
from postpurchase.models import (
    Brand,
    InventoryLevel,
    Order,
    OrderLine,
    OrderStatus,
    OutboxMessage,
    ReturnLine,
    ReturnRequest,
    ReturnResolution,
    ReturnState,
)
from postpurchase.returns.exchange import exchange_options
from postpurchase.returns.money import ANY_REASON, Fee, MoneyRules
from postpurchase.returns.operations import (
    ReturnError,
    WantedLine,
    create_return,
    request_return,
    transition,
)
from postpurchase.returns.shipping_label import return_view
from postpurchase.settings.model import ExchangeRule
from tests.returns.conftest import later


@pytest.fixture
def emitted():
    """Every ``return_updated`` sent during the test, as (return id, kwargs)."""
    seen: list[tuple[int, dict]] = []

    def record(sender, **kwargs):
        seen.append((sender, kwargs))

    signals.return_updated.connect(record)
    yield seen
    signals.return_updated.disconnect(record)


def _open(
    session,
    shop,
    *lines: WantedLine,
    resolution=ReturnResolution.refund,
    days: float = 1,
    action=create_return,
):
    return action(
        session=session,
        brand=session.get(Brand, shop.brand_id),
        order=session.get(Order, shop.order_id),
        lines=list(lines),
        resolution=resolution,
        comment="合わなかった",
        now=later(days),
    )


def _tee(shop, quantity=1, reason="size_too_small", exchange_sku=None) -> WantedLine:
    return WantedLine(
        order_line_id=shop.tee, quantity=quantity, reason_code=reason, exchange_sku=exchange_sku
    )


def test_refund_return_is_auto_approved_with_rma_number_and_amount(session, shop) -> None:
    rma = _open(session, shop, _tee(shop, quantity=2))
    assert rma.state == ReturnState.approved
    assert re.fullmatch(r"R-1001-[2-9A-HJKMNP-Z]{4}", rma.rma_number)
    assert (rma.refund_amount, rma.credit_amount, rma.currency) == (7960, 0, "JPY")
    line = session.exec(select(ReturnLine).where(ReturnLine.return_id == rma.id)).one()
    assert (line.sku, line.variant, line.quantity, line.reason_code) == (
        "TEE-M",
        "M",
        2,
        "size_too_small",
    )


def test_store_credit_fills_the_credit_amount(session, shop) -> None:
    rma = _open(session, shop, _tee(shop), resolution=ReturnResolution.store_credit)
    assert (rma.refund_amount, rma.credit_amount) == (0, 3980)


def test_amounts_follow_the_money_rules_the_preview_showed(session, shop) -> None:
    rules = MoneyRules(fees={ANY_REASON: Fee(flat=500)}, credit_bonus_percent=Decimal(10))
    rma = create_return(
        session=session,
        brand=session.get(Brand, shop.brand_id),
        order=session.get(Order, shop.order_id),
        lines=[_tee(shop, quantity=2)],
        resolution=ReturnResolution.store_credit,
        now=later(1),
        rules=rules,
    )
    # (7960 − 500) + 10 % = 8206.
    assert (rma.refund_amount, rma.credit_amount) == (0, 8206)
    assert rma.attributes["money"] == {
        "value": 7960,
        "fees": 500,
        "bonus": 746,
        "new_items": 0,
        "charge": 0,
        "keep_item": None,
    }


def test_without_auto_approval_the_return_waits_as_requested(session, shop, set_policy) -> None:
    set_policy(shop.brand_id, auto_approve=False)
    assert _open(session, shop, _tee(shop), action=request_return).state == ReturnState.requested


def test_portal_request_issues_the_label_once_approved(session, shop) -> None:
    assert _open(session, shop, _tee(shop), action=request_return).state == ReturnState.label_issued


def test_rma_numbers_differ_between_returns(session, shop) -> None:
    assert (
        _open(session, shop, _tee(shop)).rma_number != _open(session, shop, _tee(shop)).rma_number
    )


def test_more_than_bought_is_refused(session, shop) -> None:
    with pytest.raises(ReturnError) as error:
        _open(session, shop, _tee(shop, quantity=3))
    assert error.value.code == "quantity"


def test_entries_for_one_line_count_together(session, shop) -> None:
    with pytest.raises(ReturnError) as error:
        _open(session, shop, _tee(shop, quantity=2), _tee(shop, quantity=2, reason="damaged"))
    assert error.value.code == "quantity"


def test_entries_for_one_line_within_what_was_bought_are_kept_apart(session, shop) -> None:
    rma = _open(session, shop, _tee(shop, quantity=1), _tee(shop, quantity=1, reason="damaged"))
    reasons = session.exec(
        select(ReturnLine.reason_code).where(ReturnLine.return_id == rma.id)
    ).all()
    assert sorted(reasons) == ["damaged", "size_too_small"] and rma.refund_amount == 7960


def test_negative_quantity_is_refused(session, shop) -> None:
    with pytest.raises(ReturnError) as error:
        _open(
            session,
            shop,
            _tee(shop, quantity=2),
            WantedLine(order_line_id=shop.food, quantity=-5, reason_code="other"),
        )
    assert error.value.code == "quantity"


def test_line_of_another_order_is_refused(session, shop) -> None:
    with pytest.raises(ReturnError) as error:
        _open(
            session,
            shop,
            WantedLine(order_line_id=shop.food + 100, quantity=1, reason_code="other"),
        )
    assert error.value.code == "unknown_line"


def test_quantity_already_returned_counts_against_the_limit(session, shop) -> None:
    _open(session, shop, _tee(shop, quantity=1))
    with pytest.raises(ReturnError) as error:
        _open(session, shop, _tee(shop, quantity=2))
    assert error.value.code == "quantity"


def test_concurrent_requests_cannot_both_take_the_last_units(app, shop) -> None:
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def request() -> None:
        with app.app_context():
            s = get_db(app).session()
            try:
                brand, order = s.get(Brand, shop.brand_id), s.get(Order, shop.order_id)
                barrier.wait()
                create_return(
                    session=s,
                    brand=brand,
                    order=order,
                    resolution=ReturnResolution.refund,
                    now=later(1),
                    lines=[WantedLine(order_line_id=shop.tee, quantity=2, reason_code="damaged")],
                )
                s.commit()
                outcomes.append("created")
            except ReturnError as error:
                outcomes.append(error.code)
            except OperationalError:  # SQLite refuses the second writer instead of waiting for it
                outcomes.append("locked")
            finally:
                s.close()

    _run_together(request, request)
    with get_db(app).session() as s:
        assert s.exec(select(ReturnLine.quantity)).all() == [2]
        if is_postgres(s):
            assert sorted(outcomes) == ["already_returned", "created"]
    assert outcomes.count("created") == 1


def test_concurrent_approvals_move_the_return_once(app, shop, set_policy, write, emitted) -> None:
    set_policy(shop.brand_id, auto_approve=False)
    rma_id = write(lambda s: _open(s, shop, _tee(shop)).id)
    emitted.clear()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve() -> None:
        with app.app_context():
            s = get_db(app).session()
            try:
                s.get(Brand, shop.brand_id)
                barrier.wait()
                transition(
                    session=s,
                    brand_id=shop.brand_id,
                    return_id=rma_id,
                    action="approve",
                    now=later(2),
                )
                s.commit()
                outcomes.append("approved")
            except ReturnError as error:
                outcomes.append(error.code)
            except OperationalError:  # SQLite refuses the second writer instead of waiting for it
                outcomes.append("locked")
            finally:
                s.close()

    _run_together(approve, approve)
    assert outcomes.count("approved") == 1
    assert [kwargs["current"] for _, kwargs in emitted].count(ReturnState.approved) == 1


def _run_together(*work) -> None:
    threads = [threading.Thread(target=job) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_rejected_return_frees_its_quantity(session, shop) -> None:
    first = _open(session, shop, _tee(shop, quantity=2))
    transition(
        session=session, brand_id=shop.brand_id, return_id=first.id, action="reject", now=later(2)
    )
    assert _open(session, shop, _tee(shop, quantity=2), days=3).refund_amount == 7960


def test_final_sale_line_is_refused_with_its_reason(session, shop) -> None:
    with pytest.raises(ReturnError) as error:
        _open(session, shop, WantedLine(order_line_id=shop.sale, quantity=1, reason_code="other"))
    assert error.value.code == "final_sale"


def test_after_the_window_nothing_can_be_returned(session, shop) -> None:
    with pytest.raises(ReturnError) as error:
        _open(session, shop, _tee(shop), days=31)
    assert error.value.code == "window_closed"


def test_unknown_reason_is_refused(session, shop) -> None:
    with pytest.raises(ReturnError) as error:
        _open(session, shop, _tee(shop, reason="boredom"))
    assert error.value.code == "reason"


def test_empty_request_is_refused(session, shop) -> None:
    with pytest.raises(ReturnError) as error:
        _open(session, shop, _tee(shop, quantity=0))
    assert error.value.code == "no_lines"


def test_resolution_the_brand_does_not_offer_is_refused(session, shop, set_policy) -> None:
    set_policy(shop.brand_id, resolutions=["refund"])
    with pytest.raises(ReturnError) as error:
        _open(session, shop, _tee(shop), resolution=ReturnResolution.exchange)
    assert error.value.code == "resolution"


def test_exchange_for_an_item_in_stock_is_accepted(session, shop) -> None:
    rma = _open(
        session, shop, _tee(shop, exchange_sku="TEE-L"), resolution=ReturnResolution.exchange
    )
    assert rma.resolution == ReturnResolution.exchange and (
        rma.refund_amount,
        rma.credit_amount,
    ) == (0, 0)
    assert (
        session.exec(select(ReturnLine.exchange_sku).where(ReturnLine.return_id == rma.id)).one()
        == "TEE-L"
    )


def test_exchange_for_a_sold_out_item_is_refused_with_a_clear_error(app, session, shop) -> None:
    with pytest.raises(ReturnError) as error:
        _open(session, shop, _tee(shop, exchange_sku="TEE-S"), resolution=ReturnResolution.exchange)
    assert error.value.code == "out_of_stock"
    with app.test_request_context("/?lang=en"):
        assert "out of stock" in str(error.value)


def test_exchange_for_the_same_item_needs_it_in_stock(session, shop) -> None:
    with pytest.raises(ReturnError) as error:
        _open(session, shop, _tee(shop), resolution=ReturnResolution.exchange)
    assert error.value.code == "out_of_stock"


def test_exchange_for_another_product_in_stock_is_refused(session, shop) -> None:
    session.add(
        InventoryLevel(brand_id=shop.brand_id, sku="WATCH-GOLD", fc_code="TKY1", available=3)
    )
    session.flush()
    with pytest.raises(ReturnError) as error:
        _open(
            session,
            shop,
            _tee(shop, exchange_sku="WATCH-GOLD"),
            resolution=ReturnResolution.exchange,
        )
    assert error.value.code == "exchange_sku"


def test_exchange_needs_stock_for_every_unit(session, shop) -> None:
    session.add(
        InventoryLevel(
            brand_id=shop.brand_id, sku="TEE-XL", variant="XL", fc_code="TKY1", available=1
        )
    )
    session.flush()
    with pytest.raises(ReturnError) as error:
        _open(
            session,
            shop,
            _tee(shop, quantity=2, exchange_sku="TEE-XL"),
            resolution=ReturnResolution.exchange,
        )
    assert error.value.code == "out_of_stock"


def test_exchange_options_are_sizes_of_the_same_item_only(session, shop) -> None:
    session.add_all(
        [
            InventoryLevel(brand_id=shop.brand_id, sku=sku, fc_code="TKY1", available=3)
            for sku in ("TEE-PRINT-L", "TEE", "TEEX-L", "TEE-XL")
        ]
    )
    session.flush()
    options = _options(session, shop, session.get(OrderLine, shop.tee))
    assert [row.sku for row in options] == ["TEE-L", "TEE-XL"]


def test_exchange_options_read_underscores_in_skus_literally(session, shop) -> None:
    session.add_all(
        [
            InventoryLevel(brand_id=shop.brand_id, sku=sku, fc_code="TKY1", available=3)
            for sku in ("CAP_1-L", "CAPX1-L")
        ]
    )
    session.flush()
    cap = OrderLine(brand_id=shop.brand_id, order_id=shop.order_id, line_key="9", sku="CAP_1-M")
    assert [row.sku for row in _options(session, shop, cap)] == ["CAP_1-L"]


def _options(session, shop, line):
    return exchange_options(
        session=session,
        brand_id=shop.brand_id,
        line=line,
        currency="JPY",
        rule=ExchangeRule(),
        now=later(1),
    )


def test_creating_emits_return_updated_with_the_documented_kwargs(session, shop, emitted) -> None:
    rma = _open(session, shop, _tee(shop))
    ((sender, kwargs),) = emitted
    assert sender == rma.id
    assert kwargs["session"] is session and kwargs["brand_id"] == shop.brand_id
    assert (kwargs["previous"], kwargs["current"], kwargs["now"]) == (
        None,
        ReturnState.approved,
        later(1),
    )


def test_merchant_path_from_request_to_refund_moves_states_and_emits_each(
    session, shop, set_policy, emitted
) -> None:
    set_policy(shop.brand_id, auto_approve=False)
    rma = _open(session, shop, _tee(shop))
    for action in ("approve", "receive", "refund"):
        rma = transition(
            session=session, brand_id=shop.brand_id, return_id=rma.id, action=action, now=later(2)
        )
    assert rma.state == ReturnState.refunded and rma.received_at == later(2)
    assert [(k["previous"], k["current"]) for _, k in emitted] == [
        (None, ReturnState.requested),
        (ReturnState.requested, ReturnState.approved),
        (ReturnState.approved, ReturnState.label_issued),
        (ReturnState.label_issued, ReturnState.received),
        (ReturnState.received, ReturnState.refunded),
    ]


@pytest.mark.parametrize(
    ("resolution", "action", "state"),
    [
        (ReturnResolution.store_credit, "credit", ReturnState.credited),
        (ReturnResolution.exchange, "exchange", ReturnState.exchanged),
    ],
)
def test_received_return_is_credited_or_exchanged_as_asked(
    session, shop, resolution, action, state
) -> None:
    rma = _open(session, shop, _tee(shop, exchange_sku="TEE-L"), resolution=resolution)
    transition(
        session=session, brand_id=shop.brand_id, return_id=rma.id, action="receive", now=later(2)
    )
    assert (
        transition(
            session=session, brand_id=shop.brand_id, return_id=rma.id, action=action, now=later(3)
        ).state
        == state
    )


@pytest.mark.parametrize(
    ("resolution", "action"),
    [
        (ReturnResolution.store_credit, "refund"),
        (ReturnResolution.exchange, "refund"),
        (ReturnResolution.refund, "credit"),
        (ReturnResolution.refund, "exchange"),
    ],
)
def test_return_cannot_be_settled_otherwise_than_asked(session, shop, resolution, action) -> None:
    rma = _open(session, shop, _tee(shop, exchange_sku="TEE-L"), resolution=resolution)
    transition(
        session=session, brand_id=shop.brand_id, return_id=rma.id, action="receive", now=later(2)
    )
    with pytest.raises(ReturnError) as error:
        transition(
            session=session, brand_id=shop.brand_id, return_id=rma.id, action=action, now=later(3)
        )
    assert error.value.code == "resolution"
    session.refresh(rma)
    assert rma.state == ReturnState.received


def test_refund_before_the_parcel_is_back_is_refused(session, shop) -> None:
    rma = _open(session, shop, _tee(shop))
    with pytest.raises(ReturnError) as error:
        transition(
            session=session, brand_id=shop.brand_id, return_id=rma.id, action="refund", now=later(2)
        )
    assert error.value.code == "state"


def test_another_brand_cannot_act_on_the_return(session, shop, make_brand) -> None:
    other = make_brand("other")
    rma = _open(session, shop, _tee(shop))
    with pytest.raises(ReturnError) as error:
        transition(
            session=session,
            brand_id=other.brand_id,
            return_id=rma.id,
            action="reject",
            now=later(2),
        )
    assert error.value.code == "unknown_return"


def test_customer_gets_a_return_update_message_when_the_label_is_issued(session, shop) -> None:
    _open(session, shop, _tee(shop), action=request_return)
    triggers = session.exec(select(OutboxMessage.trigger)).all()
    assert Trigger.return_update in triggers


def test_wms_return_received_moves_the_customers_rma_to_received(session, shop) -> None:
    rma = _open(session, shop, _tee(shop), action=request_return)
    record_return(
        session=session,
        brand_id=shop.brand_id,
        occurred_at=later(5),
        now=later(5),
        data=ReturnReceivedData(rma_number=rma.rma_number, order_id="o-1001"),
    )
    session.refresh(rma)
    assert rma.state == ReturnState.received and rma.received_at == later(5)
    assert (
        transition(
            session=session, brand_id=shop.brand_id, return_id=rma.id, action="refund", now=later(6)
        ).state
        == ReturnState.refunded
    )


def test_label_sends_the_parcel_to_the_first_fulfilment_centre(session, shop) -> None:
    rma = _open(session, shop, _tee(shop))
    view = return_view(session=session, brand=session.get(Brand, shop.brand_id), return_id=rma.id)
    assert (view.centre.code, view.address) == ("TKY1", ())
    assert [(line.name, line.quantity) for line in view.lines] == [("Tシャツ M", 1)]


def test_policy_address_is_used_on_the_label_when_given(session, shop, set_policy) -> None:
    set_policy(shop.brand_id, address=["〒135-0061", "東京都江東区豊洲1-2-3"])
    rma = _open(session, shop, _tee(shop))
    view = return_view(session=session, brand=session.get(Brand, shop.brand_id), return_id=rma.id)
    assert view.address == ("〒135-0061", "東京都江東区豊洲1-2-3")


def test_units_returned_from_one_line_do_not_free_a_pricier_line_of_the_same_item(
    session, shop
) -> None:
    order = session.get(Order, shop.order_id)
    gift = session.exec(select(OrderLine).where(OrderLine.id == shop.tee)).one()
    paid = OrderLine(
        brand_id=shop.brand_id,
        order_id=order.id,
        line_key="9",
        sku=gift.sku,
        variant=gift.variant,
        name="Tシャツ M",
        quantity=1,
        unit_price=12000,
    )
    session.add(paid)
    session.flush()
    first = _open(
        session, shop, WantedLine(order_line_id=paid.id, quantity=1, reason_code="damaged")
    )
    with pytest.raises(ReturnError) as error:
        _open(session, shop, WantedLine(order_line_id=paid.id, quantity=1, reason_code="damaged"))
    assert first.refund_amount == 12000 and error.value.code == "already_returned"


def test_units_of_a_return_recorded_by_the_wms_count_against_the_line_of_their_sku(
    session, shop
) -> None:
    record_return(
        session=session,
        brand_id=shop.brand_id,
        occurred_at=later(2),
        now=later(2),
        data=ReturnReceivedData(
            rma_number="WMS-1",
            order_id="o-1001",
            lines=[{"sku": "TEE-M", "variant": "M", "quantity": 1}],
        ),
    )
    with pytest.raises(ReturnError) as error:
        _open(session, shop, _tee(shop, quantity=2), days=3)
    assert error.value.code == "quantity"


def test_cancelled_order_cannot_be_returned(session, shop) -> None:
    order = session.get(Order, shop.order_id)
    order.status, order.cancelled_at = OrderStatus.cancelled, later(1)
    session.add(order)
    session.flush()
    with pytest.raises(ReturnError) as error:
        _open(session, shop, _tee(shop), days=2)
    assert error.value.code == "order_cancelled"


def test_wms_receipt_of_a_rejected_return_leaves_it_rejected(session, shop) -> None:
    rma = _open(session, shop, _tee(shop))
    transition(
        session=session, brand_id=shop.brand_id, return_id=rma.id, action="reject", now=later(2)
    )
    applied = record_return(
        session=session,
        brand_id=shop.brand_id,
        occurred_at=later(5),
        now=later(5),
        data=ReturnReceivedData(rma_number=rma.rma_number, order_id="o-1001"),
    )
    session.refresh(rma)
    assert applied.stale and rma.state == ReturnState.rejected and rma.received_at is None


def test_a_repeated_refund_report_never_overwrites_the_first_amount(session, shop) -> None:
    data = ReturnReceivedData(rma_number="SHOP-R1", order_id="o-1001")
    record_return(
        session=session,
        brand_id=shop.brand_id,
        occurred_at=later(2),
        now=later(2),
        data=data,
        state=ReturnState.refunded,
        refund_amount=3980,
    )
    record_return(
        session=session,
        brand_id=shop.brand_id,
        occurred_at=later(3),
        now=later(3),
        data=data,
        state=ReturnState.refunded,
        refund_amount=39800,
    )
    rma = session.exec(select(ReturnRequest).where(ReturnRequest.rma_number == "SHOP-R1")).one()
    assert (rma.state, rma.refund_amount) == (ReturnState.refunded, 3980)


def test_a_settled_return_is_not_moved_back_to_received_by_the_wms(session, shop) -> None:
    rma = _open(session, shop, _tee(shop), action=request_return)
    data = ReturnReceivedData(rma_number=rma.rma_number, order_id="o-1001")
    record_return(
        session=session, brand_id=shop.brand_id, occurred_at=later(5), now=later(5), data=data
    )
    transition(
        session=session, brand_id=shop.brand_id, return_id=rma.id, action="refund", now=later(6)
    )
    record_return(
        session=session, brand_id=shop.brand_id, occurred_at=later(7), now=later(7), data=data
    )
    session.refresh(rma)
    assert rma.state == ReturnState.refunded
