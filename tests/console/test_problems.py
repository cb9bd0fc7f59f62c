"""Which parcels the exception queue files under which problem (pure classification)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from carriers.status import Status
from postpurchase.console.problems import Problem, Rules, classify, silent_since
from postpurchase.console.queries import rules_for
from postpurchase.edd.calendar import CarrierCalendar
from postpurchase.models import Brand, Shipment

TODAY = date(2026, 11, 20)  # a Friday; Monday 23 November is a holiday in Japan
NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
RULES = Rules(
    calendar=CarrierCalendar(country="JP"),
    timezone="Asia/Tokyo",
    stall_business_days=3,
    lost_business_days=10,
    holding_days=7,
)


def _parcel(**fields: object) -> Shipment:
    values: dict[str, object] = {
        "brand_id": 1,
        "external_id": "s",
        "carrier_code": "yamato",
        "status": Status.in_transit,
        "shipped_at": NOW - timedelta(days=1),
        "last_event_at": NOW - timedelta(hours=3),
    }
    values.update(fields)
    return Shipment(**values)


def _problem(**fields: object) -> Problem | None:
    finding = classify(_parcel(**fields), today=TODAY, rules=RULES)
    return finding.problem if finding else None


def test_a_parcel_moving_on_time_needs_nobody() -> None:
    assert _problem(promised_date=TODAY) is None


def test_a_delivered_parcel_is_never_in_the_queue_even_if_late() -> None:
    assert _problem(status=Status.delivered, promised_date=TODAY - timedelta(days=3)) is None


def test_a_parcel_past_its_promised_date_is_late_from_the_day_after() -> None:
    finding = classify(_parcel(promised_date=TODAY - timedelta(days=2)), today=TODAY, rules=RULES)
    assert finding is not None and finding.problem == Problem.late
    assert finding.age_days(TODAY) == 1


def test_a_failed_attempt_is_filed_as_such_before_lateness() -> None:
    assert (
        _problem(status=Status.attempt_fail, promised_date=TODAY - timedelta(days=1))
        == Problem.failed_attempt
    )


def test_silence_is_counted_in_business_days_not_calendar_days() -> None:
    # Last scan Tuesday 17th: Wed, Thu, Fri are three business days of silence.
    tuesday = datetime(2026, 11, 17, 3, 0, tzinfo=UTC)
    assert _problem(last_event_at=tuesday) == Problem.stalled
    # Last scan Wednesday 18th: two business days only.
    assert _problem(last_event_at=tuesday + timedelta(days=1)) is None


def test_a_long_silence_is_a_suspected_loss() -> None:
    assert _problem(last_event_at=NOW - timedelta(days=20)) == Problem.lost


def test_a_parcel_held_at_a_pickup_point_past_half_its_holding_period_needs_a_reminder() -> None:
    held = {"status": Status.available_for_pickup, "status_changed_at": NOW - timedelta(days=4)}
    assert _problem(**held) == Problem.held
    assert _problem(**{**held, "status_changed_at": NOW - timedelta(days=2)}) is None


def test_a_parcel_going_back_to_the_sender_comes_first() -> None:
    assert _problem(status=Status.returning_to_sender, promised_date=TODAY) == Problem.sent_back


def test_silent_since_is_the_start_of_the_day_after_the_last_quiet_business_day() -> None:
    # Three business days back from Friday 20th: Tue 17th; silent when the last scan is before Wed 18th 00:00 JST.
    assert silent_since(RULES, TODAY, 3) == datetime(2026, 11, 17, 15, 0, tzinfo=UTC)


def test_the_queue_reads_its_thresholds_from_the_brands_settings() -> None:
    brand = Brand(
        slug="acme",
        name="Acme",
        timezone="Asia/Tokyo",
        settings={
            "exceptions": {"stalled_business_days": 5, "lost_business_days": 15},
            "messaging": {"pickup_hold_days": 3},
        },
    )
    rules = rules_for(brand)
    assert (rules.stall_business_days, rules.lost_business_days, rules.holding_days) == (5, 15, 3)


def test_a_parcel_silent_for_less_than_the_brands_stall_days_is_no_problem() -> None:
    patient = replace(RULES, stall_business_days=5)
    parcel = _parcel(last_event_at=NOW - timedelta(days=4))  # Monday: 4 business days ago
    assert classify(parcel, today=TODAY, rules=RULES) is not None
    assert classify(parcel, today=TODAY, rules=patient) is None
