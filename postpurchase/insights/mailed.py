"""The mailed insights reports: last week's (Monday–Sunday) or last calendar month's report as a PDF
to the brand's chosen addresses (``insights.weekly_to``, ``insights.monthly_to``).

The first day of the last period mailed is kept per brand and period in
:class:`~postpurchase.models.ReportSent`: a period at or before it is never mailed again, so the hourly
job and a manual ``postpurchase insights send-weekly|send-monthly`` may both run, and a period missed
while no worker ran is mailed once when one runs again.
Each brand is handled in its own claiming transaction with the brand row locked, so two workers
never mail the same period; a failed send leaves the period unmarked for the next run.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

from flask import Flask
from flask_babel import force_locale
from sqlmodel import Session, col, select

from postpurchase.clock import utcnow
from postpurchase.db import claim_scope, session_scope
from postpurchase.i18n import SUPPORTED_LOCALES, to_local
from postpurchase.i18n import gettext as _
from postpurchase.insights import export, queries
from postpurchase.insights.web import render_report
from postpurchase.messaging.channels import create_channel
from postpurchase.messaging.channels.email import SMTP_POLICY, SmtpChannel
from postpurchase.messaging.outbox import sender_identity
from postpurchase.models import Brand, Channel, ReportPeriod, ReportSent
from postpurchase.models.types import id_of
from postpurchase.pdf import pdf_bytes
from postpurchase.settings.model import settings_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sent:
    brand_slug: str
    period: ReportPeriod
    #: The period's first day.
    start: date
    recipients: list[str]


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def start_of(period: ReportPeriod, day: date) -> date:
    """The first day of the week (Monday) or calendar month that holds ``day``."""
    return monday_of(day) if period == ReportPeriod.week else day.replace(day=1)


def end_of(period: ReportPeriod, start: date) -> date:
    """The last day of the period that begins on ``start``."""
    if period == ReportPeriod.week:
        return start + timedelta(days=6)
    return start_of(period, start + timedelta(days=31)) - timedelta(days=1)


def previous(period: ReportPeriod, today: date) -> date:
    """The first day of the last full period before the one holding ``today``."""
    return start_of(period, start_of(period, today) - timedelta(days=1))


def previous_week(today: date) -> date:
    """The Monday of the last full week before ``today``'s week."""
    return previous(ReportPeriod.week, today)


def recipients(brand: Brand, period: ReportPeriod) -> list[str]:
    part = settings_for(brand).insights
    return list(part.weekly_to if period == ReportPeriod.week else part.monthly_to)


def _last_sent(session: Session, brand_id: int, period: ReportPeriod) -> ReportSent | None:
    return session.get(ReportSent, (brand_id, period))


def report_email(
    app: Flask,
    session: Session,
    brand: Brand,
    period: ReportPeriod,
    start: date,
    to: list[str],
) -> EmailMessage:
    """The period's report as a PDF attachment with a short note in the brand's language."""
    report = queries.report(
        session=session,
        brand_id=id_of(brand),
        start=start,
        end=end_of(period, start),
        redelivery_reference=settings_for(brand).insights.redelivery_reference,
    )
    locale = brand.locale if brand.locale in SUPPORTED_LOCALES else "ja"
    # Flask-Babel forces a locale only within a request context; a job or command has none of its own.
    with app.test_request_context(), force_locale(locale):
        words = export.Words(locale, report.currency)
        words_of_period = {
            "brand": brand.name,
            "start": words.day(report.start),
            "end": words.day(report.end),
        }
        subject = _("%(brand)s delivery insights, %(start)s – %(end)s", **words_of_period)
        body = "\n\n".join(
            (
                _(
                    "The delivery insights of %(brand)s from %(start)s to %(end)s are attached as a PDF.",
                    **words_of_period,
                ),
                _(
                    "You receive this email because this address is in the brand's weekly insights "
                    "settings."
                )
                if period == ReportPeriod.week
                else _(
                    "You receive this email because this address is in the brand's monthly "
                    "insights settings."
                ),
            )
        )
        pdf = pdf_bytes(render_report("pdf/insights.html", brand, report))
    sender_name, sender_email = sender_identity(brand, app.config)
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = str(Address(sender_name, addr_spec=sender_email))
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    # One id per brand and period: a receiving system that deduplicates by Message-ID drops a repeat.
    message["Message-ID"] = (
        f"<insights-{brand.slug}-{period}-{start.isoformat()}@{sender_email.rpartition('@')[2]}>"
    )
    message.set_content(body)
    message.add_attachment(
        pdf,
        maintype="application",
        subtype="pdf",
        filename=export.file_name(brand.slug, report, "pdf"),
    )
    return message


def _send_one(
    app: Flask, brand_id: int, period: ReportPeriod, day: date | None, now: datetime
) -> Sent | None:
    with claim_scope(app) as session:
        brand = session.exec(select(Brand).where(Brand.id == brand_id).with_for_update()).one()
        to = recipients(brand, period)
        start = (
            start_of(period, day) if day else previous(period, to_local(now, brand.timezone).date())
        )
        mark = _last_sent(session, brand_id, period)
        if not to or (mark is not None and start <= mark.start):
            return None
        channel = create_channel(app.config, brand.slug, Channel.email)
        if not isinstance(channel, SmtpChannel):
            raise TypeError("the email channel of insights reports must be SMTP")
        try:
            refused = channel.send_message(report_email(app, session, brand, period, start, to))
        finally:
            channel.close()
        if refused:  # the others have it: the period counts as sent
            log.warning(
                "%sly insights of %s refused for %d of %d addresses",
                period,
                brand.slug,
                len(refused),
                len(to),
            )
        mark = mark or ReportSent(brand_id=brand_id, period=period, start=start)
        mark.start = start
        session.add(mark)
        return Sent(brand_slug=brand.slug, period=period, start=start, recipients=to)


def send_reports(
    app: Flask,
    period: ReportPeriod,
    *,
    brand_slug: str | None = None,
    day: date | None = None,
    now: datetime | None = None,
) -> list[Sent]:
    """Mail each brand with recipients for ``period`` its report of the period holding ``day``
    (default: the last full period before ``now``'s).

    A brand whose mail fails is logged and retried on the next run; the other brands still get theirs.
    """
    with session_scope(app) as session:
        query = select(Brand).order_by(col(Brand.id))
        if brand_slug is not None:
            query = query.where(Brand.slug == brand_slug)
        brand_ids = [id_of(brand) for brand in session.exec(query) if recipients(brand, period)]
    sent = []
    for brand_id in brand_ids:
        try:
            result = _send_one(app, brand_id, period, day, now or utcnow())
        except (smtplib.SMTPException, OSError) as exc:
            log.warning(
                "%sly insights for brand %s not sent: %s", period, brand_id, type(exc).__name__
            )
            continue
        if result is not None:
            sent.append(result)
    return sent


def reports_job(app: Flask) -> None:
    """Scheduler entry point: mail the last week's and month's reports that have not gone out yet."""
    for period in ReportPeriod:
        for result in send_reports(app, period):
            log.info("%sly insights of %s from %s sent", period, result.brand_slug, result.start)
