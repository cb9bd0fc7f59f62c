"""Exchange for another product: the brand's rule, live stock less reservations, the race for the last
unit, the price difference settled, and the outbound order to the WMS sent once."""

from __future__ import annotations

import json
import re
import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from postpurchase.db import claim_scope, get_db
from postpurchase.models import (
    Brand,
    Customer,
    ExecutionKind,
    InventoryLevel,
    Order,
    OrderLine,
    OutboxMessage,
    ReservationState,
    ResolutionExecution,
    ReturnLine,
    ReturnRequest,
    ReturnResolution,
    ReturnState,
    StockReservation,
)
from postpurchase.returns.exchange import (
    OutboundWebhook,
    available_stock,
    exchange_options,
    expire_reservations,
    send_outbound,
)
from postpurchase.returns.execution import execute_due
from postpurchase.returns.operations import (
    ReturnError,
    WantedLine,
    record_external,
    request_return,
    transition,
)
from postpurchase.returns.policy import policy_for
from tests.returns.conftest import DELIVERED, add_delivered_order, later
from tests.returns.test_returns_portal import _form_page

OTHER_PRODUCTS = {"other_products": True, "price_band_percent": 20}
WMS_URL = "https://wms.example/returns"


@pytest.fixture
def catalogue(shop, write):
    """Other products the brand has sold: a hoodie (apparel, ¥4,500, the last unit in stock), a coat
    (apparel, ¥12,000: outside ±20 %) and a mug (kitchen, ¥4,000: another category)."""

    def build(s) -> None:
        order = Order(
            brand_id=shop.brand_id,
            external_id="o-900",
            number="#900",
            placed_at=DELIVERED - timedelta(days=30),
        )
        s.add(order)
        s.flush()
        for key, (sku, name, category, price) in enumerate(
            [
                ("HOODIE-M", "パーカー", "apparel", 4500),
                ("COAT-M", "コート", "apparel", 12000),
                ("MUG-01", "マグカップ", "kitchen", 4000),
            ]
        ):
            s.add(
                OrderLine(
                    brand_id=shop.brand_id,
                    order_id=order.id,
                    line_key=str(key),
                    sku=sku,
                    variant="M" if sku.endswith("-M") else None,
                    name=name,
                    category=category,
                    unit_price=price,
                )
            )
            s.add(InventoryLevel(brand_id=shop.brand_id, sku=sku, fc_code="TKY1", available=1))

    write(build)
    return shop


def _policy(set_policy, shop, **extra) -> None:
    set_policy(shop.brand_id, exchange={**OTHER_PRODUCTS, **extra.pop("exchange", {})}, **extra)


def _hoodie(session, shop, *, order_id=None, line_id=None, now=None) -> ReturnRequest:
    return request_return(
        session=session,
        brand=session.get(Brand, shop.brand_id),
        order=session.get(Order, order_id or shop.order_id),
        lines=[
            WantedLine(
                order_line_id=line_id or shop.tee,
                quantity=1,
                reason_code="size_too_small",
                exchange_sku="HOODIE-M",
            )
        ],
        resolution=ReturnResolution.exchange,
        now=now or later(1),
    )


def _options(session, shop) -> list[str]:
    line = session.get(OrderLine, shop.tee)
    return [
        option.sku
        for option in exchange_options(
            session=session,
            brand_id=shop.brand_id,
            line=line,
            currency="JPY",
            rule=policy_for(session.get(Brand, shop.brand_id)).part.exchange,
            now=later(1),
        )
    ]


def test_other_products_of_the_category_within_the_price_band_are_offered(
    session, catalogue, set_policy
) -> None:
    _policy(set_policy, catalogue)
    assert _options(session, catalogue) == ["TEE-L", "HOODIE-M"]


def test_only_sizes_of_the_same_item_are_offered_unless_the_brand_allows_other_products(
    session, catalogue
) -> None:
    assert _options(session, catalogue) == ["TEE-L"]


def test_any_price_is_offered_without_a_price_band(session, catalogue, set_policy) -> None:
    _policy(set_policy, catalogue, exchange={"price_band_percent": None})
    assert _options(session, catalogue) == ["TEE-L", "COAT-M", "HOODIE-M"]


def test_exchange_for_another_product_keeps_the_price_difference_and_reserves_the_unit(
    session, catalogue, set_policy
) -> None:
    _policy(set_policy, catalogue)
    rma = _hoodie(session, catalogue)
    assert rma.attributes["money"]["new_items"] == 4500
    assert rma.attributes["money"]["charge"] == 520
    assert session.exec(select(ReturnLine.exchange_sku)).one() == "HOODIE-M"
    held = session.exec(select(StockReservation)).one()
    assert (held.sku, held.quantity, held.state) == ("HOODIE-M", 1, ReservationState.held)
    assert held.expires_at == later(1) + timedelta(days=21)


def test_a_reserved_unit_is_no_longer_offered(session, catalogue, set_policy) -> None:
    _policy(set_policy, catalogue)
    _hoodie(session, catalogue)
    session.flush()
    assert _options(session, catalogue) == ["TEE-L"]
    stock = available_stock(
        session=session, brand_id=catalogue.brand_id, skus=["HOODIE-M"], now=later(1)
    )
    assert stock == {"HOODIE-M": 0}


def test_a_product_outside_the_rule_is_refused(session, catalogue, set_policy) -> None:
    _policy(set_policy, catalogue)
    with pytest.raises(ReturnError) as error:
        request_return(
            session=session,
            brand=session.get(Brand, catalogue.brand_id),
            order=session.get(Order, catalogue.order_id),
            lines=[
                WantedLine(
                    order_line_id=catalogue.tee,
                    quantity=1,
                    reason_code="size_too_small",
                    exchange_sku="COAT-M",
                )
            ],
            resolution=ReturnResolution.exchange,
            now=later(1),
        )
    assert error.value.code == "exchange_sku"


def test_rejecting_the_return_releases_the_unit(session, catalogue, set_policy) -> None:
    _policy(set_policy, catalogue)
    rma = _hoodie(session, catalogue)
    transition(
        session=session,
        brand_id=catalogue.brand_id,
        return_id=rma.id,
        action="reject",
        now=later(2),
    )
    assert session.exec(select(StockReservation.state)).one() == ReservationState.released
    assert _options(session, catalogue) == ["TEE-L", "HOODIE-M"]


def test_settling_the_exchange_without_a_wms_ends_the_hold_as_shipped(
    session, catalogue, set_policy
) -> None:
    _policy(set_policy, catalogue)
    rma = _hoodie(session, catalogue)
    for action in ("receive", "exchange"):
        transition(
            session=session,
            brand_id=catalogue.brand_id,
            return_id=rma.id,
            action=action,
            now=later(3),
        )
    assert session.exec(select(StockReservation.state)).one() == ReservationState.shipped


def test_an_expired_hold_goes_back_to_stock(session, catalogue, set_policy) -> None:
    _policy(set_policy, catalogue, exchange={"hold_days": 5})
    _hoodie(session, catalogue)
    assert expire_reservations(session=session, now=later(5)) == 0
    assert expire_reservations(session=session, now=later(6)) == 1
    assert session.exec(select(StockReservation.state)).one() == ReservationState.expired


def _second_customer(write, shop) -> tuple[int, int]:
    """Another delivered order with a tee: (order id, line id)."""

    def build(s) -> tuple[int, int]:
        order, (line,) = add_delivered_order(
            s,
            shop.brand_id,
            number="1002",
            email="taro@example.jp",
            lines=[
                {"sku": "TEE-M", "name": "Tシャツ M", "category": "apparel", "unit_price": 3980}
            ],
        )
        return order.id, line.id

    return write(build)


def test_two_customers_racing_for_the_last_unit_one_wins_and_the_other_is_told_it_sold_out(
    app, catalogue, set_policy, write
) -> None:
    _policy(set_policy, catalogue)
    other_order, other_line = _second_customer(write, catalogue)
    ready = threading.Barrier(2, timeout=10)
    outcomes: list[str] = []

    def race(order_id: int, line_id: int) -> None:
        with app.app_context():
            try:
                ready.wait()
                with claim_scope(app) as s:
                    _hoodie(s, catalogue, order_id=order_id, line_id=line_id)
                outcomes.append("created")
            except ReturnError as error:
                outcomes.append(error.code)

    threads = [
        threading.Thread(target=race, args=args)
        for args in ((catalogue.order_id, catalogue.tee), (other_order, other_line))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "out_of_stock"]
    with get_db(app).session() as s:
        assert s.exec(select(StockReservation.quantity)).all() == [1]


def _with_wms(set_policy, shop, **exchange) -> None:
    _policy(set_policy, shop, wms_webhook_url=WMS_URL, exchange=exchange)


def _outbound(session) -> list[OutboxMessage]:
    return [
        row
        for row in session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        if row.idempotency_key.endswith(".outbound:webhook")
    ]


def test_the_outbound_order_goes_to_the_wms_once_when_the_goods_are_received(
    session, catalogue, set_policy
) -> None:
    _with_wms(set_policy, catalogue)
    rma = _hoodie(session, catalogue)
    assert _outbound(session) == []
    record_external(session=session, rma=rma, state=ReturnState.received, at=later(3), now=later(3))
    (row,) = _outbound(session)
    document = OutboundWebhook.model_validate(json.loads(row.body_text))
    assert [(line.sku, line.quantity, line.returned_sku) for line in document.data.lines] == [
        ("HOODIE-M", 1, "TEE-M")
    ]
    assert document.data.amount_due == 520
    assert row.recipient == WMS_URL
    assert session.exec(select(StockReservation.state)).one() == ReservationState.shipped
    brand, order = session.get(Brand, catalogue.brand_id), session.get(Order, catalogue.order_id)
    send_outbound(session=session, brand=brand, rma=rma, order=order, now=later(4))
    assert len(_outbound(session)) == 1


def test_a_trusted_customers_exchange_ships_on_approval(session, catalogue, set_policy) -> None:
    _with_wms(set_policy, catalogue, ship_early_tiers=["gold"])
    customer = Customer(
        brand_id=catalogue.brand_id, external_id="c-1", attributes={"vip_tier": "gold"}
    )
    session.add(customer)
    session.flush()
    order = session.get(Order, catalogue.order_id)
    order.customer_id = customer.id
    session.add(order)
    rma = _hoodie(session, catalogue)
    assert len(_outbound(session)) == 1
    record_external(session=session, rma=rma, state=ReturnState.received, at=later(3), now=later(3))
    assert len(_outbound(session)) == 1


def test_a_refund_sends_no_outbound_order(session, catalogue, set_policy) -> None:
    _with_wms(set_policy, catalogue)
    rma = request_return(
        session=session,
        brand=session.get(Brand, catalogue.brand_id),
        order=session.get(Order, catalogue.order_id),
        lines=[WantedLine(order_line_id=catalogue.tee, quantity=1, reason_code="size_too_small")],
        resolution=ReturnResolution.refund,
        now=later(1),
    )
    record_external(session=session, rma=rma, state=ReturnState.received, at=later(3), now=later(3))
    assert _outbound(session) == []


def test_what_the_exchange_costs_more_is_collected_through_the_resolution_webhook(
    app, catalogue, set_policy, write
) -> None:
    _with_wms(set_policy, catalogue)

    def receive(s) -> int:
        rma = _hoodie(s, catalogue)
        record_external(session=s, rma=rma, state=ReturnState.received, at=later(3), now=later(3))
        return rma.id

    return_id = write(receive)
    execute_due(app, shopify=lambda brand: None, now=later(3))
    (row,) = write(
        lambda s: s.exec(
            select(ResolutionExecution).where(ResolutionExecution.return_id == return_id)
        ).all()
    )
    assert (row.kind, row.amount, row.via) == (ExecutionKind.charge, 520, "webhook")
    documents = write(
        lambda s: [
            json.loads(m.body_text)
            for m in s.exec(select(OutboxMessage)).all()
            if "resolution" in m.idempotency_key
        ]
    )
    assert [(d["data"]["kind"], d["data"]["amount"]) for d in documents] == [("charge", 520)]


def test_a_cheaper_product_refunds_the_difference_when_the_brand_says_so(
    session, catalogue, set_policy, write
) -> None:
    write(lambda s: s.add(InventoryLevel(brand_id=catalogue.brand_id, sku="CAP-1", available=2)))
    write(
        lambda s: s.add(
            OrderLine(
                brand_id=catalogue.brand_id,
                order_id=catalogue.order_id,
                line_key="cap",
                sku="CAP-1",
                name="キャップ",
                category="apparel",
                quantity=0,
                unit_price=3500,
            )
        )
    )
    _policy(set_policy, catalogue, exchange={"difference_back": "refund"})
    rma = request_return(
        session=session,
        brand=session.get(Brand, catalogue.brand_id),
        order=session.get(Order, catalogue.order_id),
        lines=[
            WantedLine(
                order_line_id=catalogue.tee,
                quantity=1,
                reason_code="size_too_small",
                exchange_sku="CAP-1",
            )
        ],
        resolution=ReturnResolution.exchange,
        now=later(1),
    )
    assert (rma.refund_amount, rma.credit_amount) == (480, 0)


# The portal ------------------------------------------------------------------------------------


def _form(client, lang: str = "en") -> tuple[str, str]:
    url = client.post(
        f"/acme/returns?lang={lang}",
        data={"order_number": "1001", "email_or_postal": "hanako@example.jp"},
    ).headers["Location"]
    return url, client.get(url).get_data(as_text=True)


def _choose_hoodie(client, shop, step: str, lang: str = "en"):
    url, page = _form(client, lang)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post(
        url,
        data={
            "csrf_token": token,
            f"quantity-{shop.tee}": "1",
            f"reason-{shop.tee}": "size_too_small",
            f"exchange-{shop.tee}": "HOODIE-M",
            "resolution": "exchange",
            "step": step,
        },
    )


def test_the_portal_offers_another_product_with_its_price(client, catalogue, set_policy) -> None:
    _policy(set_policy, catalogue)
    _, page = _form(client)
    assert '<option value="HOODIE-M"' in page and "パーカー M · ¥4,500" in page
    assert "COAT-M" not in page and "MUG-01" not in page


def test_the_portal_previews_what_the_other_product_costs_more(
    client, catalogue, set_policy
) -> None:
    _policy(set_policy, catalogue)
    page = _choose_hoodie(client, catalogue, "preview").get_data(as_text=True)
    assert "−¥4,500" in page and "You pay the difference" in page and "¥520" in page


def test_the_portal_opens_the_exchange_for_another_product(
    app, client, catalogue, set_policy
) -> None:
    _policy(set_policy, catalogue)
    response = _choose_hoodie(client, catalogue, "submit", lang="ja")
    assert response.status_code == 302
    with get_db(app).session() as s:
        assert s.exec(select(ReturnLine.exchange_sku)).all() == ["HOODIE-M"]
        assert s.exec(select(StockReservation.sku)).all() == ["HOODIE-M"]


def test_the_portal_says_clearly_when_the_last_unit_was_just_taken(
    app, client, catalogue, set_policy, write
) -> None:
    _policy(set_policy, catalogue)
    other_order, other_line = _second_customer(write, catalogue)
    url, page = _form(client)
    write(lambda s: _hoodie(s, catalogue, order_id=other_order, line_id=other_line))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        url,
        data={
            "csrf_token": token,
            f"quantity-{catalogue.tee}": "1",
            f"reason-{catalogue.tee}": "size_too_small",
            f"exchange-{catalogue.tee}": "HOODIE-M",
            "resolution": "exchange",
        },
    )
    assert response.status_code == 422
    assert "out of stock" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("lang", "words"),
    [("ja", "別のサイズまたは別の商品と交換"), ("en", "Exchange for another size or item")],
)
def test_the_form_does_not_promise_only_another_size_when_other_products_are_offered(
    client, catalogue, set_policy, lang, words
) -> None:
    _policy(set_policy, catalogue)
    _, page = _form_page(client, lang)
    assert words in page
    assert "HOODIE-M" in page
