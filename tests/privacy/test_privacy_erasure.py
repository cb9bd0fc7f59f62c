"""Erasing one customer: their personal data goes from every table, the brand's figures stay."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from privacy_helpers import EMAIL, NAME, PHONE, brand_values, where_mentioned
from sqlmodel import select

from postpurchase.clock import utcnow
from postpurchase.insights.queries import report
from postpurchase.models import (
    Erasure,
    InboxEvent,
    InboxState,
    Order,
    OutboxMessage,
    OutboxState,
    Shipment,
)
from postpurchase.privacy.customers import ERASED, erase_customer

NEEDLES = (EMAIL, PHONE, NAME)
NOVEMBER = {"start": date(2026, 11, 1), "end": date(2026, 11, 30)}


@pytest.fixture
def acme(brand, tell_story):
    tell_story(brand)
    return brand


def test_the_story_stores_the_customer_in_many_places(db, acme) -> None:
    """The erasure tests below would prove nothing if the data were not there to begin with."""
    found = where_mentioned(db, acme.brand_id, NEEDLES)
    assert {
        "customer.email",
        "order.shipping_name",
        "outboxmessage.body_text",
        "inboxevent.raw_body",
        "feedback.comment",
        "suppression.address",
        "carrierresponse.payload",
    } <= found


def test_erasure_leaves_no_email_phone_or_name_in_any_table_of_the_brand(db, acme) -> None:
    erase_customer(session=db, brand_id=acme.brand_id, email=EMAIL, now=utcnow())
    db.commit()
    assert where_mentioned(db, acme.brand_id, NEEDLES) == set()


def test_erasure_by_customer_id_leaves_no_personal_data_either(db, brand, tell_story) -> None:
    customer_id = tell_story(brand)
    erase_customer(session=db, brand_id=brand.brand_id, customer_id=customer_id, now=utcnow())
    db.commit()
    assert where_mentioned(db, brand.brand_id, NEEDLES) == set()


def test_erasure_finds_the_email_whatever_its_case(db, acme) -> None:
    erase_customer(session=db, brand_id=acme.brand_id, email=EMAIL.upper(), now=utcnow())
    db.commit()
    assert where_mentioned(db, acme.brand_id, NEEDLES) == set()


def test_erasure_leaves_insights_figures_unchanged(db, acme) -> None:
    before = report(session=db, brand_id=acme.brand_id, **NOVEMBER)
    assert before.methods and before.reasons  # something to compare
    erase_customer(session=db, brand_id=acme.brand_id, email=EMAIL, now=utcnow())
    db.commit()
    db.expire_all()
    after = report(session=db, brand_id=acme.brand_id, **NOVEMBER)
    # The figures stay; the erased comment's words do not (checked by the erasure tests).
    # The VoC block quotes the comments, which erasure blanks by design.
    assert replace(after, comments=[], voice=None) == replace(before, comments=[], voice=None)


def test_erasure_keeps_the_postal_area_that_delivery_dates_are_learnt_from(db, acme) -> None:
    erase_customer(session=db, brand_id=acme.brand_id, email=EMAIL, now=utcnow())
    db.commit()
    order = db.exec(select(Order).where(Order.brand_id == acme.brand_id)).one()
    parcels = db.exec(select(Shipment).where(Shipment.brand_id == acme.brand_id)).all()
    assert (order.shipping_name, order.shipping_postal_code, order.shipping_region) == (
        ERASED,
        "150",
        "東京都",
    )
    assert {(p.destination_postal_code, p.destination_region) for p in parcels} == {
        ("150", "東京都")
    }


def test_another_brands_customer_with_the_same_email_is_untouched(
    db, acme, make_brand, tell_story
) -> None:
    other = make_brand("other")
    tell_story(other)
    before = sorted(map(repr, brand_values(db, other.brand_id)))
    erase_customer(session=db, brand_id=acme.brand_id, email=EMAIL, now=utcnow())
    db.commit()
    db.expire_all()
    assert sorted(map(repr, brand_values(db, other.brand_id))) == before


def test_erasure_is_recorded_with_a_reference_and_no_personal_data(db, acme) -> None:
    result = erase_customer(session=db, brand_id=acme.brand_id, email=EMAIL, now=utcnow())
    db.commit()
    erasure = db.exec(select(Erasure)).one()
    assert (erasure.brand_id, erasure.reference, erasure.erased_at) == (
        acme.brand_id,
        result.reference,
        utcnow(),
    )
    assert erasure.counts["order"] == 1 and EMAIL not in repr(erasure)


def test_erasing_again_by_customer_id_keeps_the_first_reference(db, brand, tell_story) -> None:
    customer_id = tell_story(brand)
    first = erase_customer(
        session=db, brand_id=brand.brand_id, customer_id=customer_id, now=utcnow()
    )
    again = erase_customer(
        session=db, brand_id=brand.brand_id, customer_id=customer_id, now=utcnow()
    )
    db.commit()
    assert (again.reference, again.repeated) == (first.reference, True)
    assert len(db.exec(select(Erasure)).all()) == 1


def test_erasing_again_by_email_finds_nothing(db, acme) -> None:
    erase_customer(session=db, brand_id=acme.brand_id, email=EMAIL, now=utcnow())
    db.commit()
    assert (
        erase_customer(session=db, brand_id=acme.brand_id, email=EMAIL, now=utcnow()).reference
        is None
    )


def test_messages_not_yet_sent_to_an_erased_customer_are_never_sent(db, acme) -> None:
    erase_customer(session=db, brand_id=acme.brand_id, email=EMAIL, now=utcnow())
    db.commit()
    message = db.exec(select(OutboxMessage).where(OutboxMessage.brand_id == acme.brand_id)).first()
    assert message.state == OutboxState.suppressed


def test_an_unprocessed_event_about_an_erased_customer_is_set_aside(db, acme, post_event) -> None:
    from postpurchase.intake.examples import EXAMPLES
    from postpurchase.intake.schemas import EventType

    late = {**EXAMPLES[EventType.order_updated], "id": "evt-late"}
    assert post_event(late, as_brand=acme).status_code == 202
    erase_customer(session=db, brand_id=acme.brand_id, email=EMAIL, now=utcnow())
    db.commit()
    event = db.exec(select(InboxEvent).where(InboxEvent.external_id == "evt-late")).one()
    assert (event.state, event.raw_body) == (InboxState.ignored, b"")


def test_an_unknown_email_erases_nothing(db, acme) -> None:
    result = erase_customer(
        session=db, brand_id=acme.brand_id, email="nobody@example.jp", now=utcnow()
    )
    assert (result.reference, result.counts) == (None, {})
    assert where_mentioned(db, acme.brand_id, (EMAIL,))
