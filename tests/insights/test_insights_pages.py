"""The merchant insights page, CSV and PDF: signed-in merchants only, their own brand, ja and en."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import date, timedelta

import pytest

from postpurchase.db import get_db
from postpurchase.models import Brand, Feedback
from postpurchase.models.enums import TimeSlot
from postpurchase.web.merchant import add_merchant_user
from tests.insights.conftest import MONDAY

PERIOD = {"start": "2026-11-01", "end": "2026-11-30"}


def _sign_in(app, client, brand_id: int, email: str = "ops@acme.example") -> None:
    with app.app_context():
        s = get_db(app).session()
        add_merchant_user(session=s, brand_id=brand_id, email=email, password="pw")
        s.commit()
        s.close()
    token = (
        re.search(rb'name="csrf_token" value="([^"]+)"', client.get("/merchant/login").data)
        .group(1)
        .decode()
    )
    client.post("/merchant/login", data={"csrf_token": token, "email": email, "password": "pw"})


@pytest.fixture
def shipped(brand, add_parcel):
    """Two yamato parcels (¥700 and ¥900, 1 and 3 days, one on time of two) and one sagawa parcel in transit."""
    add_parcel(
        brand.brand_id,
        cost=700,
        total=4000,
        delivered_at=MONDAY + timedelta(days=1),
        promised_date=(MONDAY + timedelta(days=2)).date(),
        destination_region="東京都",
    )
    add_parcel(
        brand.brand_id,
        cost=900,
        total=8000,
        delivered_at=MONDAY + timedelta(days=3),
        promised_date=(MONDAY + timedelta(days=2)).date(),
        destination_region="大阪府",
    )
    add_parcel(brand.brand_id, carrier_code="sagawa", cost=1200)
    return brand


@pytest.mark.parametrize(
    "path", ["/merchant/insights", "/merchant/insights.csv", "/merchant/insights.pdf"]
)
def test_insights_need_a_signed_in_merchant(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 302 and "/merchant/login" in response.headers["Location"]


def _row(page: str, table: str, group: dict) -> str:
    body = re.search(rf'<table id="{table}-table">(.*?)</table>', page, re.S).group(1)
    for key, cells in re.findall(r'<tr data-group="([^"]*)">(.*?)</tr>', body, re.S):
        if json.loads(html.unescape(key)) == group:
            return cells
    raise AssertionError(f"no row {group} in {table}")


@pytest.fixture
def committed(app, committed):
    """The package's ``committed``, then the brand's figures rollup rebuilt (rows added here skip its signals)."""
    from postpurchase.clock import utcnow
    from postpurchase.insights.figures import refresh_rollup

    def commit(*rows) -> None:
        committed(*rows)
        with app.app_context():
            s = get_db(app).session()
            for brand_id in {getattr(row, "brand_id", None) for row in rows} - {None}:
                refresh_rollup(session=s, brand_id=brand_id, now=utcnow())
            s.commit()
            s.close()

    return commit


def test_page_names_carriers_and_services_as_sold_in_japanese(app, client, shipped) -> None:
    _sign_in(app, client, shipped.brand_id)
    page = client.get("/merchant/insights", query_string={**PERIOD, "lang": "ja"}).get_data(
        as_text=True
    )
    row = _row(page, "methods", {"carrier": "yamato", "service": "standard"})
    assert "ヤマト運輸" in row and "￥800" in row and "￥6,000" in row
    assert "配送インサイト" in page and "東京都" in page


def test_page_shows_the_figures_in_english(app, client, shipped) -> None:
    _sign_in(app, client, shipped.brand_id)
    page = client.get("/merchant/insights", query_string={**PERIOD, "lang": "en"}).get_data(
        as_text=True
    )
    row = _row(page, "speed", {"carrier": "yamato", "service": "standard"})
    assert "2 days" in row and "50%" in row
    assert "Delivery insights" in page and "<script" not in page


def test_regions_are_listed_in_jis_order(app, client, shipped) -> None:
    _sign_in(app, client, shipped.brand_id)
    page = client.get("/merchant/insights", query_string=PERIOD).get_data(as_text=True)
    table = re.search(r'<table id="regions-table">.*?</table>', page, re.S).group(0)
    assert table.index("東京都") < table.index("大阪府")


def test_a_table_sorts_by_the_figure_asked_for(app, client, shipped) -> None:
    _sign_in(app, client, shipped.brand_id)
    page = client.get(
        "/merchant/insights", query_string={**PERIOD, "sort": "-redelivery_rate"}
    ).get_data(as_text=True)
    assert 'aria-sort="descending"' in page


def test_an_unknown_sort_is_a_400_naming_it(app, client, shipped) -> None:
    _sign_in(app, client, shipped.brand_id)
    response = client.get("/merchant/insights", query_string={**PERIOD, "sort": "colour"})
    assert response.status_code == 400 and "sort" in response.get_data(as_text=True)


def test_a_figure_links_to_the_console_list_of_its_parcels(app, client, shipped) -> None:
    _sign_in(app, client, shipped.brand_id)
    page = client.get("/merchant/insights", query_string=PERIOD).get_data(as_text=True)
    link = html.unescape(
        re.search(
            r'<tr data-group="[^"]*yamato[^"]*">\s*<th scope="row"><a href="([^"]+)"', page
        ).group(1)
    )
    listing = client.get(link).get_data(as_text=True)
    assert link.startswith("/merchant/shipments?") and "ordered_from=2026-11-01" in link
    assert listing.count("<tr") - 1 == 2  # the two yamato parcels, not sagawa's


def test_page_csv_and_pdf_show_the_api_figures(app, client, shipped, committed) -> None:
    """The same period's figures on the page, in the CSV and in the PDF are those of the API."""
    import subprocess

    committed(Feedback(brand_id=shipped.brand_id, shipment_id=1, nps_score=10, comment="早い"))
    api = client.get(
        "/api/v1/insights/shipments",
        query_string={"from": PERIOD["start"], "to": PERIOD["end"], "group_by": "carrier,service"},
        headers={"Authorization": f"Bearer {shipped.api_key}"},
    ).get_json()
    _sign_in(app, client, shipped.brand_id)
    page = client.get("/merchant/insights", query_string={**PERIOD, "lang": "en"}).get_data(
        as_text=True
    )
    lines = list(
        csv.DictReader(
            io.StringIO(
                client.get("/merchant/insights.csv", query_string=PERIOD).get_data(as_text=True)
            )
        )
    )
    pdf = client.get("/merchant/insights.pdf", query_string={**PERIOD, "lang": "en"}).data
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    from postpurchase.insights.export import Words

    words = Words("en", "JPY")
    for row in api["rows"]:
        line = next(
            x for x in lines if x["table"] == "methods" and x["carrier"] == row["group"]["carrier"]
        )
        shown = _row(page, "methods", row["group"])
        for name in ("shipments", "cost_avg", "order_to_delivery_days_median", "on_time_share"):
            assert line[name] == ("" if row[name] is None else str(row[name]))
        for name in ("shipments", "cost_avg", "order_value_avg", "return_rate"):
            assert words.figure(name, row[name]) in shown
            assert words.figure(name, row[name]) in text


def test_page_defaults_to_the_last_30_days(app, client, brand) -> None:
    _sign_in(app, client, brand.brand_id)
    page = client.get("/merchant/insights").get_data(as_text=True)
    start = re.search(r'name="start" value="([\d-]+)"', page).group(1)
    end = re.search(r'name="end" value="([\d-]+)"', page).group(1)
    assert (date.fromisoformat(end) - date.fromisoformat(start)).days == 29


@pytest.mark.parametrize(
    "query",
    [
        {"start": "yesterday"},
        {"start": "2026-11-30", "end": "2026-11-01"},
        {"start": "2024-01-01", "end": "2026-11-01"},
    ],
)
def test_a_bad_period_is_a_400(app, client, brand, query) -> None:
    _sign_in(app, client, brand.brand_id)
    assert client.get("/merchant/insights", query_string=query).status_code == 400


@pytest.mark.parametrize(
    ("query", "field"),
    [({"end": "9999-12-31"}, "end"), ({"start": "0001-01-01", "end": "0001-01-02"}, "start")],
)
def test_a_date_at_the_edge_of_the_calendar_is_a_400_naming_it(
    app, client, brand, query, field
) -> None:
    _sign_in(app, client, brand.brand_id)
    for path in ("/merchant/insights", "/merchant/insights.pdf"):
        response = client.get(path, query_string=query)
        assert response.status_code == 400 and f"{field}: must be between" in response.get_data(
            as_text=True
        )


def test_page_shows_only_the_merchants_own_brand(
    app, client, shipped, make_brand, add_parcel
) -> None:
    other = make_brand("other")
    add_parcel(other.brand_id, carrier_code="japanpost", destination_region="北海道")
    _sign_in(app, client, other.brand_id, email="ops@other.example")
    page = client.get("/merchant/insights", query_string=PERIOD).get_data(as_text=True)
    assert "japanpost" in page and "yamato" not in page and "東京都" not in page


def test_voice_of_the_customer_shows_comments_with_their_order(
    app, client, shipped, committed
) -> None:
    committed(
        Feedback(
            brand_id=shipped.brand_id, shipment_id=1, nps_score=3, comment="箱が潰れていました"
        )
    )
    _sign_in(app, client, shipped.brand_id)
    page = client.get("/merchant/insights", query_string={**PERIOD, "lang": "ja"}).get_data(
        as_text=True
    )
    voice = page[page.index('id="voice-heading"') :]
    assert "箱が潰れていました" in voice and "#1" in voice and "/merchant/shipments/1" in voice


def test_merchant_home_links_to_insights(app, client, brand) -> None:
    _sign_in(app, client, brand.brand_id)
    assert 'href="/merchant/insights"' in client.get("/merchant/").get_data(as_text=True)


def test_pdf_is_a_pdf(app, client, shipped) -> None:
    _sign_in(app, client, shipped.brand_id)
    response = client.get("/merchant/insights.pdf", query_string={**PERIOD, "lang": "ja"})
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")


@pytest.fixture
def returned(shipped, add_parcel, add_return):
    """Three units back because too small, one damaged."""
    add_return(
        shipped.brand_id,
        add_parcel(shipped.brand_id),
        lines=[("size_too_small", 3), ("damaged", 1)],
    )
    return shipped


def test_page_shows_return_reasons_with_their_japanese_labels(app, client, returned) -> None:
    _sign_in(app, client, returned.brand_id)
    page = client.get("/merchant/insights", query_string={**PERIOD, "lang": "ja"}).get_data(
        as_text=True
    )
    row = re.search(r'<tr data-reason="size_too_small">(.*?)</tr>', page, re.S).group(1)
    assert "サイズが小さい" in row and ">3<" in row and "75%" in row


def test_page_charts_return_reasons_in_english(app, client, returned) -> None:
    _sign_in(app, client, returned.brand_id)
    page = client.get("/merchant/insights", query_string={**PERIOD, "lang": "en"}).get_data(
        as_text=True
    )
    svg = re.search(
        r'<svg role="img"[^>]*>\s*<title id="[^"]+">Returned units by reason</title>.*?</svg>',
        page,
        re.S,
    ).group(0)
    assert "Too small: 3 (75%)" in svg and "Arrived damaged: 1 (25%)" in svg


def test_return_reasons_use_the_brands_own_labels(
    app, client, make_brand, add_parcel, add_return
) -> None:
    brand = make_brand(
        settings={"returns": {"reasons": {"fit": {"ja": "合わない", "en": "Did not fit"}}}}
    )
    add_return(brand.brand_id, add_parcel(brand.brand_id), lines=[("fit", 2)])
    _sign_in(app, client, brand.brand_id)
    page = client.get("/merchant/insights", query_string={**PERIOD, "lang": "en"}).get_data(
        as_text=True
    )
    assert "Did not fit" in re.search(r'<tr data-reason="fit">(.*?)</tr>', page, re.S).group(1)


def test_page_says_when_no_return_was_requested(app, client, shipped) -> None:
    _sign_in(app, client, shipped.brand_id)
    page = client.get("/merchant/insights", query_string={**PERIOD, "lang": "en"}).get_data(
        as_text=True
    )
    assert "No returns were requested for this period's orders." in page


def test_pdf_html_has_the_return_reasons(app, returned) -> None:
    from flask_babel import force_locale

    from postpurchase.insights import queries
    from postpurchase.insights.web import render_report
    from postpurchase.models import Brand

    with app.test_request_context(), force_locale("ja"):
        s = get_db(app).session()
        brand = s.get(Brand, returned.brand_id)
        report = queries.report(
            session=s, brand_id=brand.id, start=date(2026, 11, 1), end=date(2026, 11, 30)
        )
        html = render_report("pdf/insights.html", brand, report)
        s.close()
    assert "サイズが小さい" in html and "破損・汚れがある" in html and "<svg" in html


def test_redelivery_by_time_slot_shows_the_brands_reference_rate(
    app, client, brand, add_parcel
) -> None:
    with app.app_context():
        s = get_db(app).session()
        row = s.get(Brand, brand.brand_id)
        row.settings = {**(row.settings or {}), "insights": {"redelivery_reference": 0.08}}
        s.commit()
        s.close()
    add_parcel(
        brand.brand_id,
        delivered_at=MONDAY + timedelta(days=1),
        time_slot=TimeSlot.h19_21,
        failed_attempts=1,
    )
    _sign_in(app, client, brand.brand_id)
    page = client.get("/merchant/insights", query_string={**PERIOD, "lang": "ja"}).get_data(
        as_text=True
    )
    assert "19時〜21時" in _row(page, "slots", {"time_slot": "19-21"})
    assert "再配達率の基準値：8%（全荷物：100%）" in page


def _yamato_shipments(client) -> str:
    lines = csv.DictReader(
        io.StringIO(
            client.get("/merchant/insights.csv", query_string=PERIOD).get_data(as_text=True)
        )
    )
    return next(
        x["shipments"] for x in lines if x["table"] == "methods" and x["carrier"] == "yamato"
    )


def test_a_report_is_reused_for_a_minute_and_the_page_says_when_it_was_computed(
    app, client, shipped, add_parcel, clock
) -> None:
    from postpurchase.i18n import format_local_time

    _sign_in(app, client, shipped.brand_id)
    computed = clock.now
    assert _yamato_shipments(client) == "2"
    add_parcel(shipped.brand_id, destination_region="京都府")

    clock.advance(seconds=59)
    page = client.get("/merchant/insights", query_string={**PERIOD, "lang": "en"}).get_data(
        as_text=True
    )
    assert f"Generated {format_local_time(computed, 'Asia/Tokyo', 'en')}" in page
    assert "京都府" not in page and _yamato_shipments(client) == "2"

    clock.advance(seconds=2)
    page = client.get("/merchant/insights", query_string={**PERIOD, "lang": "ja"}).get_data(
        as_text=True
    )
    assert f"作成 {format_local_time(clock.now, 'Asia/Tokyo', 'ja')}" in page
    assert "京都府" in page and _yamato_shipments(client) == "3"


def test_a_kept_report_is_only_its_own_brands(app, client, shipped, make_brand, add_parcel) -> None:
    """Two brands asking for the same period within the minute each get their own figures."""
    other = make_brand("other")
    add_parcel(other.brand_id, carrier_code="japanpost", destination_region="北海道")
    _sign_in(app, client, shipped.brand_id)
    assert "yamato" in client.get("/merchant/insights", query_string=PERIOD).get_data(as_text=True)
    other_client = app.test_client()
    _sign_in(app, other_client, other.brand_id, email="ops@other.example")
    page = other_client.get("/merchant/insights", query_string=PERIOD).get_data(as_text=True)
    assert "japanpost" in page and "yamato" not in page and "東京都" not in page


def test_reuse_seconds_0_computes_every_report(app, client, shipped, add_parcel) -> None:
    from postpurchase.insights.recent import EXTENSION_KEY

    app.config["INSIGHTS_REUSE_SECONDS"] = 0
    app.extensions.pop(EXTENSION_KEY, None)
    _sign_in(app, client, shipped.brand_id)
    assert _yamato_shipments(client) == "2"
    add_parcel(shipped.brand_id)
    assert _yamato_shipments(client) == "3"
