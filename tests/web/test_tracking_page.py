"""The customer tracking page: lookup by order number plus email or postal code, signed links."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlmodel import select

from carriers.status import Status
from postpurchase import create_app
from postpurchase.db import get_db
from postpurchase.lookup import normalize_postal_code, order_token
from postpurchase.models import (
    Brand,
    Customer,
    Order,
    OrderLine,
    Shipment,
    TimeSlot,
    TrackingEvent,
)
from postpurchase.tokens import read_token
from tests.sql import recorded


@pytest.fixture
def order_id(app, brand) -> int:
    with app.app_context():
        s = get_db(app).session()
        order = Order(
            brand_id=brand.brand_id,
            external_id="o-1001",
            number="1001",
            email="hanako@example.jp",
            placed_at=datetime(2026, 11, 20, 3, 0, tzinfo=UTC),
            total_amount=5980,
            shipping_postal_code="150-0001",
        )
        s.add(order)
        s.flush()
        s.add(
            OrderLine(
                brand_id=brand.brand_id,
                order_id=order.id,
                line_key="1",
                sku="TEA-01",
                name="ほうじ茶 100g",
                quantity=2,
                unit_price=1490,
            )
        )
        shipment = Shipment(
            brand_id=brand.brand_id,
            order_id=order.id,
            external_id="s-1",
            carrier_code="yamato",
            tracking_number="123456789012",
            status=Status.in_transit,
            predicted_date=date(2026, 11, 25),
            time_slot=TimeSlot.morning,
            lines=[{"sku": "TEA-01", "quantity": 2}],
        )
        s.add(shipment)
        s.flush()
        s.add(
            TrackingEvent(
                brand_id=brand.brand_id,
                shipment_id=shipment.id,
                status=Status.in_transit,
                occurred_at=datetime(2026, 11, 21, 9, 30, tzinfo=UTC),
                carrier_code="輸送中",
                description="輸送中",
                location="羽田クロノゲートベース",
            )
        )
        s.commit()
        oid = order.id
        s.close()
    return oid


def _lookup(client, number: str, secret: str, lang: str = "ja"):
    return client.post(
        f"/acme/track?lang={lang}", data={"order_number": number, "email_or_postal": secret}
    )


def test_postal_codes_compare_in_any_width_or_format() -> None:
    assert normalize_postal_code("〒１５０－０００１") == normalize_postal_code("1500001")


def test_lookup_by_email_redirects_to_a_signed_link(client, order_id) -> None:
    response = _lookup(client, "#1001", "Hanako@Example.jp")
    assert response.status_code == 302
    assert re.match(r"^/acme/track/[\w.-]+$", response.headers["Location"])


def test_lookup_by_postal_code_shows_status_date_slot_and_history_in_japanese(
    client, order_id
) -> None:
    page = client.get(_lookup(client, "1001", "1500001").headers["Location"] + "?lang=ja").get_data(
        as_text=True
    )
    assert "輸送中" in page
    assert "11月25日(水)" in page and "午前中" in page
    assert "羽田クロノゲートベース" in page
    assert "ほうじ茶 100g" in page


def test_page_reads_in_english(client, order_id) -> None:
    page = client.get(_lookup(client, "1001", "1500001").headers["Location"] + "?lang=en").get_data(
        as_text=True
    )
    assert "In transit" in page and "Wed, Nov 25" in page


def test_the_language_chosen_on_one_page_stays_for_the_next(client, order_id) -> None:
    """The language switch (``?lang=``) is remembered in a cookie: the next page, and a form
    posted from it, read in that language whatever the browser prefers, until another choice."""
    japanese_browser = {"Accept-Language": "ja-JP,ja;q=0.9"}
    link = _lookup(client, "1001", "1500001").headers["Location"]
    chosen = client.get(link + "?lang=en", headers=japanese_browser)
    cookie = chosen.headers["Set-Cookie"]
    assert cookie.startswith("lang=en;") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "In transit" in client.get(link, headers=japanese_browser).get_data(as_text=True)
    refused = client.post(
        "/acme/track", data={"order_number": "1001", "email_or_postal": "999-9999"}
    )
    assert refused.status_code == 404 and 'lang="en"' in refused.get_data(as_text=True)
    client.get(link + "?lang=ja")
    assert "輸送中" in client.get(link).get_data(as_text=True)


def test_an_api_answer_does_not_remember_a_language(client, order_id) -> None:
    assert "Set-Cookie" not in client.get("/healthz?lang=en").headers


def test_wrong_postal_code_finds_nothing(client, order_id) -> None:
    assert _lookup(client, "1001", "999-9999").status_code == 404


def test_another_brands_order_is_not_found(client, make_brand, order_id) -> None:
    make_brand("other")
    assert (
        client.post(
            "/other/track", data={"order_number": "1001", "email_or_postal": "1500001"}
        ).status_code
        == 404
    )


def test_link_for_another_brand_is_refused(app, client, make_brand, order_id) -> None:
    other = make_brand("other")
    token = order_token(app.config["SECRET_KEY"], other.brand_id, order_id)
    assert client.get(f"/acme/track/{token}").status_code == 404


def test_forged_link_is_refused(client, order_id) -> None:
    assert client.get(f"/acme/track/{order_id}").status_code == 404


def test_guessing_is_throttled(client, order_id) -> None:
    statuses = [_lookup(client, "1001", f"{n:03d}-0000").status_code for n in range(11)]
    assert statuses[:10] == [404] * 10 and statuses[10] == 429


def test_throttled_lookup_says_when_to_retry(client, order_id) -> None:
    for n in range(10):
        _lookup(client, "1001", f"{n:03d}-0000")
    response = _lookup(client, "1001", "150-0001", lang="en")
    assert response.headers["Retry-After"] == "900"
    assert "Please try again in 15 minutes." in response.get_data(as_text=True)


def test_guessing_is_counted_across_app_instances_on_one_database(
    app_config, client, order_id
) -> None:
    other = create_app(app_config)
    try:
        for n in range(10):
            _lookup(other.test_client(), "1001", f"{n:03d}-0000")
        assert _lookup(client, "1001", "150-0001").status_code == 429
    finally:
        get_db(other).dispose()


def test_behind_a_trusted_proxy_guesses_count_per_forwarded_client(app_config, order_id) -> None:
    proxied = create_app({**app_config, "TRUSTED_PROXIES": 1})
    try:
        client = proxied.test_client()
        for n in range(10):
            client.post(
                "/acme/track",
                data={"order_number": "1001", "email_or_postal": f"{n:03d}-0000"},
                headers={"X-Forwarded-For": "203.0.113.1"},
            )
        response = client.post(
            "/acme/track",
            data={"order_number": "1001", "email_or_postal": "999-0000"},
            headers={"X-Forwarded-For": "203.0.113.2"},
        )
        assert response.status_code == 404
    finally:
        get_db(proxied).dispose()


def test_unknown_brand_is_404(client) -> None:
    assert client.get("/nobody/track").status_code == 404


def _give_customer(app, order_id: int, email: str) -> int:
    """Give the order a customer with ``email``; our id of the customer."""
    with app.app_context():
        s = get_db(app).session()
        order = s.get(Order, order_id)
        assert order is not None
        customer = Customer(brand_id=order.brand_id, external_id="c-1", email=email)
        s.add(customer)
        s.flush()
        order.customer_id = customer.id
        s.commit()
        customer_id = customer.id
        s.close()
    assert customer_id is not None
    return customer_id


def test_lookup_by_the_customers_email_reads_the_order_with_its_customer(
    app, client, order_id
) -> None:
    """Brand, throttle check, then the orders of that number with their customers: one read."""
    _give_customer(app, order_id, "Hanako.Yamada@example.jp")
    assert client.get("/acme/track").status_code == 200  # the process has read its brand once
    with recorded(get_db(app).engine) as statements:
        response = _lookup(client, "1001", "hanako.yamada@example.jp")
    assert response.status_code == 302
    assert len(statements) == 3, [st.sql.split(" FROM ")[-1][:60] for st in statements]
    assert _lookup(client, "1001", "someone@example.jp").status_code == 404


def test_signed_link_reads_the_order_in_six_statements_and_signs_feedback_for_its_customer(
    app, client, order_id
) -> None:
    """Brand, order with its customer, lines, parcels, scans and (the parcel has a time slot) its
    latest prediction: the page's reads, however many parcels; the delivered page's feedback link
    names the customer by our id."""
    customer_id = _give_customer(app, order_id, "hanako@example.jp")
    with app.app_context():
        s = get_db(app).session()
        shipment = s.exec(select(Shipment).where(Shipment.order_id == order_id)).one()
        shipment.status = Status.delivered
        shipment.delivered_at = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
        s.commit()
        s.close()
    link = _lookup(client, "1001", "1500001").headers["Location"]
    with recorded(get_db(app).engine) as statements:
        page = client.get(link).get_data(as_text=True)
    assert "羽田クロノゲートベース" in page and "/acme/returns/" in page
    assert len(statements) == 6, [st.sql.split(" FROM ")[-1][:60] for st in statements]
    token = re.search(r'href="/acme/feedback/([\w.-]+)"', page)
    feedback = read_token(app.config["SECRET_KEY"], "feedback", token.group(1)) if token else None
    assert feedback is not None and feedback["c"] == customer_id


def test_a_customer_page_shows_the_brand_as_it_is_now(app, client, order_id) -> None:
    """The brand a process keeps for its customer pages is given again only while its row is
    unchanged: a new name, a new look or a brand gone show on the next page."""
    assert client.get("/acme/track").status_code == 200
    with app.app_context():
        s = get_db(app).session()
        brand = s.exec(select(Brand).where(Brand.slug == "acme")).one()
        brand.name = "Acme Renamed"
        brand.settings = {**brand.settings, "branding": {"color": "#2a6f4e"}}
        s.commit()
        s.close()
    page = client.get("/acme/track").get_data(as_text=True)
    assert "Acme Renamed" in page and "#2a6f4e" in page
    with app.app_context():
        s = get_db(app).session()
        s.exec(select(Brand).where(Brand.slug == "acme")).one().slug = "acme-gone"
        s.commit()
        s.close()
    assert client.get("/acme/track").status_code == 404
