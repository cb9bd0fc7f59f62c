"""``postpurchase messages``: send what is due, run timers, read the log, preview, local SMTP sink."""

from __future__ import annotations

import time
from datetime import datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from postpurchase.clock import as_utc, utcnow
from postpurchase.config import running_app
from postpurchase.messaging import current_settings
from postpurchase.models import OutboxState
from postpurchase.models.types import id_of


def _now(value: str | None) -> datetime:
    return as_utc(datetime.fromisoformat(value)) if value else utcnow()


@click.group("messages")
def messages() -> None:
    """Customer messages: outbox, timers, log, previews, local mail sink."""


@messages.command("send-due")
@click.option("--now", default=None, help="ISO time to act as now (simulations).")
@click.option("--limit", type=int, default=None)
@with_appcontext
def send_due_command(now: str | None, limit: int | None) -> None:
    """Send every message that is due now."""
    from postpurchase.messaging.outbox import send_due

    report = send_due(running_app(), now=_now(now) if now else None, limit=limit)
    click.echo(
        f"claimed {report.claimed} · sent {report.sent} · retried {report.retried} · held {report.held} · "
        f"suppressed {report.suppressed} · stale {report.stale} · failed {report.failed} · "
        f"unknown {report.unknown} · fallbacks {report.fallbacks}"
    )


@messages.command("run-timers")
@click.option("--now", default=None, help="ISO time to act as now (simulations).")
@with_appcontext
def run_timers_command(now: str | None) -> None:
    """Enqueue arriving-tomorrow, unboxing, review and replenishment messages that are due."""
    from postpurchase.db import session_scope
    from postpurchase.messaging.timers import run_timers

    with session_scope() as session:
        counts = run_timers(session=session, messaging=current_settings(), now=_now(now))
    click.echo(" · ".join(f"{name} {count}" for name, count in counts.items()))


@messages.command("log")
@click.option("--brand", "brand_slug", required=True)
@click.option("--order", "order_number", default=None)
@click.option("--customer", default=None, help="Email or phone.")
@click.option("--state", default=None, type=click.Choice([state.value for state in OutboxState]))
@click.option("--limit", type=int, default=50, show_default=True)
@with_appcontext
def log_command(
    brand_slug: str, order_number: str | None, customer: str | None, state: str | None, limit: int
) -> None:
    """The brand's messages, newest first."""
    from postpurchase.commands import brand_or_fail
    from postpurchase.db import session_scope
    from postpurchase.messaging.operations import message_log

    with session_scope() as session:
        brand = brand_or_fail(session, brand_slug)
        for entry in message_log(
            session=session,
            messaging=current_settings(),
            brand_id=id_of(brand),
            order_number=order_number,
            customer=customer,
            state=OutboxState(state) if state else None,
            limit=limit,
        ).rows:
            m = entry.message
            click.echo(
                f"{m.created_at:%Y-%m-%d %H:%M} {m.trigger:<20} {m.channel:<17} {m.state:<10} "
                f"{m.recipient:<30} {entry.subject}  {m.error or ''}"
            )


@messages.command("retry")
@click.option("--brand", "brand_slug", required=True)
@click.option(
    "--state",
    type=click.Choice(["failed", "unknown"]),
    default="failed",
    show_default=True,
    help="unknown: the channel may have delivered them; sending again can make a second copy.",
)
@click.option("--since", default=None, help="Only messages written since this ISO time.")
@click.option("--trigger", default=None)
@click.option("--dry-run", is_flag=True, help="Count, change nothing.")
@with_appcontext
def retry_command(
    brand_slug: str, state: str, since: str | None, trigger: str | None, dry_run: bool
) -> None:
    """Put the brand's failed (or unknown) messages back in the queue; the sender checks them again."""
    from postpurchase.commands import brand_or_fail
    from postpurchase.db import session_scope
    from postpurchase.messaging.operations import retry_messages
    from postpurchase.models import OutboxState

    try:
        moment = _now(since) if since else None
    except ValueError:
        raise click.BadParameter("not an ISO date or time", param_hint="--since") from None
    with session_scope() as session:
        brand = brand_or_fail(session, brand_slug)
        result = retry_messages(
            session=session,
            brand_id=id_of(brand),
            state=OutboxState(state),
            now=utcnow(),
            since=moment,
            trigger=trigger,
            dry_run=dry_run,
        )
    verb = "would retry" if dry_run else "retried"
    click.echo(
        f"{verb} {len(result.retried)} {state} · left {len(result.covered)} sent on a fallback channel"
    )
    if state == "unknown" and result.retried:
        click.echo(
            "warning: unknown messages may have arrived already; these customers can get a second copy",
            err=True,
        )


@messages.command("preview")
@click.option("--brand", "brand_slug", required=True)
@click.option("--trigger", required=True)
@click.option("--locale", default="ja", show_default=True, type=click.Choice(["ja", "en"]))
@click.option("--channel", default="email", show_default=True)
@click.option(
    "--shipment-id", type=int, default=None, help="Real data of this parcel; default sample data."
)
@click.option("--html", "show_html", is_flag=True, help="Print the HTML part too.")
@with_appcontext
def preview_command(
    brand_slug: str,
    trigger: str,
    locale: str,
    channel: str,
    shipment_id: int | None,
    show_html: bool,
) -> None:
    """Render one template."""
    from postpurchase.commands import brand_or_fail
    from postpurchase.db import session_scope
    from postpurchase.messaging.operations import UnknownShipment, preview
    from postpurchase.models import Channel

    with session_scope() as session:
        brand = brand_or_fail(session, brand_slug)
        now = utcnow()
        try:
            rendered = preview(
                session=session,
                messaging=current_settings(),
                brand=brand,
                trigger=trigger,
                locale=locale,
                channel=Channel(channel),
                shipment_id=shipment_id,
                today=now.date(),
                now=now,
            )
        except UnknownShipment:
            raise click.ClickException(
                f"no shipment {shipment_id} for brand {brand_slug!r}"
            ) from None
    click.echo(f"Subject: {rendered.subject}\n\n{rendered.text}")
    if show_html and rendered.html:
        click.echo("\n" + rendered.html)


@messages.command("sink")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=None, type=int, help="Default: the SMTP_PORT setting.")
@with_appcontext
def sink_command(host: str, port: int | None) -> None:
    """Run a local SMTP server that stores every message in <instance>/mail (Ctrl-C stops)."""
    from postpurchase.messaging import sink

    folder = sink.mail_dir(current_app.instance_path)
    controller, _handler = sink.start(folder, host, port or int(current_app.config["SMTP_PORT"]))
    click.echo(
        f"SMTP sink on {host}:{controller.port}, storing in {folder}; list with `postpurchase messages mailbox`"
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        controller.stop()


@messages.command("mailbox")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--show", is_flag=True, help="Print the plain-text bodies.")
@with_appcontext
def mailbox_command(limit: int, show: bool) -> None:
    """Messages the local sink caught, newest first."""
    from postpurchase.messaging import sink

    for caught in sink.list_messages(sink.mail_dir(current_app.instance_path), limit):
        click.echo(f"{caught.received_at:%Y-%m-%d %H:%M:%S UTC}  {caught.to:<30} {caught.subject}")
        if show:
            click.echo(caught.text + "\n")
