"""The weekly insights email: last Monday–Sunday's report as a PDF to the brand's chosen addresses.

Recipients are the brand's ``insights.weekly_to`` setting. The Monday of the last week mailed is
kept in :class:`~postpurchase.models.WeeklyReportSent`: a week at or before it is never mailed again, so the hourly job and a manual ``postpurchase insights send-weekly`` may both run.
Each brand is handled in its own claiming transaction with the brand row locked, so two workers
never mail the same week; a failed send leaves the week unmarked for the next run.
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
from flask_babel import gettext as _
from sqlmodel import Session, col, select

from postpurchase.clock import utcnow
from postpurchase.db import claim_scope, session_scope
from postpurchase.i18n import SUPPORTED_LOCALES, to_local
from postpurchase.insights import export, queries
from postpurchase.insights.web import render_report
from postpurchase.messaging.channels import create_channel
from postpurchase.messaging.channels.email import SMTP_POLICY, SmtpChannel
from postpurchase.messaging.outbox import sender_identity
from postpurchase.models import Brand, Channel, WeeklyReportSent
from postpurchase.models.types import id_of
from postpurchase.pdf import pdf_bytes
from postpurchase.settings.model import settings_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sent:
    brand_slug: str
    monday: date
    recipients: list[str]


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def previous_week(today: date) -> date:
    """The Monday of the last full week before ``today``'s week."""
    return monday_of(today) - timedelta(days=7)


def recipients(brand: Brand) -> list[str]:
    return list(settings_for(brand).insights.weekly_to)


def _last_sent(session: Session, brand_id: int) -> date | None:
    row = session.get(WeeklyReportSent, brand_id)
    return row.week if row else None


def weekly_email(
    app: Flask, session: Session, brand: Brand, monday: date, to: list[str]
) -> EmailMessage:
    """The week's report as a PDF attachment with a short note in the brand's language."""
    report = queries.report(
        session=session,
        brand_id=id_of(brand),
        start=monday,
        end=monday + timedelta(days=6),
        redelivery_reference=settings_for(brand).insights.redelivery_reference,
    )
    locale = brand.locale if brand.locale in SUPPORTED_LOCALES else "ja"
    # Flask-Babel forces a locale only within a request context; a job or command has none of its own.
    with app.test_request_context(), force_locale(locale):
        words = export.Words(locale, report.currency)
        period = {
            "brand": brand.name,
            "start": words.day(report.start),
            "end": words.day(report.end),
        }
        subject = _("%(brand)s delivery insights, %(start)s – %(end)s", **period)
        body = "\n\n".join(
            (
                _(
                    "The delivery insights of %(brand)s from %(start)s to %(end)s are attached as a PDF.",
                    **period,
                ),
                _(
                    "You receive this email because this address is in the brand's weekly insights "
                    "settings."
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
    # One id per brand and week: a receiving system that deduplicates by Message-ID drops a repeat.
    message["Message-ID"] = (
        f"<insights-{brand.slug}-{monday.isoformat()}@{sender_email.rpartition('@')[2]}>"
    )
    message.set_content(body)
    message.add_attachment(
        pdf,
        maintype="application",
        subtype="pdf",
        filename=export.file_name(brand.slug, report, "pdf"),
    )
    return message


def _send_one(app: Flask, brand_id: int, week: date | None, now: datetime) -> Sent | None:
    with claim_scope(app) as session:
        brand = session.exec(select(Brand).where(Brand.id == brand_id).with_for_update()).one()
        to = recipients(brand)
        monday = monday_of(week) if week else previous_week(to_local(now, brand.timezone).date())
        last = _last_sent(session, brand_id)
        if not to or (last is not None and monday <= last):
            return None
        channel = create_channel(app.config, brand.slug, Channel.email)
        assert isinstance(channel, SmtpChannel)
        try:
            refused = channel.send_message(weekly_email(app, session, brand, monday, to))
        finally:
            channel.close()
        if refused:  # the others have it: the week counts as sent
            log.warning(
                "weekly insights of %s refused for %d of %d addresses",
                brand.slug,
                len(refused),
                len(to),
            )
        mark = session.get(WeeklyReportSent, brand_id) or WeeklyReportSent(
            brand_id=brand_id, week=monday
        )
        mark.week = monday
        session.add(mark)
        return Sent(brand_slug=brand.slug, monday=monday, recipients=to)


def send_weekly(
    app: Flask,
    *,
    brand_slug: str | None = None,
    week: date | None = None,
    now: datetime | None = None,
) -> list[Sent]:
    """Mail each brand with ``weekly_to`` its report of the week of ``week`` (default: the week before ``now``'s).

    A brand whose mail fails is logged and retried on the next run; the other brands still get theirs.
    """
    with session_scope(app) as session:
        query = select(Brand).order_by(col(Brand.id))
        if brand_slug is not None:
            query = query.where(Brand.slug == brand_slug)
        brand_ids = [id_of(brand) for brand in session.exec(query) if recipients(brand)]
    sent = []
    for brand_id in brand_ids:
        try:
            result = _send_one(app, brand_id, week, now or utcnow())
        except (smtplib.SMTPException, OSError) as exc:
            log.warning("weekly insights for brand %s not sent: %s", brand_id, type(exc).__name__)
            continue
        if result is not None:
            sent.append(result)
    return sent


def weekly_job(app: Flask) -> None:
    """Scheduler entry point: mail last week's reports that have not gone out yet."""
    for result in send_weekly(app):
        log.info("weekly insights of %s for week %s sent", result.brand_slug, result.monday)
