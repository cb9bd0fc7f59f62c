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
