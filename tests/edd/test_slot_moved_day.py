"""A requested slot that the parcel cannot make moves its day: the page and the messages show the
moved day, not the old one, and say why in one line."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from sqlmodel import select

from carriers.parsing import JST
from carriers.slots import find_slot
from postpurchase.db import get_db
from postpurchase.edd import service
from postpurchase.edd.calendar import CarrierCalendar
from postpurchase.edd.slots import slot_aware
from postpurchase.lookup import order_link_path
from postpurchase.messaging import context as ctx
from postpurchase.messaging import current_settings
from postpurchase.messaging.config import trigger_settings
from postpurchase.models import Brand, Order, Shipment, TimeSlot
from postpurchase.settings.cli import settings as settings_command
from tests.edd.test_edd_service import acme, parcel  # noqa: F401

# Friday 2026-11-20, 10:00 in Tokyo (the pinned clock): still in transit after the 午前中 cut-off.
LATE_SCAN = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
FRIDAY = date(2026, 11, 20)
TUESDAY = date(2026, 11, 24)  # the next business day: Monday 23rd is a public holiday


def test_a_moved_day_starts_the_window_too() -> None:
    slot = find_slot("yamato", "morning")
    assert slot is not None
    dates, basis = slot_aware(
        (FRIDAY, FRIDAY, date(2026, 11, 21), date(2026, 11, 21)),
        slot=slot,
        arrival=None,
        last_scan=datetime(2026, 11, 20, 10, 0, tzinfo=JST),
        calendar=CarrierCalendar.from_settings("JP", {}),
    )
    assert dates[0] == dates[1] == TUESDAY
    assert basis["moved_from"] == FRIDAY.isoformat()


def test_the_brands_own_cutoff_decides_whether_the_slot_is_made(app, session, parcel):  # noqa: F811
    shipment_id = parcel(time_slot=TimeSlot.morning, last_event_at=LATE_SCAN)
    brand = session.exec(select(Brand)).one()
    brand.settings = {**brand.settings, "edd": {"slot_cutoffs": {"morning": "10:30"}}}
    session.add(brand)
    dates = service.predict_for_shipment(
        session=session, models=service.models_of(app), shipment_id=shipment_id, now=LATE_SCAN
    )
    assert dates is not None and dates[0] == FRIDAY


@pytest.fixture
def moved(app: Any, parcel: Any) -> tuple[int, int]:  # noqa: F811
    """A morning-slot parcel still in transit at 10:00: predicted, so its day moves to Tuesday.

    Returns the brand id and the order id."""
    shipment_id = parcel(time_slot=TimeSlot.morning, last_event_at=LATE_SCAN)
    with app.app_context():
        session = get_db(app).session()
        service.predict_for_shipment(
            session=session, models=service.models_of(app), shipment_id=shipment_id, now=LATE_SCAN
        )
        session.commit()
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None and shipment.predicted_date == TUESDAY
        ids = (shipment.brand_id, shipment.order_id)
        session.close()
    return ids


def _page(app: Any, client: Any, moved: tuple[int, int], locale: str) -> str:
    brand_id, order_id = moved
    path = order_link_path(app.config["SECRET_KEY"], "acme", brand_id, order_id)
    response = client.get(f"{path}?lang={locale}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_tracking_page_shows_the_moved_day_and_why(app, client, moved) -> None:
    page = _page(app, client, moved, "en")
    assert "Arriving Tue, Nov 24, morning (8:00–12:00)" in page
    assert (
        "Moved from Fri, Nov 20: the parcel reaches the delivery office after 07:00, too late "
        "for the morning (8:00–12:00) slot that day." in page
    )


def test_tracking_page_in_japanese_says_why_the_day_moved(app, client, moved) -> None:
    page = _page(app, client, moved, "ja")
    assert "11月24日(火) 午前中" in page
    assert "11月20日(金)から変更" in page and "7:00を過ぎるため" in page


def test_messages_show_the_moved_day_and_why(app, session, moved) -> None:
    brand_id, order_id = moved
    brand = session.get(Brand, brand_id)
    order = session.get(Order, order_id)
    shipment = session.exec(select(Shipment).where(Shipment.order_id == order_id)).one()
    built = ctx.build(
        session=session,
        messaging=current_settings(),
        brand=brand,
        trigger=trigger_settings(brand, "shipped"),
        order=order,
        shipment=shipment,
        customer=None,
        locale="ja",
        now=LATE_SCAN,
    )
    facts = built.context["shipment"]
    assert facts["predicted_day"] == "11月24日(火)"
    assert facts["expected_day"] == "11月24日(火)"
    assert facts["date_note"].startswith("11月20日(金)から変更")


@pytest.mark.browser
@pytest.mark.parametrize("locale", ["ja", "en"])
def test_moved_day_on_the_tracking_page_in_chromium(
    app, browser, live_server, shoot, axe, moved, locale
) -> None:
    brand_id, order_id = moved
    path = order_link_path(app.config["SECRET_KEY"], "acme", brand_id, order_id)
    browser.get(f"{live_server}{path}?lang={locale}")
    headline = browser.find_element("css selector", "h2.headline").text
    assert ("11月24日" if locale == "ja" else "Nov 24") in headline
    details = browser.find_element("css selector", ".details").text
    assert ("11月20日(金)から変更" if locale == "ja" else "Moved from Fri, Nov 20") in details
    shoot(f"slot-moved-{locale}")
    assert axe() == []


def test_a_parcel_that_makes_its_slot_says_nothing_about_a_move(app, client, parcel) -> None:  # noqa: F811
    shipment_id = parcel(time_slot=TimeSlot.h19_21, last_event_at=LATE_SCAN)
    with app.app_context():
        session = get_db(app).session()
        service.predict_for_shipment(
            session=session, models=service.models_of(app), shipment_id=shipment_id, now=LATE_SCAN
        )
        session.commit()
        shipment = session.get(Shipment, shipment_id)
        ids = (shipment.brand_id, shipment.order_id)
        session.close()
    page = _page(app, client, ids, "en")
    assert "Moved from" not in page and "too late for" not in page


def test_a_brand_sets_its_slot_cutoffs_from_the_command_line(app, acme, session) -> None:  # noqa: F811
    result = app.test_cli_runner().invoke(
        settings_command,
        ["set", "--brand", "acme", "edd.slot_cutoffs", '{"morning": "06:30"}'],
    )
    assert result.exit_code == 0, result.output
    session.expire_all()
    brand = session.exec(select(Brand)).one()
    assert service.BrandEdd.of(brand).slot_cutoffs == {"morning": time(6, 30)}


def test_a_cutoff_for_a_slot_no_carrier_offers_is_refused_naming_the_field(app, acme) -> None:  # noqa: F811
    result = app.test_cli_runner().invoke(
        settings_command,
        ["set", "--brand", "acme", "edd.slot_cutoffs", '{"evening": "18:00"}'],
    )
    assert result.exit_code != 0
    assert "edd.slot_cutoffs" in result.output and "evening" in result.output
