"""Cross-border messages: a customs hold, duties to pay and how, and the DDU notice before arrival."""

from __future__ import annotations

from carriers.status import Status
from postpurchase import signals
from postpurchase.messaging.catalogue import Trigger
from postpurchase.models import DutiesTerms
from tests.messaging.conftest import NOW
from tests.messaging.helpers import messages, rendered


def _status(shop, session, current: Status) -> None:
    shop.shipment.status = current
    session.add(shop.shipment)
    signals.shipment_status_changed.send(
        shop.shipment.id,
        session=session,
        brand_id=shop.brand.id,
        previous=Status.in_transit,
        current=current,
        occurred_at=NOW,
        now=NOW,
    )


def _terms(shop, session, terms: DutiesTerms) -> None:
    shop.order.duties_terms = terms
    session.add(shop.order)
    session.flush()


def _created(shop, session) -> None:
    signals.shipment_created.send(
        shop.brand.id, session=session, shipment_id=shop.shipment.id, now=NOW
    )


def test_duties_due_message_says_to_pay_on_the_carriers_page(make_shop, session) -> None:
    shop = make_shop()
    _status(shop, session, Status.duties_due)
    message = rendered(session, Trigger.duties_due)
    assert message.subject == "関税のお支払いをお願いします"
    assert f"https://track.testpost.example/{shop.shipment.tracking_number}" in message.body_text


def test_customs_hold_message_in_english_warns_a_ddu_customer_of_duties(make_shop, session) -> None:
    shop = make_shop(locale="en")
    _terms(shop, session, DutiesTerms.ddu)
    _status(shop, session, Status.held_at_customs)
    message = rendered(session, Trigger.customs_hold)
    assert message.subject == "Your parcel is at customs"
    assert "the carrier will ask you to pay them before or on delivery" in message.body_text


def test_customs_hold_message_tells_a_ddp_customer_there_is_nothing_to_pay(
    make_shop, session
) -> None:
    shop = make_shop()
    _terms(shop, session, DutiesTerms.ddp)
    _status(shop, session, Status.held_at_customs)
    assert "お支払い済み" in rendered(session, Trigger.customs_hold).body_text


def test_ddu_parcel_hears_before_arrival_that_duties_will_be_collected(make_shop, session) -> None:
    shop = make_shop()
    _terms(shop, session, DutiesTerms.ddu)
    _created(shop, session)
    message = rendered(session, Trigger.duties_notice)
    assert message.subject == "お届けの際に関税のお支払いがあります"
    assert shop.order.number in message.body_text


def test_ddp_parcel_gets_no_duties_notice(make_shop, session) -> None:
    shop = make_shop()
    _terms(shop, session, DutiesTerms.ddp)
    _created(shop, session)
    _status(shop, session, Status.export_cleared)
    assert messages(session, Trigger.duties_notice) == []


def test_duties_notice_is_written_once_across_handover_and_customs_stages(
    make_shop, session
) -> None:
    shop = make_shop()
    _terms(shop, session, DutiesTerms.ddu)
    _created(shop, session)
    _status(shop, session, Status.export_cleared)
    _status(shop, session, Status.import_cleared)
    assert len(messages(session, Trigger.duties_notice)) == 1
