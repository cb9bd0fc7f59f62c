"""The returns queue: filters, counts, paging, bulk actions with per-row results, and inspection forms."""

from __future__ import annotations

import io
import re
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlmodel import select

from postpurchase.models import (
    AuditEntry,
    Brand,
    ExecutionState,
    Order,
    ResolutionExecution,
    ReturnLine,
    ReturnRequest,
    ReturnResolution,
    ReturnState,
)
from postpurchase.models.enums import ConditionGrade
from postpurchase.returns.operations import ReturnError, WantedLine, create_return, transition
from postpurchase.returns.photos import clean_photo, store_photo
from postpurchase.returns.queue import BulkAction, QueueFilters, QueueSort, bulk_act, returns_queue
from postpurchase.web.merchant import add_merchant_user
from tests.returns.conftest import later
from tests.returns.test_returns_merchant import _csrf, signed_in  # noqa: F401  (fixture)


def _open(session, shop, *, days: float = 1, quantity: int = 1, reason: str = "damaged"):
    brand = session.get(Brand, shop.brand_id)
    brand.settings = {"returns": {"auto_approve": False}}
    session.add(brand)
    return create_return(
        session=session,
        brand=brand,
        order=session.get(Order, shop.order_id),
        now=later(days),
        lines=[WantedLine(order_line_id=shop.tee, quantity=quantity, reason_code=reason)],
        resolution=ReturnResolution.refund,
    )


def _bulk(session, shop, ids, action: BulkAction, reason: str | None = None):
    return bulk_act(
        session=session,
        brand_id=shop.brand_id,
        return_ids=ids,
        action=action,
        reason=reason,
        actor="user:ops@acme.example",
        now=later(3),
    )


def test_bulk_approve_does_what_it_can_and_says_which_failed_and_why(session, shop) -> None:
    waiting = _open(session, shop)
    rejected = _open(session, shop, days=1.5)
    transition(
        session=session,
        brand_id=shop.brand_id,
        return_id=rejected.id,
        action="reject",
        now=later(2),
    )
    results = _bulk(session, shop, [waiting.id, rejected.id, 999_999], BulkAction.approve)
    assert [(r.ok, r.code) for r in results] == [
        (True, None),
        (False, "state"),
        (False, "unknown_return"),
    ]
    assert session.get(ReturnRequest, waiting.id).state == ReturnState.label_issued
    assert session.get(ReturnRequest, rejected.id).state == ReturnState.rejected


def test_bulk_action_is_audited_per_row_done(session, shop) -> None:
    first, second = _open(session, shop), _open(session, shop, days=1.5)
    _bulk(session, shop, [first.id, second.id], BulkAction.approve)
    entries = session.exec(select(AuditEntry).where(AuditEntry.action == "return.approve")).all()
    assert sorted(e.subject for e in entries) == sorted([first.rma_number, second.rma_number])


def test_bulk_reject_needs_a_reason_and_keeps_it(session, shop) -> None:
    rma = _open(session, shop)
    with pytest.raises(ReturnError):
        _bulk(session, shop, [rma.id], BulkAction.reject, "  ")
    _bulk(session, shop, [rma.id], BulkAction.reject, "Worn and washed")
    stored = session.get(ReturnRequest, rma.id)
    assert stored.state == ReturnState.rejected
    assert stored.attributes["rejection_reason"] == "Worn and washed"


def test_another_brands_return_is_not_touched_by_bulk(session, shop, make_brand) -> None:
    other = make_brand("other")
    rma = _open(session, shop)
    results = bulk_act(
        session=session,
        brand_id=other.brand_id,
        return_ids=[rma.id],
        action=BulkAction.approve,
        actor="user:x",
        now=later(3),
    )
    assert not results[0].ok
    assert session.get(ReturnRequest, rma.id).state == ReturnState.requested


def _payouts(session, rma_id: int) -> list[ResolutionExecution]:
    return list(
        session.exec(
            select(ResolutionExecution).where(ResolutionExecution.return_id == rma_id)
        ).all()
    )


def test_bulk_pay_queues_one_payout_however_often_it_is_asked(session, shop) -> None:
    rma = _open(session, shop)
    waiting = _open(session, shop, days=1.5)
    _bulk(session, shop, [rma.id], BulkAction.approve)
    _bulk(session, shop, [rma.id], BulkAction.receive)
    results = _bulk(session, shop, [rma.id, waiting.id], BulkAction.pay)
    again = _bulk(session, shop, [rma.id], BulkAction.pay)
    assert [r.ok for r in results] == [True, False]
    assert again[0].ok
    assert [(p.kind.value, p.amount) for p in _payouts(session, rma.id)] == [
        ("refund", rma.refund_amount)
    ]


def test_bulk_pay_of_a_paid_return_is_refused(session, shop) -> None:
    rma = _open(session, shop)
    _bulk(session, shop, [rma.id], BulkAction.approve)
    _bulk(session, shop, [rma.id], BulkAction.receive)
    for row in _payouts(session, rma.id):
        row.state = ExecutionState.done
        session.add(row)
    results = _bulk(session, shop, [rma.id], BulkAction.pay)
    assert (results[0].ok, results[0].code) == (False, "paid")


def test_bulk_pay_retries_a_payout_that_failed_for_good(session, shop) -> None:
    rma = _open(session, shop)
    _bulk(session, shop, [rma.id], BulkAction.approve)
    _bulk(session, shop, [rma.id], BulkAction.receive)
    (row,) = _payouts(session, rma.id)
    row.state, row.attempts = ExecutionState.failed, 8
    session.add(row)
    assert _bulk(session, shop, [rma.id], BulkAction.pay)[0].ok
    assert (row.state, row.attempts) == (ExecutionState.pending, 0)


def test_queue_filters_by_state_and_counts_every_state(session, shop) -> None:
    first, second = _open(session, shop), _open(session, shop, days=1.5)
    _bulk(session, shop, [first.id], BulkAction.approve)
    queue = returns_queue(
        session=session,
        brand_id=shop.brand_id,
        timezone="Asia/Tokyo",
        filters=QueueFilters(state=ReturnState.requested),
    )
    assert [row.rma.id for row in queue.page.rows] == [second.id]
    assert queue.counts[ReturnState.requested] == 1
    assert queue.counts[ReturnState.label_issued] == 1


def test_queue_filters_by_reason_value_and_dates(session, shop) -> None:
    small = _open(session, shop, reason="damaged")
    both = _open(session, shop, days=2, quantity=1, reason="other")

    def ids(filters: QueueFilters) -> list[int]:
        return [
            row.rma.id
            for row in returns_queue(
                session=session, brand_id=shop.brand_id, timezone="Asia/Tokyo", filters=filters
            ).page.rows
        ]

    assert ids(QueueFilters(reason="other")) == [both.id]
    assert ids(QueueFilters(over_value=small.refund_amount)) == []
    assert ids(QueueFilters(over_value=small.refund_amount - 1)) == [both.id, small.id]
    day_of_second = later(2).astimezone(ZoneInfo("Asia/Tokyo")).date()
    assert ids(QueueFilters(start=day_of_second, end=day_of_second)) == [both.id]
    assert ids(QueueFilters(has_photos=True)) == []


def test_queue_pages_by_cursor_without_repeating_rows(session, shop) -> None:
    opened = [_open(session, shop, days=1 + i / 10) for i in range(2)]
    first = returns_queue(
        session=session,
        brand_id=shop.brand_id,
        timezone="Asia/Tokyo",
        filters=QueueFilters(),
        sort=QueueSort.oldest,
        limit=1,
    )
    rest = returns_queue(
        session=session,
        brand_id=shop.brand_id,
        timezone="Asia/Tokyo",
        filters=QueueFilters(),
        sort=QueueSort.oldest,
        cursor=first.page.next_cursor,
        limit=1,
    )
    seen = [row.rma.id for row in first.page.rows + rest.page.rows]
    assert seen == [rma.id for rma in opened]
    assert rest.page.next_cursor is None


# HTTP ------------------------------------------------------------------------------------------


@pytest.fixture
def waiting(shop, write) -> int:
    return write(lambda s: _open(s, shop).id)


def test_queue_page_lists_the_brands_returns_with_counts(signed_in, waiting) -> None:  # noqa: F811
    html = signed_in.get("/merchant/returns/queue/?lang=en").get_data(as_text=True)
    assert "R-1001-" in html
    assert 'data-count="requested"' in html


def test_queue_page_bad_filter_is_a_400_naming_the_field(signed_in, waiting) -> None:  # noqa: F811
    response = signed_in.get("/merchant/returns/queue/?over=lots")
    assert response.status_code == 400
    assert "over" in response.get_data(as_text=True)


def test_bulk_approve_over_http_shows_a_result_per_row(signed_in, waiting, write) -> None:  # noqa: F811
    response = signed_in.post(
        "/merchant/returns/queue/bulk?lang=en",
        data={
            "csrf_token": _csrf(signed_in),
            "action": "approve",
            "return_id": [str(waiting), "999999"],
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 done, 1 not done" in html
    assert write(lambda s: s.get(ReturnRequest, waiting).state) == ReturnState.label_issued


def test_bulk_without_csrf_is_refused(signed_in, waiting, write) -> None:  # noqa: F811
    response = signed_in.post(
        "/merchant/returns/queue/bulk", data={"action": "approve", "return_id": str(waiting)}
    )
    assert response.status_code == 400
    assert write(lambda s: s.get(ReturnRequest, waiting).state) == ReturnState.requested


def test_grade_form_records_the_grade(signed_in, waiting, write, shop) -> None:  # noqa: F811
    def receive(s) -> int:
        transition(
            session=s, brand_id=shop.brand_id, return_id=waiting, action="approve", now=later(2)
        )
        transition(
            session=s, brand_id=shop.brand_id, return_id=waiting, action="receive", now=later(3)
        )
        return s.exec(select(ReturnLine.id).where(ReturnLine.return_id == waiting)).one()

    line_id = write(receive)
    assert 'name="grade"' in signed_in.get("/merchant/returns/queue/").get_data(as_text=True)
    response = signed_in.post(
        f"/merchant/returns/queue/lines/{line_id}/grade",
        data={"csrf_token": _csrf(signed_in), "grade": "B"},
    )
    assert response.status_code == 303
    assert write(lambda s: s.get(ReturnLine, line_id).grade) == ConditionGrade.B


def test_another_brands_merchant_sees_none_and_gets_404_on_inspection(
    client, make_brand, waiting, write, shop
) -> None:
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
    line_id = write(
        lambda s: s.exec(select(ReturnLine.id).where(ReturnLine.return_id == waiting)).one()
    )
    response = client.post(
        f"/merchant/returns/queue/lines/{line_id}/grade",
        data={"csrf_token": _csrf(client), "grade": "A"},
    )
    assert response.status_code == 404
    assert re.search("R-1001-", response.get_data(as_text=True)) is None


def test_queue_rows_show_photo_thumbnails_through_signed_links(
    app,
    signed_in,  # noqa: F811
    waiting,
    write,
) -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    photo = clean_photo("photo", out.getvalue())
    write(
        lambda s: store_photo(
            session=s,
            instance_path=app.instance_path,
            brand_id=s.get(ReturnRequest, waiting).brand_id,
            return_id=waiting,
            order_line_id=None,
            photo=photo,
            now=later(1),
        )
    )
    html = signed_in.get("/merchant/returns/queue/?photos=1").get_data(as_text=True)
    link = re.search(r'<img src="([^"]+)"', html).group(1)
    assert link.startswith("/merchant/returns/photos/")
    assert signed_in.get(link).data == photo.data
