"""``postpurchase tracking``: run the planner, show its state, purge raw carrier answers."""

from __future__ import annotations

import json
import time

import click
from flask.cli import with_appcontext

from postpurchase.config import running_app
from postpurchase.db import session_scope
from postpurchase.jobs import job_spec
from postpurchase.tracking.jobs import maintain_job, poll_job, purge_job
from postpurchase.tracking.operations import tracking_status
from postpurchase.tracking.routing import extension


@click.group("tracking")
def tracking() -> None:
    """Carrier tracking: polling, status, raw-data retention."""


@tracking.command("poll")
@click.option("--once", is_flag=True, help="One planner run, then exit.")
@with_appcontext
def poll_command(once: bool) -> None:
    """Poll carriers for due shipments (every minute until interrupted, or once)."""
    app = running_app()
    poll_every = job_spec("tracking.poll").seconds
    maintain_every_runs = int(job_spec("tracking.maintain").seconds // poll_every)
    runs = 0
    while True:
        if runs % maintain_every_runs == 0:
            maintain_job(app)
        runs += 1
        report = poll_job(app)
        click.echo(json.dumps(report.__dict__))
        if once:
            return
        time.sleep(poll_every)


@tracking.command("status")
@with_appcontext
def status_command() -> None:
    """Shipments per status, how many are due, and each carrier account's circuit."""
    app = running_app()
    with session_scope(app) as session:
        click.echo(
            json.dumps(
                tracking_status(session=session, now=extension(app).clock()),
                ensure_ascii=False,
                indent=2,
            )
        )


@tracking.command("purge")
@with_appcontext
def purge_command() -> None:
    """Delete raw carrier answers older than RAW_RETENTION_DAYS."""
    deleted = purge_job(running_app())
    click.echo(f"deleted {deleted} raw carrier responses")
