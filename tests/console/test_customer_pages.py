"""The customer page (reached from a parcel) and the segments page, scoped to the brand."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from sqlmodel import select

from postpurchase import counters
from postpurchase.db import get_db
from postpurchase.messaging.outbox import LEFT_OUT_COUNTER
from postpurchase.messaging.reasons import Why, because, reason_columns
from postpurchase.models import Brand, Channel, Customer, Feedback, OutboxMessage, OutboxState
from postpurchase.personas.operations import fit_personas
from postpurchase.profiles import refresh_brand_profiles
from postpurchase.recommendations import OUT_OF_STOCK
from postpurchase.web.merchant import add_merchant_user
from tests.conftest import PINNED_NOW
from tests.console.conftest import CSRF, Merchant, Shop
from tests.personas.population import seed_population


def _customer_id(app: Flask, shop: Shop) -> int:
    with app.app_context():
        s = get_db(app).session()
        found = s.exec(select(Customer.id).where(Customer.brand_id == shop.brand.brand_id)).one()
        s.close()
    assert found is not None
    return found


def test_the_parcel_page_links_to_the_customer_page_with_their_profile(
    app: Flask, shop: Shop, merchant: Merchant
) -> None:
    with app.app_context():
        s = get_db(app).session()
        s.add(
            Feedback(
                brand_id=shop.brand.brand_id,
                order_id=shop.order_id,
                nps_score=3,
                comment="二回も不在票",
            )
        )
        s.commit()
        s.close()
    page = merchant.client.get(f"/merchant/shipments/{shop.parcels['late']}").get_data(as_text=True)
    link = re.search(r'href="([^"]+/customer)"', page)
    assert link is not None
    customer = merchant.client.get(link.group(1), follow_redirects=True)
    text = customer.get_data(as_text=True)
    assert customer.status_code == 200
    assert "#1001" in text and "二回も不在票" in text
    assert "<code>-/delivered/unknown</code>" in text  # no persona yet; the newest parcel arrived


def test_the_customer_page_says_in_words_what_the_customer_consented_to(
    app: Flask, shop: Shop, merchant: Merchant
) -> None:
    customer_id = _customer_id(app, shop)
    with app.app_context():
        s = get_db(app).session()
        customer = s.get(Customer, customer_id)
        assert customer is not None
        customer.consent = {"email": {"transactional": True, "marketing": False}}
        s.add(customer)
        s.commit()
        s.close()
    ja = merchant.client.get(f"/merchant/customers/{customer_id}?lang=ja").get_data(as_text=True)
    assert "配送・サービスのお知らせ ✓" in ja and "おすすめ・レビュー依頼 ✗" in ja
    assert "transactional" not in ja and "注文履歴" in ja
    en = merchant.client.get(f"/merchant/customers/{customer_id}?lang=en").get_data(as_text=True)
    assert "Delivery and service messages ✓" in en and "Offers and review requests ✗" in en


def test_another_brand_cannot_open_the_customer_page(app: Flask, shop: Shop, make_brand) -> None:
    other = make_brand("other")
    with app.app_context():
        s = get_db(app).session()
        add_merchant_user(
            session=s, brand_id=other.brand_id, email="x@other.example", password="pw"
        )
        s.commit()
        s.close()
    client = app.test_client()
    token = CSRF.search(client.get("/merchant/login").data).group(1).decode()
    client.post(
        "/merchant/login", data={"csrf_token": token, "email": "x@other.example", "password": "pw"}
    )
    assert client.get(f"/merchant/customers/{_customer_id(app, shop)}").status_code == 404
    assert client.get(f"/merchant/orders/{shop.order_id}/customer").status_code == 404


def _suppressed_review_request(shop: Shop, n: int, **why: object) -> OutboxMessage:
    """The ``n``-th review request the brand did not send, ``n`` days before the pinned clock."""
    return OutboxMessage(
        brand_id=shop.brand.brand_id,
        idempotency_key=f"sup{n}",
        trigger="review_request",
        channel=Channel.email,
        state=OutboxState.suppressed,
        created_at=PINNED_NOW - timedelta(days=n),
        **why,
    )


def test_the_segments_page_counts_customers_and_suppressions_per_trigger(
    app: Flask, shop: Shop, merchant: Merchant
) -> None:
    with app.app_context():
        s = get_db(app).session()
        for n in range(2):
            s.add(_suppressed_review_request(shop, n, error="the customer complained"))
        refresh_brand_profiles(session=s, brand_id=shop.brand.brand_id, now=PINNED_NOW)
        s.commit()
        s.close()
    text = merchant.client.get("/merchant/segments").get_data(as_text=True)
    assert re.search(r"<code>-/delivered/unknown</code>.*?<td>1</td>", text, re.S)
    assert re.search(r"the customer complained</td><td>2</td>", text)


def test_the_segments_page_says_why_in_the_merchants_language(
    app: Flask, shop: Shop, merchant: Merchant
) -> None:
    with app.app_context():
        s = get_db(app).session()
        for n, score in enumerate((2, 2, 5)):
            s.add(
                _suppressed_review_request(
                    shop, n, **reason_columns(because(Why.complained, score=score))
                )
            )
        counters.add(
            session=s,
            name=LEFT_OUT_COUNTER,
            labels={
                "brand": str(shop.brand.brand_id),
                "trigger": "delivered",
                "reason": OUT_OF_STOCK,
            },
            amount=3,
        )
        s.commit()
        s.close()
    ja = merchant.client.get("/merchant/segments?lang=ja").get_data(as_text=True)
    assert "お客様から不満の声がありました（直近のNPS 2）。</td><td>2</td>" in ja
    assert "お客様から不満の声がありました（直近のNPS 5）。</td><td>1</td>" in ja
    assert "おすすめの商品は、お客様のサイズの在庫がありません。</td><td>3</td>" in ja
    en = merchant.client.get("/merchant/segments?lang=en").get_data(as_text=True)
    assert "The customer complained (last NPS score 2).</td><td>2</td>" in en
    assert "A recommended item is out of stock in the customer's size.</td><td>3</td>" in en


def test_the_segments_and_customer_pages_call_categories_what_the_brand_calls_them(
    app: Flask, shop: Shop, merchant: Merchant
) -> None:
    with app.app_context():
        s = get_db(app).session()
        brand = s.get(Brand, shop.brand.brand_id)
        assert brand is not None
        brand.settings = {
            **(brand.settings or {}),
            "category_names": {"tea": {"ja": "お茶", "en": "tea"}, "apparel": {"ja": "衣類"}},
        }
        s.add(brand)
        groups = seed_population(s, shop.brand.brand_id)
        refresh_brand_profiles(session=s, brand_id=shop.brand.brand_id, now=PINNED_NOW)
        fit_personas(session=s, brand_id=shop.brand.brand_id, actor="test", now=PINNED_NOW)
        s.commit()
        tea_customer = next(c for c, group in groups.items() if group == "tea")
        s.close()

    def persona_words(lang: str) -> set[str]:
        page = merchant.client.get(f"/merchant/segments?lang={lang}").get_data(as_text=True)
        return set(re.findall(r"<td><code>p\d</code></td><td>([^<]*)</td>", page))

    # The shop's own customer makes a persona of their own beside the population's three.
    assert persona_words("ja") >= {
        "お茶をくり返し購入、返品なし、LINEを好む",
        "衣類を一度だけ購入、返品が多い、メールを好む",
        "coffeeをときどき購入、返品なし、メールを好む",
    }
    assert persona_words("en") >= {
        "Buys tea again and again, never returns, prefers LINE",
        "Bought 衣類 once, often returns, prefers email",
        "Buys coffee now and then, never returns, prefers email",
    }
    customer = merchant.client.get(f"/merchant/customers/{tea_customer}?lang=ja")
    text = customer.get_data(as_text=True)
    assert "お茶をくり返し購入、返品なし、LINEを好む" in text
    assert re.search(r"<dd>お茶 × \d+</dd>", text)
