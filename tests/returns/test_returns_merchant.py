"""The merchant return routes: the old list redirects to the queue; actions by signed-in merchants only, on their own brand's returns."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from postpurchase.models import Brand, Order, ReturnRequest, ReturnResolution, ReturnState
from postpurchase.returns.operations import WantedLine, create_return
from postpurchase.web.merchant import add_merchant_user
from tests.returns.conftest import later


def _csrf(client, path: str = "/merchant/") -> str:
    return re.search(
        r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)
    ).group(1)


@pytest.fixture
def signed_in(client, shop, write):
    write(
        lambda s: add_merchant_user(
            session=s, brand_id=shop.brand_id, email="ops@acme.example", password="pw"
        )
    )
    client.post(
        "/merchant/login",
        data={
            "csrf_token": _csrf(client, "/merchant/login"),
            "email": "ops@acme.example",
            "password": "pw",
        },
    )
    return client


@pytest.fixture
def rma_id(shop, write) -> int:
    """An RMA waiting for approval (the brand approves by hand)."""

    def make(s) -> int:
        brand = s.get(Brand, shop.brand_id)
        brand.settings = {"returns": {"auto_approve": False}}
        rma = create_return(
            session=s,
            brand=brand,
            order=s.get(Order, shop.order_id),
            now=later(1),
            lines=[WantedLine(order_line_id=shop.tee, quantity=1, reason_code="damaged")],
            resolution=ReturnResolution.refund,
        )
        return rma.id

    return write(make)


def _state(write, rma_id: int) -> ReturnState:
    return write(
        lambda s: s.exec(select(ReturnRequest.state).where(ReturnRequest.id == rma_id)).one()
    )


def _act(client, rma_id: int, action: str, lang: str = "ja"):
    return client.post(
        f"/merchant/returns/{rma_id}/{action}?lang={lang}", data={"csrf_token": _csrf(client)}
    )


def test_signed_out_visitor_is_sent_to_sign_in(client, shop) -> None:
    response = client.get("/merchant/returns/", follow_redirects=True)
    assert response.request.path == "/merchant/login"


def test_old_list_redirects_to_the_queue_keeping_its_filter(signed_in) -> None:
    response = signed_in.get("/merchant/returns/?state=requested&lang=en")
    assert response.status_code in (302, 303)
    assert response.headers["Location"] == "/merchant/returns/queue/?state=requested&lang=en"


def test_merchant_home_links_to_the_queue_once(signed_in) -> None:
    home = signed_in.get("/merchant/?lang=en").get_data(as_text=True)
    assert 'href="/merchant/returns/queue/"' in home and 'href="/merchant/returns/"' not in home
    assert home.count('href="/merchant/returns/queue/"') == 1


def test_old_state_filter_still_filters_after_the_redirect(signed_in, rma_id) -> None:
    def page(state: str) -> str:
        return signed_in.get(f"/merchant/returns/?state={state}", follow_redirects=True).get_data(
            as_text=True
        )

    assert "R-1001-" not in page("refunded") and "R-1001-" in page("requested")


def test_unknown_state_filter_is_a_bad_request(signed_in, rma_id) -> None:
    response = signed_in.get("/merchant/returns/?state=lost", follow_redirects=True)
    assert response.status_code == 400


def test_approve_receive_refund_move_the_states(signed_in, rma_id, write) -> None:
    assert _act(signed_in, rma_id, "approve").status_code == 303
    assert _state(write, rma_id) == ReturnState.label_issued
    _act(signed_in, rma_id, "receive")
    assert _state(write, rma_id) == ReturnState.received
    _act(signed_in, rma_id, "refund")
    assert _state(write, rma_id) == ReturnState.refunded


def test_reject_moves_to_rejected(signed_in, rma_id, write) -> None:
    _act(signed_in, rma_id, "reject")
    assert _state(write, rma_id) == ReturnState.rejected


def test_action_out_of_order_is_explained_and_changes_nothing(signed_in, rma_id, write) -> None:
    _act(signed_in, rma_id, "refund", lang="en")
    assert _state(write, rma_id) == ReturnState.requested
    assert "cannot go from Requested to Refunded" in signed_in.get(
        "/merchant/returns/queue/"
    ).get_data(as_text=True)


def test_action_without_csrf_is_refused(signed_in, rma_id, write) -> None:
    assert signed_in.post(f"/merchant/returns/{rma_id}/approve").status_code == 400
    assert _state(write, rma_id) == ReturnState.requested


def test_another_brands_merchant_cannot_act(client, make_brand, rma_id, write) -> None:
    other = make_brand("other")
    write(
        lambda s: add_merchant_user(
            session=s, brand_id=other.brand_id, email="ops@other.example", password="pw"
        )
    )
    client.post(
        "/merchant/login",
        data={
            "csrf_token": _csrf(client, "/merchant/login"),
            "email": "ops@other.example",
            "password": "pw",
        },
    )
    assert "R-1001-" not in client.get("/merchant/returns/queue/").get_data(as_text=True)
    assert _act(client, rma_id, "approve").status_code == 404
    assert _state(write, rma_id) == ReturnState.requested


def test_settling_a_refund_as_store_credit_is_refused(signed_in, rma_id, write) -> None:
    _act(signed_in, rma_id, "approve")
    _act(signed_in, rma_id, "receive")
    assert _act(signed_in, rma_id, "credit", lang="en").status_code == 303
    assert _state(write, rma_id) == ReturnState.received
    assert "The customer asked for: Refund." in signed_in.get(
        "/merchant/returns/queue/?lang=en"
    ).get_data(as_text=True)


def test_unknown_action_is_a_bad_request(signed_in, rma_id, write) -> None:
    assert _act(signed_in, rma_id, "issue_refund_twice").status_code == 400
    assert _state(write, rma_id) == ReturnState.requested
