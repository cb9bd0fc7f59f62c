"""``postpurchase returns dropoffs import --brand S FILE.csv``: the brand's drop-off points."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from postpurchase.commands import brand_id_or_fail
from postpurchase.db import get_session
from postpurchase.returns.dropoffs import DropOffFileError, import_dropoffs, parse_dropoffs


@click.group("returns")
def returns() -> None:
    """Returns: the brand's drop-off points."""


@returns.group("dropoffs")
def dropoffs() -> None:
    """Drop-off points (convenience stores, carrier offices) customers choose from."""


@dropoffs.command("import")
@click.option("--brand", "brand_slug", required=True, help="The brand's slug.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_command(brand_slug: str, file: Path) -> None:
    """Load FILE (CSV: name, kind, postal_code, address[, code, lat, lon]); loading it again
    changes nothing. Nothing is loaded when any line is wrong."""
    session = get_session()
    brand_id = brand_id_or_fail(session, brand_slug)
    try:
        rows = parse_dropoffs(file.read_text(encoding="utf-8-sig"))
    except DropOffFileError as exc:
        raise click.ClickException(
            f"{file.name}: nothing loaded:\n" + "\n".join(exc.problems)
        ) from exc
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{file.name}: not UTF-8 text") from exc
    result = import_dropoffs(session=session, brand_id=brand_id, rows=rows)
    session.commit()
    click.echo(f"added {result.added}, updated {result.updated}, unchanged {result.unchanged}")
