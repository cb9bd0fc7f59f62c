"""A brand's look, set once through the settings API, is the same on every customer page and email."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import select

from postpurchase.clock import utcnow
from postpurchase.db import get_db
from postpurchase.lookup import order_link_path
from postpurchase.messaging import operations
from postpurchase.messaging.catalogue import CATALOGUE, Trigger
from postpurchase.messaging.settings import messaging_settings
from postpurchase.models import Brand, Channel, Shipment
from tests.settings.conftest import sign_in
from tests.web.parcel_states import LOGO, LOGO_PNG, install_logo, seed_state

COLOUR = "#f5d90a"  # light: the text on it must be dark


@pytest.fixture
def branded(app: Any, client: Any, make_brand: Any) -> dict[str, Any]:
    """A delivered order of a brand whose colour and (uploaded) logo were set through the API."""
    brand = make_brand("acme", name="Acme Tea")
    install_logo(app, "acme")
    response = client.put(
        "/api/v1/settings",
        json={"branding": {"color": COLOUR, "logo": LOGO, "faq_url": "https://acme.example/faq"}},
        headers={"Authorization": f"Bearer {brand.api_key}"},
    )
    assert response.status_code == 200
    with app.app_context():
        session = get_db(app).session()
        order_id = seed_state(session, brand.brand_id, "delivered_door")
        shipment = session.exec(select(Shipment).where(Shipment.order_id == order_id)).one()
        session.commit()
        shipment_id = shipment.id
        session.close()
    path = order_link_path(app.config["SECRET_KEY"], "acme", brand.brand_id, order_id)
    return {
        "brand_id": brand.brand_id,
        "brand": brand,
        "path": path,
        "shipment_id": shipment_id,
    }


def _assert_branded_page(html: str) -> None:
    assert f"--accent: {COLOUR}; --on-accent: #1b1b1b;" in html
    assert f'<img src="/acme/logo/{LOGO}" alt="Acme Tea">' in html
    assert 'href="https://acme.example/faq"' in html


def test_the_tracking_page_and_the_returns_portal_show_the_brand_set_through_the_api(
    client: Any, branded: dict[str, Any]
) -> None:
    page = client.get(f"{branded['path']}?lang=en").get_data(as_text=True)
    _assert_branded_page(page)
    returns = re.search(r'href="(/acme/returns/order/[\w.-]+)"', page)
    assert returns is not None
    _assert_branded_page(client.get(returns.group(1)).get_data(as_text=True))


def test_the_logo_is_served_publicly_under_the_brand(client: Any, branded: dict[str, Any]) -> None:
    response = client.get(f"/acme/logo/{LOGO}")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data == LOGO_PNG


def test_a_logo_is_not_served_under_another_brand(
    client: Any, make_brand: Any, branded: dict[str, Any]
) -> None:
    make_brand("other")
    assert client.get(f"/other/logo/{LOGO}").status_code == 404
    assert client.get("/acme/logo/..%2f..%2fsecret.png").status_code == 404


@pytest.mark.parametrize("trigger", [t for t in Trigger if t in CATALOGUE])
def test_every_email_shows_the_brand_set_through_the_api(
    app: Any, branded: dict[str, Any], trigger: Trigger
) -> None:
    with app.app_context():
        session = get_db(app).session()
        now = utcnow()
        email = operations.preview(
            session=session,
            messaging=messaging_settings(app),
            brand=session.get(Brand, branded["brand_id"]),
            trigger=trigger,
            locale="ja",
            channel=Channel.email,
            # A delivered parcel has no consumables or return: those two render sample data.
            shipment_id=None
            if trigger in (Trigger.replenishment, Trigger.return_update)
            else branded["shipment_id"],
            today=now.date(),
            now=now,
        )
        session.close()
    base = app.config["BASE_URL"].rstrip("/")
    assert email.html is not None
    assert f'src="{base}/acme/logo/{LOGO}"' in email.html
    assert f'bgcolor="{COLOUR}"' in email.html


def test_the_brands_footer_is_for_customers_not_the_console(
    app: Any, client: Any, branded: dict[str, Any]
) -> None:
    client.put(
        "/api/v1/settings",
        json={"branding": {"footer": "Acme Tea, Shibuya"}},
        headers={"Authorization": f"Bearer {branded['brand'].api_key}"},
    )
    assert "Acme Tea, Shibuya" in client.get(branded["path"]).get_data(as_text=True)
    home = sign_in(app, branded["brand"]).client.get("/merchant/")
    assert home.status_code == 200
    assert "Acme Tea, Shibuya" not in home.get_data(as_text=True)
