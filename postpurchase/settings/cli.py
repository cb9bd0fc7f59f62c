"""``postpurchase settings get|set|export|import --brand S``: the brand's settings from a shell."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml
from flask.cli import with_appcontext

from postpurchase.commands import brand_or_fail
from postpurchase.db import get_session
from postpurchase.settings import operations
from postpurchase.settings.model import SettingsInvalid, get_path, is_leaf

ACTOR = "cli"


def _dump(value: Any, fmt: str) -> str:
    if fmt == "yaml":
        return yaml.safe_dump(value, allow_unicode=True, sort_keys=False).rstrip("\n")
    return json.dumps(value, ensure_ascii=False, indent=2)


def _fail(exc: SettingsInvalid) -> click.ClickException:
    return click.ClickException(
        "nothing changed: " + "; ".join(f"{e['loc']}: {e['msg']}" for e in exc.errors)
    )


def _report(changes: list[Any]) -> None:
    for entry in changes:
        click.echo(
            f"{entry.subject}: {json.dumps(entry.before, ensure_ascii=False)} → "
            f"{json.dumps(entry.after, ensure_ascii=False)}"
        )
    if not changes:
        click.echo("nothing changed")


@click.group("settings")
def settings() -> None:
    """A brand's settings (the same as the console's settings pages and /api/v1/settings)."""


brand_option = click.option("--brand", "brand_slug", required=True, help="The brand's slug.")
format_option = click.option(
    "--format", "fmt", type=click.Choice(["json", "yaml"]), default="json", show_default=True
)


@settings.command("get")
@brand_option
@format_option
@click.argument("path", required=False)
@with_appcontext
def get_command(brand_slug: str, fmt: str, path: str | None) -> None:
    """Print the settings, or one of them (e.g. ``returns.window_days``)."""
    document = operations.document(brand_or_fail(get_session(), brand_slug))
    if path is None:
        click.echo(_dump(document, fmt))
        return
    if not is_leaf(path):
        raise click.ClickException(f"{path}: no such setting")
    click.echo(_dump(get_path(document, path), fmt))


@settings.command("set")
@brand_option
@click.argument("path")
@click.argument("value")
@with_appcontext
def set_command(brand_slug: str, path: str, value: str) -> None:
    """Set one setting; VALUE is read as YAML (``45``, ``true``, ``[refund, exchange]``, ``null``)."""
    session = get_session()
    brand = brand_or_fail(session, brand_slug)
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise click.ClickException(f"{path}: not a value: {exc}") from None
    try:
        changes = operations.set_value(
            session=session, brand=brand, path=path, value=parsed, actor=ACTOR
        )
    except SettingsInvalid as exc:
        raise _fail(exc) from None
    session.commit()
    _report(changes)


@settings.command("export")
@brand_option
@format_option
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def export_command(brand_slug: str, fmt: str, output: Path | None) -> None:
    """Write the whole settings document (to stdout, or to OUTPUT)."""
    text = _dump(operations.document(brand_or_fail(get_session(), brand_slug)), fmt) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@settings.command("import")
@brand_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_command(brand_slug: str, file: Path) -> None:
    """Make FILE (JSON or YAML; what it leaves out returns to the default) the brand's settings.

    A file with any wrong value changes nothing and names the field."""
    session = get_session()
    brand = brand_or_fail(session, brand_slug)
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))  # JSON is YAML too
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{file.name}: not JSON or YAML: {exc}") from None
    if not isinstance(document, dict):
        raise click.ClickException(f"{file.name}: the settings must be a mapping")
    try:
        changes = operations.replace(session=session, brand=brand, new=document, actor=ACTOR)
    except SettingsInvalid as exc:
        raise _fail(exc) from None
    session.commit()
    _report(changes)
