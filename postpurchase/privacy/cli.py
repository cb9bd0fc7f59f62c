"""``postpurchase data purge`` and ``postpurchase customers erase|export``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypedDict

import click
from flask.cli import with_appcontext
from sqlmodel import Session

from postpurchase.clock import utcnow
from postpurchase.commands import brand_id_or_fail
from postpurchase.config import running_app
from postpurchase.db import session_scope
from postpurchase.privacy.customers import NoSuchCustomer, erase_customer, export_customer
from postpurchase.privacy.retention import purge


@click.group("data")
def data() -> None:
    """Retention of personal data in raw bodies and refused requests."""


@data.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would be purged.")
@with_appcontext
def purge_command(dry_run: bool) -> None:
    """Empty inbox bodies older than RAW_RETENTION_DAYS; delete refused requests older than REJECTED_RETENTION_DAYS.

    Only events that are done (processed or ignored) lose their body; the rows stay, so
    duplicates are still recognised.
    """

    def progress(what: str, done: int) -> None:
        click.echo(f"  {what.replace('_', ' ')}: {done}...", err=True)

    app = running_app()
    counts = purge(app, dry_run=dry_run, progress=progress)
    verb = "would purge" if dry_run else "purged"
    click.echo(
        f"{verb} {counts.inbox_bodies} inbox bodies, "
        f"{'would delete' if dry_run else 'deleted'} "
        f"{counts.rejected_requests + counts.rejection_records} records of refused requests"
    )


@click.group("customers")
def customers() -> None:
    """A customer's rights: erase or export what a brand stores about them."""


class _Who(TypedDict):
    email: str | None
    customer_id: int | None


def _who(email: str | None, customer_id: int | None) -> _Who:
    if (email is None) == (customer_id is None):
        raise click.UsageError("give exactly one of --email and --customer-id")
    return {"email": email, "customer_id": customer_id}


def _brand_id(session: Session, slug: str) -> int:
    return brand_id_or_fail(session, slug)


@customers.command("erase")
@click.option("--brand", "brand_slug", required=True)
@click.option("--email", default=None, help="Every customer row and guest order with this email.")
@click.option(
    "--customer-id", type=int, default=None, help="One customer row (its id in this database)."
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def erase_command(brand_slug: str, email: str | None, customer_id: int | None, yes: bool) -> None:
    """Anonymise a customer: names, addresses, contacts, texts and raw bodies go; figures stay."""
    who = _who(email, customer_id)
    if not yes:
        click.confirm(
            f"Erase the personal data of {email or f'customer {customer_id}'} in {brand_slug}? "
            "This cannot be undone",
            abort=True,
        )
    with session_scope() as session:
        result = erase_customer(
            session=session, brand_id=_brand_id(session, brand_slug), now=utcnow(), **who
        )
    if result.reference is None:
        click.echo("nothing stored about this customer (already erased, or never known)")
        return
    changed = ", ".join(f"{n} {table}" for table, n in result.counts.items() if n) or "nothing new"
    click.echo(f"{'erased again' if result.repeated else 'erased'}: {changed}")
    click.echo(f"erasure reference: {result.reference}")


@customers.command("export")
@click.option("--brand", "brand_slug", required=True)
@click.option("--email", default=None)
@click.option("--customer-id", type=int, default=None)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the JSON here instead of printing it.",
)
@with_appcontext
def export_command(
    brand_slug: str, email: str | None, customer_id: int | None, out: Path | None
) -> None:
    """Everything the brand stores about a customer, as JSON."""
    who = _who(email, customer_id)
    with session_scope() as session:
        try:
            exported = export_customer(
                session=session, brand_id=_brand_id(session, brand_slug), **who
            )
        except NoSuchCustomer:
            raise click.ClickException("nothing stored about this customer in this brand") from None
    text = json.dumps(exported, ensure_ascii=False, indent=2)
    if out is None:
        click.echo(text)
        return
    out.write_text(text + "\n", encoding="utf-8")
    out.chmod(0o600)
    click.echo(f"wrote {out}")
