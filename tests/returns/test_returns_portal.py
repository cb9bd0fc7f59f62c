"""The customer returns portal: lookup like the tracking page, the form, the RMA and its label PDF."""

from __future__ import annotations

import re

from sqlmodel import select

from postpurchase.db import get_db
from postpurchase.models import ReturnRequest, ReturnState
from postpurchase.returns.label import return_token


def _lookup(client, secret: str = "hanako@example.jp", number: str = "1001", lang: str = "ja"):
    return client.post(f"/acme/returns?lang={lang}", data={"order_number": number, "email_or_postal": secret})


def _form_page(client, lang: str = "ja") -> tuple[str, str]:
    """(form URL, page text) after a successful lookup."""
    url = _lookup(client, lang=lang).headers["Location"]
    return url, client.get(url).get_data(as_text=True)


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _submit(client, shop, lang: str = "ja", **fields):
    url, page = _form_page(client, lang)
    data = {"csrf_token": _csrf(page), f"quantity-{shop.tee}": "1", f"reason-{shop.tee}": "size_too_small",
            "resolution": "refund"}
    data.update(fields)
    return client.post(url, data=data)


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
    assert client.post(url, data={f"quantity-{shop.tee}": "1", "resolution": "refund"}).status_code == 400
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
    response = _submit(client, shop, lang="en", resolution="exchange", **{f"exchange-{shop.tee}": "TEE-S"})
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
    assert client.get(f"/acme/returns/r/{return_token('test-secret', other.brand_id, rma.id)}/label.pdf").status_code == 404


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
    assert "Your return request" in page and "Too small" in page and "Download the return label" in page
