"""The insights page in a real browser, ja and en, at phone and desktop widths, without serious
accessibility violations; and the PDF rendered to images for a look."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from postpurchase.models import Feedback
from tests.browser import SCREENSHOTS, sign_in_merchant
from tests.insights.conftest import MONDAY
from tests.insights.test_insights_pages import PERIOD, _sign_in, committed  # noqa: F401

PLACES = ("北海道", "東京都", "大阪府", "鹿児島県", "沖縄県")


@pytest.fixture
def busy(brand, add_parcel, add_return, committed):  # noqa: F811
    """Parcels of three carriers to five prefectures, some late, some redelivered, one returned."""
    methods = (("yamato", "takkyubin"), ("sagawa", "hikyaku"), ("japanpost", "yu-pack"))
    for index in range(30):
        carrier, service = methods[index % 3]
        add_parcel(
            brand.brand_id,
            carrier_code=carrier,
            service=service,
            cost=700 + 100 * (index % 3),
            total=4000 + 500 * (index % 5),
            delivered_at=MONDAY + timedelta(days=1 + index % 4),
            promised_date=(MONDAY + timedelta(days=2)).date(),
            destination_region=PLACES[index % 5],
            failed_attempts=index % 4 == 0,
        )
    add_return(brand.brand_id, 1, lines=[("size_too_small", 2)])
    committed(
        Feedback(
            brand_id=brand.brand_id, shipment_id=2, nps_score=4, comment="不在票が入っていなかった"
        ),
        Feedback(brand_id=brand.brand_id, shipment_id=3, nps_score=10, comment="Fast and neat."),
    )
    return brand


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_insights_page_at_phone_and_desktop_widths(
    app, client, browser: Any, live_server: str, busy, shoot: Any, axe: Any, lang: str
) -> None:
    _sign_in(app, client, busy.brand_id)  # creates the user the browser signs in as
    sign_in_merchant(browser, live_server, lang=lang)
    browser.get(
        f"{live_server}/merchant/insights?start={PERIOD['start']}&end={PERIOD['end']}&lang={lang}"
    )
    assert browser.find_element(By.ID, "redelivery-heading")
    assert all(path.stat().st_size > 1000 for path in shoot(f"insights-{lang}"))
    assert axe() == []


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_insights_pdf_renders_to_pages(app, client, busy, lang: str) -> None:
    _sign_in(app, client, busy.brand_id)
    pdf = client.get("/merchant/insights.pdf", query_string={**PERIOD, "lang": lang}).data
    folder = SCREENSHOTS / "test_insights_browser"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"pdf-{lang}"
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-", str(target)], input=pdf, check=True)
    pages = sorted(Path(folder).glob(f"pdf-{lang}-*.png"))
    assert len(pages) >= 2
