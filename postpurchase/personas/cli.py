"""``postpurchase personas``: bring the customer profiles up to date and learn the personas."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from postpurchase.clock import utcnow
from postpurchase.commands import brand_id_or_fail
from postpurchase.db import session_scope
from postpurchase.personas import operations
from postpurchase.personas.model import NotEnoughCustomers
from postpurchase.profiles import refresh_brand_profiles


@click.group("personas")
def personas() -> None:
    """Customer profiles, personas and micro-segments."""


@personas.command("refresh")
@click.option("--brand", "brand_slug", required=True, help="The brand (slug).")
@with_appcontext
def refresh_command(brand_slug: str) -> None:
    """Recompute every customer profile of the brand (opens and clicks are caught up here)."""
    with session_scope() as session:
        count = refresh_brand_profiles(
            session=session, brand_id=brand_id_or_fail(session, brand_slug), now=utcnow()
        )
    click.echo(f"{count} profiles refreshed")


@personas.command("fit")
@click.option("--brand", "brand_slug", required=True, help="The brand (slug).")
@with_appcontext
def fit_command(brand_slug: str) -> None:
    """Refresh the profiles, learn the brand's personas from them and assign every customer."""
    now = utcnow()
    with session_scope() as session:
        brand_id = brand_id_or_fail(session, brand_slug)
        refresh_brand_profiles(session=session, brand_id=brand_id, now=now)
        try:
            made = operations.fit_personas(session=session, brand_id=brand_id, actor="cli", now=now)
        except NotEnoughCustomers as error:
            raise click.ClickException(str(error)) from None
        for persona in made:
            click.echo(
                f"{persona.key}\t{persona.size}\t{persona.description_en}\t{persona.description_ja}"
            )
        if made:
            click.echo(
                f"k={len(made)} (best silhouette {made[0].silhouette}, tried {made[0].space['tried']})"
            )
