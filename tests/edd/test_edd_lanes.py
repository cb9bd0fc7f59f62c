"""International lanes: transit days are learnt and predicted on the destination country's business
days, so a JP→US parcel over US Thanksgiving is neither too slow in the history nor too fast ahead."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from postpurchase.edd.backtest import AsOf, Setting, fit, observations
from postpurchase.edd.calendar import CarrierCalendar
from postpurchase.edd.history import HistoryRow
from postpurchase.edd.model import Route

JP = CarrierCalendar(country="JP")
#: Wednesday before US Thanksgiving (Thursday 27 November 2025), 17:00 in Tokyo.
BEFORE_THANKSGIVING = datetime(2025, 11, 26, 8, tzinfo=UTC)
#: Monday after it, 14:00 in Tokyo: two US business days later (Friday, Monday), three in Japan.
AFTER_THANKSGIVING = datetime(2025, 12, 1, 5, tzinfo=UTC)
SETTING = Setting(calendar=JP, timezone="Asia/Tokyo")


def _row(number: int, country: str) -> HistoryRow:
    return HistoryRow(
        shipment_id=f"p{number}",
        carrier="dhl",
        service="express",
        origin_postal_code="",
        origin_region="TOKYO",
        destination_postal_code="10001",
        destination_region="NY",
        destination_country=country,
        ordered_at=BEFORE_THANKSGIVING - timedelta(hours=6),
        shipped_at=BEFORE_THANKSGIVING,
        delivered_at=AFTER_THANKSGIVING,
        promised_at=None,
    )


def test_transit_to_the_us_is_learnt_in_us_business_days() -> None:
    learnt = observations([_row(1, "US")], AsOf.shipped, SETTING)
    assert learnt.transit.tolist() == [2]


def test_transit_within_japan_is_still_learnt_in_japanese_business_days() -> None:
    learnt = observations([_row(1, "JP")], AsOf.shipped, SETTING)
    assert learnt.transit.tolist() == [3]


def test_a_jp_to_us_parcel_is_predicted_from_us_business_days_learnt_over_thanksgiving() -> None:
    model = fit(
        [_row(n, "US") for n in range(60)],
        setting=SETTING,
        mode=AsOf.shipped,
        now=datetime(2025, 12, 10, tzinfo=UTC),
    )
    route = Route(
        carrier="dhl", service="express", origin="TOKYO", region="NY", postal_prefix="100"
    )
    # Handed over Wednesday 25 November 2026, the day before Thanksgiving: Friday, then Monday.
    estimate = model.estimate(route, date(2026, 11, 25), JP.for_destination("US"))
    assert estimate.predicted_business_days == 2
    assert estimate.predicted_date == date(2026, 11, 30)
