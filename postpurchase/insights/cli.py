"""``postpurchase insights``: mail the weekly or monthly insights reports now; ``postpurchase history``: load the past."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlmodel import col, select

from postpurchase.clock import utcnow
from postpurchase.commands import brand_or_fail
from postpurchase.db import session_scope
from postpurchase.edd.history import HistoryError
from postpurchase.insights.figures import refresh_rollup
from postpurchase.insights.fx import RatesFileError, import_rates, read_ecb_csv
from postpurchase.insights.history_import import import_history, read_import
from postpurchase.insights.mailed import Sent, send_reports
from postpurchase.models import Brand, ReportPeriod
from postpurchase.models.types import id_of


@click.group("insights")
def insights() -> None:
    """Delivery insights reports."""


def _echo_sent(sent: list[Sent]) -> None:
    for result in sent:
        click.echo(
            f"{result.brand_slug}: {result.period} of {result.start.isoformat()} sent to "
            f"{', '.join(result.recipients)}"
        )
    click.echo(f"sent {len(sent)}")


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
    day = week.date() if week else None
    _echo_sent(send_reports(current_app, ReportPeriod.week, brand_slug=brand_slug, day=day))


@insights.command("send-monthly")
@click.option(
    "--brand", "brand_slug", help="Only this brand (slug); default every brand with monthly_to."
)
@click.option(
    "--month",
    type=click.DateTime(formats=["%Y-%m"]),
    help="The calendar month (YYYY-MM) to mail; default last month.",
)
@with_appcontext
def send_monthly_command(brand_slug: str | None, month: datetime | None) -> None:
    """Mail each brand's monthly report as a PDF, once per brand and month."""
    day = month.date() if month else None
    _echo_sent(send_reports(current_app, ReportPeriod.month, brand_slug=brand_slug, day=day))


@insights.command("rebuild")
@click.option("--brand", "brand_slug", help="Only this brand (slug); default every brand.")
@with_appcontext
def rebuild_command(brand_slug: str | None) -> None:
    """Recompute the figures' rollup: after an upgrade, or when a brand changed its timezone."""
    with session_scope(current_app) as session:
        brands = (
            [brand_or_fail(session, brand_slug)]
            if brand_slug
            else list(session.exec(select(Brand).order_by(col(Brand.id))))
        )
        for brand in brands:
            refresh_rollup(session=session, brand_id=id_of(brand), now=utcnow())
            click.echo(f"{brand.slug}: rebuilt")


@click.group("history")
def history() -> None:
    """Past shipments: load a brand's delivery history."""


@history.command("import")
@click.option(
    "--brand", "brand_slug", required=True, help="The brand (slug) the history belongs to."
)
@click.argument("path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@with_appcontext
def import_command(brand_slug: str, path: Path) -> None:
    """Import a history CSV as the brand's past parcels (all rows or, on any bad row, none)."""
    with session_scope(current_app) as session:
        brand = brand_or_fail(session, brand_slug)
        try:
            rows = read_import(path, timezone=brand.timezone, currency=brand.currency)
        except HistoryError as exc:
            raise click.ClickException(str(exc)) from None
        with click.progressbar(length=len(rows), label="importing", file=sys.stderr) as bar:
            result = import_history(
                session=session, brand_id=id_of(brand), rows=rows, now=utcnow(), progress=bar.update
            )
    click.echo(
        f"created {result.created}, updated {result.updated}, skipped {result.skipped} (live parcels)"
    )


@click.group("fx")
def fx() -> None:
    """Exchange rates: the brand's table for converting insights to its currency."""


@fx.command("import")
@click.option("--brand", "brand_slug", required=True, help="The brand (slug) the rates are for.")
@click.argument("path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@with_appcontext
def fx_import_command(brand_slug: str, path: Path) -> None:
    """Load reference rates from an ECB CSV (daily or history file; units per euro), then
    recompute the brand's figures with them."""
    try:
        rates = read_ecb_csv(path.read_text(encoding="utf-8-sig"))
    except RatesFileError as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    with session_scope(current_app) as session:
        brand = brand_or_fail(session, brand_slug)
        count = import_rates(session=session, brand_id=id_of(brand), rates=rates)
        refresh_rollup(session=session, brand_id=id_of(brand), now=utcnow())
    days = sorted({day for day, _, _ in rates})
    span = f"{days[0].isoformat()} to {days[-1].isoformat()}" if days else "no dates"
    click.echo(f"{brand_slug}: {count} rates loaded ({span})")
