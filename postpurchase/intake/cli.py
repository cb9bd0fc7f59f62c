"""``postpurchase inbox``: look at stored events and retry failed ones."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from postpurchase import signals
from postpurchase.commands import brand_or_fail
from postpurchase.config import running_app
from postpurchase.db import session_scope
from postpurchase.inbox import list_events, move_spooled, process_pending, schedule_retry
from postpurchase.models import InboxState


@click.group()
def inbox() -> None:
    """Received events (webhooks): list them, retry failed ones."""


@inbox.command("list")
@click.option("--state", type=click.Choice([s.value for s in InboxState]), default=None)
@click.option("--brand", "brand_slug", default=None, help="Brand slug.")
@click.option("--limit", default=50, show_default=True)
@with_appcontext
def list_command(state: str | None, brand_slug: str | None, limit: int) -> None:
    """Newest events first: id, brand, source, type, state, attempts, error."""
    move_spooled(running_app())  # just accepted, not yet moved: listed as pending like the rest
    with session_scope() as session:
        brand_id = None
        if brand_slug:
            brand = brand_or_fail(session, brand_slug)
            brand_id = brand.id
        events = list_events(
            session=session,
            state=InboxState(state) if state else None,
            brand_id=brand_id,
            limit=limit,
        )
        for event in events:
            waiting = f" waiting_for={event.waiting_for}" if event.waiting_for else ""
            error = f" error={event.error}" if event.error else ""
            click.echo(
                f"{event.id}\tbrand={event.brand_id}\t{event.source}\t"
                f"{event.event_type or '-'}\t{event.external_id}\t{event.state.value}\t"
                f"attempts={event.attempts}{waiting}{error}"
            )
        if not events:
            click.echo("no events", err=True)


@inbox.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all-failed", is_flag=True, help="Retry every failed event.")
@click.option(
    "--notify-late",
    is_flag=True,
    help="Tell customers even about events older than their message's freshness limit.",
)
@with_appcontext
def retry_command(ids: tuple[int, ...], all_failed: bool, notify_late: bool) -> None:
    """Make failed (or deferred) events due now and process them (quietly for old events)."""
    if not ids and not all_failed:
        raise click.UsageError("give event ids or --all-failed")
    with session_scope() as session:
        retried = schedule_retry(session=session, ids=ids, all_failed=all_failed)
    with signals.late_notices_allowed(notify_late):
        stats = process_pending(running_app())
    click.echo(
        f"retried {len(retried)} event(s): {stats.processed} processed, "
        f"{stats.deferred} deferred, {stats.failed} failed"
    )
