"""What every feature's command line shares: finding the brand a command names, and serving.

It sits below the features so that each feature's ``cli`` module (and the demo) can use it
without importing the top-level ``postpurchase.cli``, which imports them.
"""

from __future__ import annotations

import os

import click
from flask import Flask
from sqlmodel import Session

from postpurchase.brands import get_brand
from postpurchase.models import Brand


def brand_or_fail(session: Session, slug: str) -> Brand:
    """The brand ``slug``, or a command error naming it."""
    brand = get_brand(session=session, slug=slug)
    if brand is None or brand.id is None:
        raise click.ClickException(f"no brand {slug!r}")
    return brand


def brand_id_or_fail(session: Session, slug: str) -> int:
    """The id of the brand ``slug``, or a command error naming it."""
    brand_id = brand_or_fail(session, slug).id
    assert brand_id is not None
    return brand_id


def serve(app: Flask, *, host: str, port: int, scheduler: bool) -> None:
    """Serve with Werkzeug's threaded server and, if asked, the in-process scheduler."""
    from postpurchase.jobs import start_scheduler

    if scheduler:
        start_scheduler(app)
    os.environ.pop("FLASK_RUN_FROM_CLI", None)  # else Flask ignores app.run() inside a CLI command
    app.run(host=host, port=port, use_reloader=False, threaded=True)
