"""The stored customer profile: what it counts, and that events keep it current."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session

from carriers.status import Status
from postpurchase import profiles, signals
from postpurchase.brands import NewBrand
from postpurchase.db import get_db
from postpurchase.messaging.segments import choose_segment
from postpurchase.models import (
    Channel,
    Customer,
    Feedback,
    MessageEvent,
    Order,
    OrderLine,
    OutboxMessage,
    OutboxState,
    ReturnLine,
    ReturnRequest,
    Shipment,
)
from postpurchase.profiles import (
    Profile,
    current_profile,
    current_profiles,
    mark_stale,
    refresh_job,
    refresh_profiles,
    refresh_stale_profiles,
    stale_count,
    stored_profile,
)
from tests.conftest import PINNED_NOW


@pytest.fixture
def s(app: Flask) -> Session:
    with app.app_context():
        session = get_db(app).session()
        yield session
        session.close()


def _customer_with_history(s: Session, brand_id: int) -> tuple[int, int, int]:
    """A customer with two orders (one of tea, one of a T-shirt returned as too small), a late
    parcel with a failed attempt, and an email message opened and clicked."""
    customer = Customer(brand_id=brand_id, external_id="c1", consent={"email": {"marketing": True}})
    s.add(customer)
    s.flush()
    tea = Order(
        brand_id=brand_id,
        external_id="o1",
        number="#1",
        customer_id=customer.id,
        placed_at=PINNED_NOW - timedelta(days=40),
        total_amount=3000,
    )
    shirt = Order(
        brand_id=brand_id,
        external_id="o2",
        number="#2",
        customer_id=customer.id,
        placed_at=PINNED_NOW - timedelta(days=5),
        total_amount=5000,
    )
    s.add_all([tea, shirt])
    s.flush()
    s.add_all(
        [
            OrderLine(
                brand_id=brand_id,
                order_id=tea.id,
                line_key="1",
                sku="TEA",
                category="tea",
                quantity=2,
            ),
            OrderLine(
                brand_id=brand_id,
                order_id=shirt.id,
                line_key="1",
                sku="TEE-S",
                category="apparel",
                variant="S",
            ),
        ]
    )
    rma = ReturnRequest(brand_id=brand_id, order_id=shirt.id, rma_number="R1")
    s.add(rma)
    s.flush()
    s.add(ReturnLine(brand_id=brand_id, return_id=rma.id, sku="TEE-S", reason_code="too_small"))
    parcel = Shipment(
        brand_id=brand_id,
        order_id=tea.id,
        external_id="p1",
        carrier_code="yamato",
        status=Status.delivered,
        promised_date=date(2026, 10, 13),
        delivered_at=PINNED_NOW - timedelta(days=35),
        failed_attempts=1,
    )
    s.add(parcel)
    message = OutboxMessage(
        brand_id=brand_id,
        idempotency_key="k1",
        trigger="delivered",
        channel=Channel.email,
        state=OutboxState.sent,
        customer_id=customer.id,
        order_id=tea.id,
    )
    s.add(message)
    s.flush()
    s.add_all(
        [
            MessageEvent(brand_id=brand_id, message_id=message.id, kind="open"),
            MessageEvent(brand_id=brand_id, message_id=message.id, kind="click", url="https://x"),
        ]
    )
    s.flush()
    return customer.id, tea.id, shirt.id


def test_profile_holds_orders_spend_categories_sizes_returns_deliveries_and_engagement(
    s: Session, brand: NewBrand
) -> None:
    customer_id, _, _ = _customer_with_history(s, brand.brand_id)
    refresh_profiles(session=s, brand_id=brand.brand_id, customer_ids=[customer_id], now=PINNED_NOW)
    p = stored_profile(session=s, brand_id=brand.brand_id, customer_id=customer_id)
    assert p is not None
    assert (p.order_count, p.lifetime_spend, p.units) == (2, 8000, 3)
    assert (p.categories, p.sizes) == ({"apparel": 1, "tea": 2}, {"apparel": "S"})
    assert (p.returns, p.returned_units, p.return_reasons) == (1, 1, {"too_small": 1})
    assert (p.late_deliveries, p.failed_attempts, p.parcel) == (1, 1, "delivered")
    assert (p.messages, p.opens, p.clicks, p.preferred_channel) == (1, 1, 1, "email")
    assert p.consent == {"email": {"marketing": True}}


def _answer(
    s: Session, brand_id: int, order_id: int, score: int, comment: str | None = None
) -> None:
    """Save an NPS answer to the order as the feedback page does (the signal included)."""
    s.add(Feedback(brand_id=brand_id, order_id=order_id, nps_score=score, comment=comment))
    signals.feedback_saved.send(
        brand_id, session=s, order_id=order_id, shipment_id=None, now=PINNED_NOW
    )


def test_a_saved_answer_marks_the_profile_stale_when_the_change_commits_and_the_job_stores_it(
    app: Flask, s: Session, brand: NewBrand
) -> None:
    customer_id, tea_id, _ = _customer_with_history(s, brand.brand_id)
    _answer(s, brand.brand_id, tea_id, 4, "遅かった")
    assert stale_count(s) == 0
    s.commit()
    # The unit of work only marked it; a read computes the profile as the rows say now.
    assert stored_profile(session=s, brand_id=brand.brand_id, customer_id=customer_id) is None
    assert stale_count(s) == 1
    current = current_profile(
        session=s, brand_id=brand.brand_id, customer_id=customer_id, now=PINNED_NOW
    )
    assert current is not None
    assert (current.nps_answers, current.nps_last, current.comments) == (1, 4, 1)
    s.rollback()  # what the read computed was not stored

    assert refresh_job(app) == 1
    s.expire_all()
    p = stored_profile(session=s, brand_id=brand.brand_id, customer_id=customer_id)
    assert p is not None
    assert (p.nps_answers, p.nps_last, p.comments) == (1, 4, 1)
    assert stale_count(s) == 0
    assert refresh_job(app) == 0


def test_a_stored_profile_that_is_marked_stale_is_computed_afresh_when_read(
    s: Session, brand: NewBrand
) -> None:
    customer_id, tea_id, _ = _customer_with_history(s, brand.brand_id)
    refresh_profiles(session=s, brand_id=brand.brand_id, customer_ids=[customer_id], now=PINNED_NOW)
    s.commit()
    _answer(s, brand.brand_id, tea_id, 9)
    s.commit()
    stored = stored_profile(session=s, brand_id=brand.brand_id, customer_id=customer_id)
    assert stored is not None and stored.nps_answers == 0
    current = current_profile(
        session=s, brand_id=brand.brand_id, customer_id=customer_id, now=PINNED_NOW
    )
    assert current is not None and (current.nps_answers, current.nps_last) == (1, 9)
    assert [
        p.nps_last for p in current_profiles(session=s, brand_id=brand.brand_id, now=PINNED_NOW)
    ] == [9]


def test_the_brands_profiles_include_a_marked_customer_with_no_stored_profile_yet(
    s: Session, brand: NewBrand
) -> None:
    customer_id, _, _ = _customer_with_history(s, brand.brand_id)
    mark_stale(session=s, brand_id=brand.brand_id, customer_ids=[customer_id], now=PINNED_NOW)
    s.commit()
    found = current_profiles(session=s, brand_id=brand.brand_id, now=PINNED_NOW)
    assert [(p.customer_id, p.order_count) for p in found] == [(customer_id, 2)]
    assert stored_profile(session=s, brand_id=brand.brand_id, customer_id=customer_id) is None


def test_no_mark_is_kept_for_a_customer_that_does_not_exist(s: Session, brand: NewBrand) -> None:
    """A customer created by an event whose savepoint was rolled back still has its id in the
    unit of work's pending marks; PostgreSQL would refuse the mark (foreign key)."""
    customer_id, _, _ = _customer_with_history(s, brand.brand_id)
    mark_stale(
        session=s, brand_id=brand.brand_id, customer_ids=[customer_id, 999_999], now=PINNED_NOW
    )
    s.commit()
    assert stale_count(s) == 1


def test_a_mark_raised_while_a_refresh_reads_stays_for_the_next_refresh(
    s: Session, brand: NewBrand, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another unit of work commits a change (and marks the profile again) after the refresh read
    the customer's rows: clearing the mark would leave the stored profile behind that change."""
    customer_id, _, _ = _customer_with_history(s, brand.brand_id)
    mark_stale(session=s, brand_id=brand.brand_id, customer_ids=[customer_id], now=PINNED_NOW)
    recompute = profiles._recompute

    def meanwhile(**kwargs: Any) -> Any:
        computed = recompute(**kwargs)
        mark_stale(session=s, brand_id=brand.brand_id, customer_ids=[customer_id], now=PINNED_NOW)
        return computed

    monkeypatch.setattr(profiles, "_recompute", meanwhile)
    assert refresh_stale_profiles(session=s, now=PINNED_NOW) == 1
    assert stale_count(s) == 1
    monkeypatch.setattr(profiles, "_recompute", recompute)
    assert refresh_stale_profiles(session=s, now=PINNED_NOW) == 1
    assert stale_count(s) == 0


def test_a_parcel_status_change_updates_the_newest_parcel_situation(
    s: Session, brand: NewBrand
) -> None:
    customer_id, _, shirt_id = _customer_with_history(s, brand.brand_id)
    parcel = Shipment(
        brand_id=brand.brand_id,
        order_id=shirt_id,
        external_id="p2",
        carrier_code="yamato",
        status=Status.attempt_fail,
    )
    s.add(parcel)
    s.flush()
    signals.shipment_status_changed.send(
        parcel.id,
        session=s,
        brand_id=brand.brand_id,
        previous=Status.in_transit,
        current=Status.attempt_fail,
        now=PINNED_NOW,
    )
    s.commit()
    assert refresh_stale_profiles(session=s, now=PINNED_NOW) == 1
    p = stored_profile(session=s, brand_id=brand.brand_id, customer_id=customer_id)
    assert p is not None and p.parcel == "problem"


def _profile(**changes) -> Profile:
    values = {
        "order_count": 3,
        "lifetime_spend": 9000,
        "region": None,
        "categories": frozenset({"tea"}),
        "channel": "online",
        "vip_tier": None,
        "language": "ja",
        "past_return": False,
        "past_exception": False,
        "persona": "p2",
        "parcel": "delayed",
        "stock": "in_stock",
    }
    return Profile(**{**values, **changes})


RULES = [
    {"name": "late-tea-fans", "when": {"micro_segment": "p2/delayed/*"}, "variant": "sorry"},
    {"name": "p1", "when": {"persona": ["p1"]}, "variant": "p1"},
]


def test_a_rule_targets_a_micro_segment_with_a_wildcard() -> None:
    assert choose_segment(RULES, _profile(), "delayed").variant == "sorry"
    assert choose_segment(RULES, _profile(parcel="in_transit"), "delayed").variant is None


def test_a_rule_targets_a_persona_by_name() -> None:
    assert choose_segment(RULES, _profile(persona="p1"), "delayed").variant == "p1"
    assert choose_segment(RULES, _profile(persona=None), "delayed").rules == ()
