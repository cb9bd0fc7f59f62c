"""The customer's return status page: state, label, hand-over deadline, refund timing; reached by
signed link from the portal lookup and from every return message."""

from __future__ import annotations

import re

from sqlmodel import select

from postpurchase.models import ExecutionState, ResolutionExecution, ReturnRequest, ReturnState
from postpurchase.returns.operations import record_external
from tests.returns.conftest import later
from tests.returns.test_returns_portal import _form_page, _returns, _submit


def _status_page(client, shop, lang: str = "en") -> tuple[str, str]:
    url = _submit(client, shop, lang=lang).headers["Location"]
    return url, client.get(url).get_data(as_text=True)


def test_status_page_shows_the_current_step_label_and_deadline(client, shop) -> None:
    _, page = _status_page(client, shop)
    assert re.search(r'class="done current" aria-current="step">Label issued<', page)
    assert "Hand it over by" in page and "Fri, Dec 4" in page
    assert "/label.pdf" in page


def test_before_receipt_the_refund_waits_for_the_parcel(client, shop) -> None:
    _, page = _status_page(client, shop)
    assert "¥3,980 will be paid within a few days of your parcel reaching us." in page


def test_after_receipt_the_page_says_by_when_the_refund_comes(app, client, shop, write) -> None:
    url, _ = _status_page(client, shop)
    (rma,) = _returns(app)
    write(
        lambda s: record_external(
            session=s,
            rma=s.get(ReturnRequest, rma.id),
            state=ReturnState.received,
            at=later(4),
            now=later(4),
        )
    )
    page = client.get(url).get_data(as_text=True)
    # Received Nov 21 (pinned delivery + 4 days) → paid within 3 days: Nov 24.
    assert "¥3,980 will be paid by Tue, Nov 24." in page
    assert 'aria-current="step">Received<' in page


def test_once_paid_the_page_says_when(app, client, shop, write) -> None:
    url, _ = _status_page(client, shop)
    (rma,) = _returns(app)

    def pay(s) -> None:
        record_external(
            session=s,
            rma=s.get(ReturnRequest, rma.id),
            state=ReturnState.received,
            at=later(4),
            now=later(4),
        )
        row = s.exec(select(ResolutionExecution)).one()
        row.state, row.executed_at = ExecutionState.done, later(5)
        s.add(row)

    write(pay)
    page = client.get(url).get_data(as_text=True)
    assert "¥3,980 paid on Sun, Nov 22." in page


def test_status_page_reads_in_japanese(client, shop) -> None:
    _, page = _status_page(client, shop, lang="ja")
    assert 'lang="ja"' in page and "返送期限" in page


def test_lookup_lists_the_order_returns_first_with_signed_links(app, client, shop) -> None:
    _submit(client, shop)
    (rma,) = _returns(app)
    _, page = _form_page(client, lang="en")
    existing = page.index('id="existing"')
    assert existing < page.index("<form")
    link = re.search(r'href="(/acme/returns/r/[^"?]+)[^"]*">' + re.escape(rma.rma_number), page)
    assert link is not None and str(rma.id) not in link[1].rsplit("/", 1)[1][:3]
    assert client.get(link[1]).status_code == 200


def test_status_page_of_a_bare_id_is_a_404(app, client, shop) -> None:
    _submit(client, shop)
    (rma,) = _returns(app)
    assert client.get(f"/acme/returns/r/{rma.id}").status_code == 404
