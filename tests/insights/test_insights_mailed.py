"""The mailed insights reports: a PDF of last Monday–Sunday or of last calendar month to each brand's
addresses, once per period."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from postpurchase.db import get_db
from postpurchase.insights.cli import insights
from postpurchase.insights.mailed import previous, previous_week, send_reports
from postpurchase.jobs import JOBS
from postpurchase.models import ReportPeriod, ReportSent
from tests.insights.conftest import MONDAY
from tests.messaging.conftest import inbox, smtp_port  # noqa: F401  (the real aiosmtpd server)

#: Tuesday 10 November 2026, 00:30 JST (still Monday 9th in UTC): last week is 2–8 November.
NOW = datetime(2026, 11, 9, 15, 30, tzinfo=UTC)
WEEKLY = {
    "insights": {"weekly_to": ["ops@acme.example", "boss@acme.example"]},
    "messaging": {"sender": {"name": "Acme", "email": "hello@acme.example"}},
}


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp_port: int) -> dict[str, Any]:  # noqa: F811
    app_config.update({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp_port})
    return app_config


def send_weekly(app, **kwargs: Any) -> list:
    return send_reports(app, ReportPeriod.week, **kwargs)


def send_monthly(app, **kwargs: Any) -> list:
    return send_reports(app, ReportPeriod.month, **kwargs)


def _last_sent(app, brand_id: int, period: ReportPeriod = ReportPeriod.week) -> str | None:
    with app.app_context():
        s = get_db(app).session()
        mark = s.get(ReportSent, (brand_id, period))
        s.close()
    return mark.start.isoformat() if mark else None


def test_last_week_is_the_monday_to_sunday_before_this_week() -> None:
    assert previous_week(date(2026, 11, 10)) == date(2026, 11, 2)
    assert previous_week(date(2026, 11, 15)) == date(2026, 11, 2)
    assert previous_week(date(2026, 11, 16)) == date(2026, 11, 9)


def test_the_pdf_of_last_week_arrives_by_email_in_the_brands_language(
    app,
    make_brand,
    add_parcel,
    inbox,  # noqa: F811
) -> None:
    brand = make_brand(settings=WEEKLY)
    add_parcel(brand.brand_id, delivered_at=MONDAY + timedelta(days=1))
    sent = send_weekly(app, now=NOW)
    assert [(s.brand_slug, s.start) for s in sent] == [("acme", date(2026, 11, 2))]
    [message] = inbox.messages
    assert (
        message["To"] == "ops@acme.example, boss@acme.example"
        and "hello@acme.example" in message["From"]
    )
    assert "配送インサイト" in message["Subject"]
    assert "PDF" in message.get_body(("plain",)).get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "insights-acme-2026-11-02-2026-11-08.pdf"
    assert attachment.get_content().startswith(b"%PDF")
    assert _last_sent(app, brand.brand_id) == "2026-11-02"


def test_an_english_brand_gets_an_english_note(app, make_brand, inbox) -> None:  # noqa: F811
    make_brand(locale="en", settings=WEEKLY)
    send_weekly(app, now=NOW)
    message = inbox.messages[0]
    assert message["Subject"] == "Acme delivery insights, Nov 2, 2026 – Nov 8, 2026"
    assert "are attached as a PDF" in message.get_body(("plain",)).get_content()


def test_a_second_run_for_the_same_week_sends_nothing(app, make_brand, inbox) -> None:  # noqa: F811
    make_brand(settings=WEEKLY)
    assert len(send_weekly(app, now=NOW)) == 1
    assert send_weekly(app, now=NOW + timedelta(days=3)) == []
    assert len(inbox.messages) == 1


def test_the_next_week_is_sent_after_the_last(app, make_brand, inbox) -> None:  # noqa: F811
    make_brand(settings=WEEKLY)
    send_weekly(app, now=NOW)
    assert [s.start for s in send_weekly(app, now=NOW + timedelta(days=7))] == [date(2026, 11, 9)]


def test_brands_without_weekly_addresses_get_nothing(app, make_brand, inbox) -> None:  # noqa: F811
    make_brand()
    assert send_weekly(app, now=NOW) == [] and inbox.messages == []


def test_a_refused_mail_leaves_the_week_for_the_next_run(app, make_brand, inbox) -> None:  # noqa: F811
    brand = make_brand(settings=WEEKLY)
    inbox.reject.update(
        {"ops@acme.example": "550 no such user", "boss@acme.example": "550 no such user"}
    )
    assert send_weekly(app, now=NOW) == []
    assert _last_sent(app, brand.brand_id) is None


def test_cli_sends_one_brands_chosen_week_once(app, runner, make_brand, inbox) -> None:  # noqa: F811
    make_brand(settings=WEEKLY)
    make_brand(slug="other", settings=WEEKLY)
    first = runner.invoke(insights, ["send-weekly", "--brand", "acme", "--week", "2026-11-04"])
    assert first.exit_code == 0, first.output
    assert "acme: week of 2026-11-02 sent" in first.output and "sent 1" in first.output
    again = runner.invoke(insights, ["send-weekly", "--brand", "acme", "--week", "2026-11-02"])
    assert "sent 0" in again.output and len(inbox.messages) == 1


def test_the_reports_job_is_registered(app) -> None:
    assert any(job.id == "insights.reports" for job in JOBS)


# Monthly -----------------------------------------------------------------------------------------

#: 1 December 2026, 09:30 JST: last month is November.
DECEMBER = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
MONTHLY = {
    "insights": {"monthly_to": ["boss@acme.example"]},
    "messaging": {"sender": {"name": "Acme", "email": "hello@acme.example"}},
}


def test_last_month_is_the_calendar_month_before_this_one() -> None:
    assert previous(ReportPeriod.month, date(2026, 12, 1)) == date(2026, 11, 1)
    assert previous(ReportPeriod.month, date(2026, 12, 31)) == date(2026, 11, 1)
    assert previous(ReportPeriod.month, date(2026, 1, 15)) == date(2025, 12, 1)


def test_the_pdf_of_last_month_arrives_at_the_monthly_addresses(
    app,
    make_brand,
    add_parcel,
    inbox,  # noqa: F811
) -> None:
    brand = make_brand(settings=MONTHLY)
    add_parcel(brand.brand_id, delivered_at=MONDAY + timedelta(days=1))
    sent = send_monthly(app, now=DECEMBER)
    assert [(s.brand_slug, s.period, s.start) for s in sent] == [
        ("acme", ReportPeriod.month, date(2026, 11, 1))
    ]
    [message] = inbox.messages
    assert message["To"] == "boss@acme.example"
    assert "月次" in message.get_body(("plain",)).get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "insights-acme-2026-11-01-2026-11-30.pdf"
    assert _last_sent(app, brand.brand_id, ReportPeriod.month) == "2026-11-01"


def test_a_month_is_mailed_once_however_often_the_job_runs(app, make_brand, inbox) -> None:  # noqa: F811
    make_brand(settings=MONTHLY)
    assert len(send_monthly(app, now=DECEMBER)) == 1
    assert send_monthly(app, now=DECEMBER + timedelta(hours=1)) == []
    assert send_monthly(app, now=DECEMBER + timedelta(days=20)) == []
    assert len(inbox.messages) == 1


def test_missed_months_are_caught_up_once_with_the_last_month(app, make_brand, inbox) -> None:  # noqa: F811
    brand = make_brand(settings=MONTHLY)
    send_monthly(app, now=DECEMBER)
    # No worker ran in January and February: on 3 March only February goes out, once.
    march = datetime(2027, 3, 3, 0, 0, tzinfo=UTC)
    assert [s.start for s in send_monthly(app, now=march)] == [date(2027, 2, 1)]
    assert send_monthly(app, now=march + timedelta(hours=1)) == []
    assert _last_sent(app, brand.brand_id, ReportPeriod.month) == "2027-02-01"


def test_weekly_addresses_do_not_get_the_monthly_report(app, make_brand, inbox) -> None:  # noqa: F811
    make_brand(settings=WEEKLY)
    assert send_monthly(app, now=DECEMBER) == [] and inbox.messages == []


def test_the_weekly_and_monthly_marks_are_kept_apart(app, make_brand, inbox) -> None:  # noqa: F811
    make_brand(
        settings={
            **WEEKLY,
            "insights": {"weekly_to": ["a@x.example"], "monthly_to": ["b@x.example"]},
        }
    )
    assert len(send_weekly(app, now=DECEMBER)) == 1
    assert len(send_monthly(app, now=DECEMBER)) == 1
    assert len(inbox.messages) == 2


def test_cli_sends_one_brands_chosen_month_once(app, runner, make_brand, inbox) -> None:  # noqa: F811
    make_brand(settings=MONTHLY)
    first = runner.invoke(insights, ["send-monthly", "--brand", "acme", "--month", "2026-10"])
    assert first.exit_code == 0, first.output
    assert "acme: month of 2026-10-01 sent" in first.output
    again = runner.invoke(insights, ["send-monthly", "--brand", "acme", "--month", "2026-10"])
    assert "sent 0" in again.output and len(inbox.messages) == 1
