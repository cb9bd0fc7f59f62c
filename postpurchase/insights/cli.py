"""``postpurchase insights``: mail the weekly insights reports now."""

from __future__ import annotations

from datetime import datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from postpurchase.insights.weekly import send_weekly


@click.group("insights")
def insights() -> None:
    """Delivery insights reports."""


@insights.command("send-weekly")
@click.option(
    "--brand", "brand_slug", help="Only this brand (slug); default every brand with weekly_to."
)
@click.option(
    "--week",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Any date of the week (Monday–Sunday, local) to mail; default last week.",
)
@with_appcontext
def send_weekly_command(brand_slug: str | None, week: datetime | None) -> None:
    """Mail each brand's weekly report as a PDF, once per brand and week."""
    sent = send_weekly(current_app, brand_slug=brand_slug, week=week.date() if week else None)
    for result in sent:
        click.echo(
            f"{result.brand_slug}: week of {result.monday.isoformat()} sent to {', '.join(result.recipients)}"
        )
    click.echo(f"sent {len(sent)}")
