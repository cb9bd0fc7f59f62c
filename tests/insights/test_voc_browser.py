"""The VoC page in a real browser, ja and en, at phone and desktop widths, without serious
accessibility violations; and the PDF's digest page rendered to images for a look."""

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
from tests.insights.voc_labels import LABELLED


@pytest.fixture
def talkative(brand, add_parcel, committed):  # noqa: F811
    """Twenty parcels, every third one late, each with a comment of the labelled set over three weeks."""
    for index, (text, _labels) in enumerate(LABELLED[:20]):
        order_id = add_parcel(
            brand.brand_id,
            carrier_code=("yamato", "sagawa")[index % 2],
            delivered_at=MONDAY + timedelta(days=1 + 2 * (index % 3 == 0)),
            promised_date=(MONDAY + timedelta(days=2)).date(),
            failed_attempts=index % 5 == 0,
        )
        committed(
            Feedback(
                brand_id=brand.brand_id,
                order_id=order_id,
                shipment_id=index + 1,
                nps_score=index % 11,
                comment=text,
                created_at=MONDAY + timedelta(days=3 + index),
            )
        )
    return brand


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_voice_page_at_phone_and_desktop_widths(
    app, client, browser: Any, live_server: str, talkative, shoot: Any, axe: Any, lang: str
) -> None:
    _sign_in(app, client, talkative.brand_id)  # creates the user the browser signs in as
    sign_in_merchant(browser, live_server, lang=lang)
    browser.get(
        f"{live_server}/merchant/insights/voice?start={PERIOD['start']}&end={PERIOD['end']}&lang={lang}"
    )
    assert browser.find_element(By.ID, "facts-heading")
    assert all(path.stat().st_size > 1000 for path in shoot(f"voice-{lang}"))
    assert axe() == []


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_pdf_digest_renders(app, client, talkative, lang: str) -> None:
    _sign_in(app, client, talkative.brand_id)
    pdf = client.get("/merchant/insights.pdf", query_string={**PERIOD, "lang": lang}).data
    folder = SCREENSHOTS / "test_voc_browser"
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-r", "60", "-png", "-", str(folder / f"pdf-{lang}")], input=pdf, check=True
    )
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    assert ("お客様のコメント" if lang == "ja" else "Customer comments by topic") in text
    assert sorted(Path(folder).glob(f"pdf-{lang}-*.png"))
