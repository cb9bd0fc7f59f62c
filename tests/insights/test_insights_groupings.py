"""Business days, customer segments, requested time slots and late-delivery complaints."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from carriers.status import Status
from postpurchase import signals
from postpurchase.clock import utcnow
from postpurchase.insights.figures import figures, refresh_rollup
from postpurchase.models import Customer, Feedback, Order, ReturnLine, ReturnRequest, Shipment
from postpurchase.models.enums import ReturnState, TimeSlot
from tests.insights.conftest import MONDAY, NOVEMBER

#: Friday 2026-11-20 10:00 JST; Monday 23 November is a public holiday (勤労感謝の日).
FRIDAY = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def _figures(session, brand_id: int, *group_by: str):
    refresh_rollup(session=session, brand_id=brand_id, now=utcnow())
    return figures(session=session, brand_id=brand_id, group_by=group_by, **NOVEMBER).rows


def _parcel(session, brand_id: int, **fields) -> Shipment:
    order = Order(
        brand_id=brand_id,
        external_id=f"o{fields.get('external_id', 's')}",
        number="#1",
        placed_at=fields.pop("placed_at", MONDAY),
        total_amount=5000,
        customer_id=fields.pop("customer_id", None),
    )
    session.add(order)
    session.flush()
    shipment = Shipment(
        brand_id=brand_id,
        order_id=order.id,
        carrier_code="yamato",
        shipped_at=order.placed_at,
        status=Status.delivered if fields.get("delivered_at") else Status.in_transit,
        **fields,
    )
    session.add(shipment)
    session.flush()
    return shipment


def test_business_days_skip_the_weekend_and_japanese_holidays(session, brand) -> None:
    _parcel(
        session,
        brand.brand_id,
        external_id="s1",
        placed_at=FRIDAY,
        delivered_at=FRIDAY + timedelta(days=4),  # Tuesday
    )
    (row,) = _figures(session, brand.brand_id)
    assert row.order_to_delivery_days_median == 4
    assert row.order_to_delivery_business_days_median == 1
    assert row.transit_business_days_p90 == 1


def test_a_customers_later_order_is_repeat_and_the_first_is_first(session, brand) -> None:
    customer = Customer(brand_id=brand.brand_id, external_id="c1")
    session.add(customer)
    session.flush()
    for index in range(2):
        _parcel(
            session,
            brand.brand_id,
            external_id=f"s{index}",
            placed_at=MONDAY + timedelta(days=index),
            customer_id=customer.id,
        )
    _parcel(session, brand.brand_id, external_id="guest", placed_at=MONDAY + timedelta(days=3))
    rows = _figures(session, brand.brand_id, "segment")
    assert [(row.group["segment"], row.shipments) for row in rows] == [("first", 2), ("repeat", 1)]


def test_redelivery_is_given_per_requested_time_slot(session, brand) -> None:
    delivered = MONDAY + timedelta(days=1)
    _parcel(
        session,
        brand.brand_id,
        external_id="s1",
        delivered_at=delivered,
        time_slot=TimeSlot.h18_20,
        failed_attempts=2,
    )
    _parcel(session, brand.brand_id, external_id="s2", delivered_at=delivered)
    rows = _figures(session, brand.brand_id, "time_slot")
    assert [(row.group["time_slot"], row.redelivery_rate) for row in rows] == [
        ("18-20", 2.0),
        (None, 0.0),
    ]


def test_a_late_return_reason_arriving_after_delivery_counts_against_the_late_parcel(
    session, brand
) -> None:
    promised = date(2026, 11, 3)
    late = _parcel(
        session,
        brand.brand_id,
        external_id="late",
        delivered_at=MONDAY + timedelta(days=3),
        promised_date=promised,
    )
    _parcel(
        session,
        brand.brand_id,
        external_id="timely",
        delivered_at=MONDAY + timedelta(days=1),
        promised_date=promised,
    )
    _figures(session, brand.brand_id)
    request = ReturnRequest(brand_id=brand.brand_id, order_id=late.order_id, rma_number="R1")
    session.add(request)
    session.flush()
    session.add(
        ReturnLine(
            brand_id=brand.brand_id,
            return_id=request.id,
            sku="A",
            quantity=1,
            reason_code="late",
        )
    )
    session.add(Feedback(brand_id=brand.brand_id, order_id=late.order_id, shipment_id=late.id))
    session.flush()
    signals.return_updated.send(
        request.id,
        session=session,
        brand_id=brand.brand_id,
        previous=ReturnState.requested,
        current=ReturnState.approved,
        now=None,
    )
    (row,) = figures(session=session, brand_id=brand.brand_id, **NOVEMBER).rows
    assert (row.late, row.late_complaints, row.late_complaints_late_share) == (1, 1, 1.0)
    assert (row.return_rate_late, row.return_rate_on_time) == (1.0, 0.0)


def test_a_low_score_is_a_complaint_and_splits_the_nps_by_lateness(session, brand) -> None:
    timely = _parcel(
        session,
        brand.brand_id,
        external_id="timely",
        delivered_at=MONDAY + timedelta(days=1),
        promised_date=date(2026, 11, 3),
    )
    session.add(
        Feedback(
            brand_id=brand.brand_id, order_id=timely.order_id, shipment_id=timely.id, nps_score=3
        )
    )
    session.flush()
    (row,) = _figures(session, brand.brand_id)
    assert (row.late_complaints, row.late_complaints_late_share) == (1, 0.0)
    assert (row.nps_on_time, row.nps_late) == (-100.0, None)
