"""The weekly insights email: a PDF of last Monday–Sunday to each brand's addresses, once per week."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from postpurchase.db import get_db
from postpurchase.insights.cli import insights
from postpurchase.insights.weekly import previous_week, send_weekly
from postpurchase.jobs import JOBS
from postpurchase.models import WeeklyReportSent
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


def _last_week_sent(app, brand_id: int) -> str | None:
    with app.app_context():
        s = get_db(app).session()
        mark = s.get(WeeklyReportSent, brand_id)
        s.close()
    return mark.week.isoformat() if mark else None


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
    assert [(s.brand_slug, s.monday) for s in sent] == [("acme", date(2026, 11, 2))]
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
    assert _last_week_sent(app, brand.brand_id) == "2026-11-02"


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
    assert [s.monday for s in send_weekly(app, now=NOW + timedelta(days=7))] == [date(2026, 11, 9)]


def test_brands_without_weekly_addresses_get_nothing(app, make_brand, inbox) -> None:  # noqa: F811
    make_brand()
    assert send_weekly(app, now=NOW) == [] and inbox.messages == []


def test_a_refused_mail_leaves_the_week_for_the_next_run(app, make_brand, inbox) -> None:  # noqa: F811
    brand = make_brand(settings=WEEKLY)
    inbox.reject.update(
        {"ops@acme.example": "550 no such user", "boss@acme.example": "550 no such user"}
    )
    assert send_weekly(app, now=NOW) == []
    assert _last_week_sent(app, brand.brand_id) is None


def test_cli_sends_one_brands_chosen_week_once(app, runner, make_brand, inbox) -> None:  # noqa: F811
    make_brand(settings=WEEKLY)
    make_brand(slug="other", settings=WEEKLY)
    first = runner.invoke(insights, ["send-weekly", "--brand", "acme", "--week", "2026-11-04"])
    assert first.exit_code == 0, first.output
    assert "acme: week of 2026-11-02 sent" in first.output and "sent 1" in first.output
    again = runner.invoke(insights, ["send-weekly", "--brand", "acme", "--week", "2026-11-02"])
    assert "sent 0" in again.output and len(inbox.messages) == 1


def test_the_weekly_job_is_registered(app) -> None:
    assert any(job.id == "insights.weekly" for job in JOBS)
