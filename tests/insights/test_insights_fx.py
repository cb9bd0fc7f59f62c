"""Money across currencies: amounts in other currencies are converted with the brand's ECB rates,
the figures say which rate date they used, and an amount without a rate is reported, not dropped."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from postpurchase.insights.cli import fx, insights
from postpurchase.insights.fx import RatesFileError, RateTable, read_ecb_csv

#: The ECB's daily file layout (``eurofxref.csv``): spaces after commas, a trailing comma.
DAILY = "Date, USD, JPY, BGN, \n30 October 2026, 1.0000, 160.00, N/A, \n"
#: The history file layout (``eurofxref-hist.csv``).
HISTORY = "Date,USD,JPY,\n2026-10-30,1.0000,160.00,\n2026-10-29,1.0100,161.00,\n"


def _page(client, brand) -> dict:
    return client.get(
        "/api/v1/insights/shipments",
        query_string={"from": "2026-11-01", "to": "2026-11-30"},
        headers={"Authorization": f"Bearer {brand.api_key}"},
    ).get_json()


def _load(app, tmp_path: Path, text: str):
    path = tmp_path / "eurofxref.csv"
    path.write_text(text, encoding="utf-8")
    return app.test_cli_runner().invoke(fx, ["import", "--brand", "acme", str(path)])


def test_the_daily_file_reads_as_units_per_euro_skipping_na() -> None:
    assert read_ecb_csv(DAILY) == [
        (date(2026, 10, 30), "USD", 1.0),
        (date(2026, 10, 30), "JPY", 160.0),
    ]


def test_the_history_file_reads_every_day() -> None:
    assert len(read_ecb_csv(HISTORY)) == 4


def test_a_bad_date_names_its_line() -> None:
    with pytest.raises(RatesFileError, match="line 2"):
        read_ecb_csv("Date,USD\n30/10/2026,1.0\n")


def test_conversion_uses_the_latest_rate_on_or_before_the_day_and_says_which() -> None:
    rates = RateTable(read_ecb_csv(HISTORY))
    converted = rates.convert(1000, "USD", "JPY", date(2026, 11, 2))  # $10.00 on a Monday
    assert converted is not None
    assert (converted.amount, converted.rate_date) == (1600, date(2026, 10, 30))


def test_a_rate_older_than_a_week_converts_nothing() -> None:
    assert RateTable(read_ecb_csv(HISTORY)).convert(1000, "USD", "JPY", date(2026, 11, 20)) is None


def test_a_cost_in_another_currency_without_a_rate_is_reported_not_dropped(
    app, brand, client, add_parcel
) -> None:
    add_parcel(brand.brand_id, cost=800)
    add_parcel(brand.brand_id, cost=1000, cost_currency="USD")
    app.test_cli_runner().invoke(insights, ["rebuild", "--brand", "acme"])
    page = _page(client, brand)
    assert (page["unconverted"], page["rate_date"]) == (1, None)
    assert page["rows"][0]["cost_total"] == 800


def test_loaded_rates_convert_the_cost_and_state_the_rate_date(
    app, brand, client, add_parcel, tmp_path
) -> None:
    add_parcel(brand.brand_id, cost=800)
    add_parcel(brand.brand_id, cost=1000, cost_currency="USD")
    result = _load(app, tmp_path, DAILY)
    assert result.exit_code == 0, result.output
    assert "2 rates loaded" in result.output
    page = _page(client, brand)
    assert (page["unconverted"], page["rate_date"]) == (0, "2026-10-30")
    assert page["rows"][0]["cost_total"] == 800 + 1600


def test_a_malformed_rates_file_is_refused_naming_the_line(app, brand, tmp_path) -> None:
    result = _load(app, tmp_path, "Date,USD\n2026-10-30,abc\n")
    assert result.exit_code != 0
    assert "line 2" in result.output


@pytest.fixture
def mixed_currencies(app, brand, add_parcel, tmp_path):
    """A parcel costed in yen, one in dollars (converted at the 30 October rates) and one in euros
    (no rate loaded for it)."""
    add_parcel(brand.brand_id, cost=800)
    add_parcel(brand.brand_id, cost=1000, cost_currency="USD")
    add_parcel(brand.brand_id, cost=500, cost_currency="GBP")
    assert _load(app, tmp_path, DAILY).exit_code == 0
    return brand


def _signed_in(app, client, brand) -> None:
    from tests.insights.test_insights_pages import _sign_in

    _sign_in(app, client, brand.brand_id)


PERIOD = {"start": "2026-11-01", "end": "2026-11-30", "lang": "en"}
RATE_DATE = "Oct 30, 2026"
LEFT_OUT = "1 parcel had an amount in another currency with no rate"


def test_the_page_states_the_rate_date_and_the_amounts_left_out(app, client, mixed_currencies):
    _signed_in(app, client, mixed_currencies)
    page = client.get("/merchant/insights", query_string=PERIOD).get_data(as_text=True)
    note = page[page.index('data-note="currency"') :].split("</p>")[0]
    assert RATE_DATE in note and LEFT_OUT in note


def test_the_pdf_states_the_rate_date_and_the_amounts_left_out(app, client, mixed_currencies):
    import subprocess

    _signed_in(app, client, mixed_currencies)
    pdf = client.get("/merchant/insights.pdf", query_string=PERIOD).data
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    assert RATE_DATE in " ".join(text.split()) and LEFT_OUT in " ".join(text.split())


def test_every_csv_line_states_the_rate_date_and_the_amounts_left_out(
    app, client, mixed_currencies
):
    import csv
    import io

    _signed_in(app, client, mixed_currencies)
    text = client.get("/merchant/insights.csv", query_string=PERIOD).get_data(as_text=True)
    lines = list(csv.DictReader(io.StringIO(text)))
    assert lines and {(line["rate_date"], line["unconverted"]) for line in lines} == {
        ("2026-10-30", "1")
    }


def test_a_period_with_one_currency_says_nothing_about_conversion(app, client, brand, add_parcel):
    add_parcel(brand.brand_id, cost=800)
    _signed_in(app, client, brand)
    page = client.get("/merchant/insights", query_string=PERIOD).get_data(as_text=True)
    assert 'data-note="currency"' not in page
