"""The customer returns portal: lookup like the tracking page, the form, the RMA and its label PDF."""

from __future__ import annotations

import re
import threading

import pytest
from flask import request
from sqlmodel import select
from werkzeug.datastructures import MultiDict

from postpurchase.db import get_db
from postpurchase.lookup import return_token
from postpurchase.models import (
    InventoryLevel,
    Order,
    OrderLine,
    ReturnLine,
    ReturnRequest,
    ReturnState,
)
from tests.returns.conftest import DELIVERED


def _lookup(client, secret: str = "hanako@example.jp", number: str = "1001", lang: str = "ja"):
    return client.post(
        f"/acme/returns?lang={lang}", data={"order_number": number, "email_or_postal": secret}
    )


def _form_page(client, lang: str = "ja") -> tuple[str, str]:
    """(form URL, page text) after a successful lookup."""
    url = _lookup(client, lang=lang).headers["Location"]
    return url, client.get(url).get_data(as_text=True)


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _submit(client, shop, lang: str = "ja", **fields):
    url, page = _form_page(client, lang)
    data = {
        "csrf_token": _csrf(page),
        f"quantity-{shop.tee}": "1",
        f"reason-{shop.tee}": "size_too_small",
        "resolution": "refund",
    }
    data.update(fields)
    return client.post(url, data=data)


def _post(client, shop, pairs: list[tuple[str, str]], lang: str = "en"):
    """Post exactly ``pairs`` (repeated keys kept) with a valid CSRF token."""
    url, page = _form_page(client, lang)
    return client.post(url, data=MultiDict([("csrf_token", _csrf(page)), *pairs]))


def _returns(app) -> list[ReturnRequest]:
    with app.app_context():
        s = get_db(app).session()
        rows = s.exec(select(ReturnRequest)).all()
        s.close()
    return rows


def test_lookup_page_reads_in_japanese(client, shop) -> None:
    page = client.get("/acme/returns?lang=ja").get_data(as_text=True)
    assert "注文番号" in page and 'lang="ja"' in page


def test_lookup_with_the_email_leads_to_a_signed_form_link(client, shop) -> None:
    response = _lookup(client, "Hanako@Example.jp", "#1001")
    assert response.status_code == 302
    assert re.match(r"^/acme/returns/order/[\w.-]+", response.headers["Location"])


def test_lookup_with_the_postal_code_works_too(client, shop) -> None:
    assert _lookup(client, "１５０－０００１").status_code == 302


def test_wrong_email_finds_nothing(client, shop) -> None:
    assert _lookup(client, "someone@example.jp").status_code == 404


def test_guessing_is_throttled(client, shop) -> None:
    for _ in range(10):
        _lookup(client, "999-9999")
    assert _lookup(client, "150-0001").status_code == 429


def test_forged_order_link_is_refused(client, shop) -> None:
    assert client.get("/acme/returns/order/not-a-token").status_code == 404


def test_form_offers_returnable_lines_and_says_why_not_for_the_others(client, shop) -> None:
    _, page = _form_page(client, lang="en")
    assert f'name="quantity-{shop.tee}"' in page
    assert f'name="quantity-{shop.sale}"' not in page
    assert "Final sale" in page
    assert "Too small" in page and "TEE-S" not in page and ">L<" in page


def test_submitting_without_the_csrf_token_is_refused(client, shop) -> None:
    url, _ = _form_page(client)
    assert (
        client.post(url, data={f"quantity-{shop.tee}": "1", "resolution": "refund"}).status_code
        == 400
    )
    assert _returns(client.application) == []


def test_submit_creates_the_rma_and_shows_it_with_the_label_link(app, client, shop) -> None:
    response = _submit(client, shop)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    (rma,) = _returns(app)
    assert rma.state == ReturnState.label_issued and rma.refund_amount == 3980
    assert rma.rma_number in page and "サイズが小さい" in page and "￥3,980" in page
    assert re.search(r'href="/acme/returns/r/[\w.-]+/label\.pdf', page)


def test_too_many_items_shows_the_reason_on_the_form(app, client, shop) -> None:
    response = _submit(client, shop, lang="en", **{f"quantity-{shop.tee}": "5"})
    assert response.status_code == 422
    assert "At most 2 of Tシャツ M can be returned." in response.get_data(as_text=True)
    assert _returns(app) == []


def test_exchange_to_a_sold_out_size_is_refused_on_the_form(app, client, shop) -> None:
    response = _submit(
        client, shop, lang="en", resolution="exchange", **{f"exchange-{shop.tee}": "TEE-S"}
    )
    assert response.status_code == 422 and "out of stock" in response.get_data(as_text=True)


def test_label_pdf_is_a_pdf(client, shop) -> None:
    confirmation = _submit(client, shop).headers["Location"]
    response = client.get(confirmation.split("?")[0] + "/label.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")


def test_label_needs_the_signed_token(app, client, shop) -> None:
    _submit(client, shop)
    (rma,) = _returns(app)
    assert client.get(f"/acme/returns/r/{rma.id}/label.pdf").status_code == 404
    assert client.get(f"/acme/returns/r/{rma.rma_number}/label.pdf").status_code == 404


def test_token_of_another_brand_is_refused(app, client, shop, make_brand) -> None:
    other = make_brand("other")
    _submit(client, shop)
    (rma,) = _returns(app)
    assert (
        client.get(
            f"/acme/returns/r/{return_token('test-secret', other.brand_id, rma.id)}/label.pdf"
        ).status_code
        == 404
    )


def test_no_label_while_the_return_waits_for_approval(app, client, shop, set_policy) -> None:
    set_policy(shop.brand_id, auto_approve=False)
    confirmation = _submit(client, shop).headers["Location"].split("?")[0]
    assert "label.pdf" not in client.get(confirmation).get_data(as_text=True)
    assert client.get(confirmation + "/label.pdf").status_code == 404


def test_form_reads_in_japanese(client, shop) -> None:
    _, page = _form_page(client, lang="ja")
    assert "返品する数量" in page and "サイズが大きい" in page and "返品不可の商品です" in page


def test_confirmation_reads_in_english(client, shop) -> None:
    confirmation = _submit(client, shop, lang="en").headers["Location"]
    page = client.get(confirmation).get_data(as_text=True)
    assert "Your return" in page and "Too small" in page and "Download the return label" in page


def test_one_line_spelt_three_ways_is_a_400_naming_the_field(app, client, shop) -> None:
    response = _submit(
        client,
        shop,
        lang="en",
        **{f"quantity-{shop.tee}": "2", f"quantity-0{shop.tee}": "2", f"quantity-+{shop.tee}": "2"},
    )
    assert response.status_code == 400
    assert f"quantity-0{shop.tee}" in response.get_data(as_text=True)
    assert _returns(app) == []


def test_duplicate_quantity_keys_are_a_400(app, client, shop) -> None:
    response = _post(
        client,
        shop,
        [
            (f"quantity-{shop.tee}", "2"),
            (f"quantity-{shop.tee}", "2"),
            (f"reason-{shop.tee}", "damaged"),
            ("resolution", "refund"),
        ],
    )
    assert response.status_code == 400 and f"quantity-{shop.tee}" in response.get_data(as_text=True)
    assert _returns(app) == []


def test_unknown_field_is_a_400_naming_it(app, client, shop) -> None:
    response = _submit(client, shop, lang="en", refund_to="my-bank")
    assert response.status_code == 400 and "refund_to" in response.get_data(as_text=True)
    assert _returns(app) == []


def test_form_errors_read_in_japanese(client, shop) -> None:
    response = _submit(client, shop, lang="ja", **{f"quantity-{shop.tee}": "-1"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and f"quantity-{shop.tee}" in page and "0から" in page


@pytest.mark.parametrize(
    "quantity", ["-1", "1.5", "one", "１", " 1", "+1", "", "10000", "9" * 5000]
)
def test_quantity_that_is_not_a_small_whole_number_is_a_400(app, client, shop, quantity) -> None:
    response = _submit(client, shop, lang="en", **{f"quantity-{shop.tee}": quantity})
    assert response.status_code == 400
    assert f"quantity-{shop.tee} must be a whole number from 0 to 9999" in response.get_data(
        as_text=True
    )
    assert _returns(app) == []


def test_all_quantities_zero_asks_for_an_item(app, client, shop) -> None:
    response = _submit(client, shop, lang="en", **{f"quantity-{shop.tee}": "0"})
    assert response.status_code == 422 and "Choose at least one item" in response.get_data(
        as_text=True
    )


def _order_line_of(write, brand_id: int, number: str) -> int:
    """The id of a line (5 × ¥20,000) of a new delivered-looking order ``number`` of ``brand_id``."""

    def make(s) -> int:
        order = Order(
            brand_id=brand_id,
            external_id=f"o-{number}",
            number=number,
            email="taro@example.jp",
            placed_at=DELIVERED,
        )
        s.add(order)
        s.flush()
        line = OrderLine(
            brand_id=brand_id,
            order_id=order.id,
            line_key="1",
            sku="TEE-M",
            quantity=5,
            unit_price=20000,
        )
        s.add(line)
        s.flush()
        return line.id

    return write(make)


def test_line_of_another_order_is_a_400(app, client, shop, write) -> None:
    line_id = _order_line_of(write, shop.brand_id, "#1002")
    response = _submit(
        client, shop, lang="en", **{f"quantity-{line_id}": "5", f"reason-{line_id}": "damaged"}
    )
    assert response.status_code == 400 and f"quantity-{line_id}" in response.get_data(as_text=True)
    assert _returns(app) == []


def test_line_of_another_brand_is_a_400(app, client, shop, make_brand, write) -> None:
    line_id = _order_line_of(write, make_brand("other").brand_id, "#1001")
    response = _submit(
        client, shop, lang="en", **{f"quantity-{line_id}": "1", f"reason-{line_id}": "damaged"}
    )
    assert response.status_code == 400 and f"quantity-{line_id}" in response.get_data(as_text=True)
    assert _returns(app) == []


def test_reason_not_in_the_policy_is_a_400(app, client, shop) -> None:
    response = _submit(client, shop, lang="en", **{f"reason-{shop.tee}": "free_money"})
    assert response.status_code == 400 and f"reason-{shop.tee}" in response.get_data(as_text=True)
    assert _returns(app) == []


def test_missing_reason_for_a_returned_line_is_a_400(app, client, shop) -> None:
    response = _post(client, shop, [(f"quantity-{shop.tee}", "1"), ("resolution", "refund")])
    assert response.status_code == 400 and f"reason-{shop.tee}" in response.get_data(as_text=True)


@pytest.mark.parametrize("resolution", ["cash", "", "exchange"])
def test_resolution_the_policy_does_not_offer_is_a_400(
    app, client, shop, set_policy, resolution
) -> None:
    set_policy(shop.brand_id, resolutions=["refund", "store_credit"])
    response = _submit(client, shop, lang="en", resolution=resolution)
    assert response.status_code == 400 and "resolution" in response.get_data(as_text=True)
    assert _returns(app) == []


def test_exchange_to_another_product_in_stock_is_a_400(app, client, shop, write) -> None:
    write(
        lambda s: s.add(
            InventoryLevel(brand_id=shop.brand_id, sku="WATCH-GOLD", fc_code="TKY1", available=3)
        )
    )
    response = _submit(
        client, shop, lang="en", resolution="exchange", **{f"exchange-{shop.tee}": "WATCH-GOLD"}
    )
    assert response.status_code == 400 and f"exchange-{shop.tee}" in response.get_data(as_text=True)
    assert _returns(app) == []


def test_exchange_field_when_the_shop_offers_no_exchange_is_a_400(
    app, client, shop, set_policy
) -> None:
    set_policy(shop.brand_id, resolutions=["refund"])
    response = _submit(client, shop, lang="en", **{f"exchange-{shop.tee}": "TEE-L"})
    assert response.status_code == 400 and f"exchange-{shop.tee}" in response.get_data(as_text=True)


def test_exchange_to_another_size_stores_it(app, client, shop) -> None:
    response = _submit(client, shop, resolution="exchange", **{f"exchange-{shop.tee}": "TEE-L"})
    assert response.status_code == 302
    with app.app_context():
        s = get_db(app).session()
        assert s.exec(select(ReturnLine.exchange_sku)).one() == "TEE-L"
        s.close()


def test_overlong_comment_is_a_400(app, client, shop) -> None:
    response = _submit(client, shop, lang="en", **{f"comment-{shop.tee}": "x" * 1001})
    assert response.status_code == 400 and f"comment-{shop.tee}" in response.get_data(as_text=True)


def test_units_in_an_earlier_return_count_against_the_next(app, client, shop) -> None:
    assert _submit(client, shop).status_code == 302
    response = _submit(client, shop, lang="en", **{f"quantity-{shop.tee}": "2"})
    assert response.status_code == 422 and "At most 1 of Tシャツ M" in response.get_data(
        as_text=True
    )
    assert len(_returns(app)) == 1


def test_two_submits_at_once_for_the_last_units_make_one_return_and_one_clear_refusal(
    app, shop, monkeypatch
) -> None:
    """Both requests read the form before either writes: the second waits for the write lock and is
    then told the units are taken (422), never a database error."""
    from postpurchase.returns import operations

    both_have_read = threading.Barrier(2, timeout=10)
    original = operations.portal_form

    def form_then_wait(**kwargs):
        form = original(**kwargs)
        if request.method == "POST":
            both_have_read.wait()
        return form

    clients = [app.test_client(), app.test_client()]
    prepared = []
    for client in clients:
        url, page = _form_page(client)
        prepared.append(
            (
                client,
                url,
                {
                    "csrf_token": _csrf(page),
                    f"quantity-{shop.tee}": "2",
                    f"reason-{shop.tee}": "size_too_small",
                    "resolution": "refund",
                },
            )
        )
    monkeypatch.setattr(operations, "portal_form", form_then_wait)
    statuses: list[object] = []

    def submit(client, url, data) -> None:
        try:
            statuses.append(client.post(url, data=data).status_code)
        except Exception as error:
            statuses.append(type(error).__name__)

    threads = [threading.Thread(target=submit, args=args) for args in prepared]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses, key=str) == [302, 422]
    assert len(_returns(app)) == 1


def test_preview_shows_the_refund_and_opens_nothing(app, client, shop) -> None:
    response = _submit(client, shop, lang="en", step="preview", **{f"quantity-{shop.tee}": "2"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "What you get back" in page and "¥7,960" in page
    assert 'name="step" value="submit"' in page
    assert _returns(app) == []


def test_preview_keeps_the_choices_made(client, shop) -> None:
    page = _submit(client, shop, lang="en", step="preview", resolution="store_credit").get_data(
        as_text=True
    )
    assert re.search(r'value="store_credit" required checked', page)
    assert re.search(r'<option value="1" selected>', page)


def test_preview_shows_fees_and_bonus_of_the_brand_rules(client, shop, monkeypatch) -> None:
    from decimal import Decimal

    from postpurchase.returns import operations
    from postpurchase.returns.money import ANY_REASON, Fee, MoneyRules

    rules = MoneyRules(fees={ANY_REASON: Fee(flat=480)}, credit_bonus_percent=Decimal(10))
    monkeypatch.setattr(operations, "money_rules", lambda brand: rules)
    page = _submit(client, shop, lang="en", step="preview", resolution="store_credit").get_data(
        as_text=True
    )
    # 3,980 − 480 = 3,500; +10 % = 3,850.
    assert "−¥480" in page and "+¥350" in page and "¥3,850" in page


def test_preview_of_nothing_says_to_choose_an_item(app, client, shop) -> None:
    response = _submit(client, shop, lang="en", step="preview", **{f"quantity-{shop.tee}": "0"})
    assert response.status_code == 422
    assert "Choose at least one item" in response.get_data(as_text=True)


def test_unknown_step_is_a_400_naming_the_field(app, client, shop) -> None:
    response = _submit(client, shop, lang="en", step="pay")
    assert response.status_code == 400 and "step" in response.get_data(as_text=True)
    assert _returns(app) == []
