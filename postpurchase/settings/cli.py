"""``postpurchase settings get|set|export|import --brand S``: the brand's settings from a shell;
``postpurchase settings templates list|get|set --brand S``: its message templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml
from flask.cli import with_appcontext

from postpurchase.clock import utcnow
from postpurchase.commands import brand_or_fail
from postpurchase.db import get_session
from postpurchase.messaging import current_settings
from postpurchase.messaging.own_templates import own_sources
from postpurchase.models import Brand
from postpurchase.models.types import id_of
from postpurchase.settings import message_templates, operations
from postpurchase.settings.model import SettingsInvalid, get_path, is_leaf

#: The key of an export that holds the brand's own message templates (not a settings part).
TEMPLATES = "templates"

ACTOR = "cli"


def _dump(value: Any, fmt: str) -> str:
    if fmt == "yaml":
        return yaml.safe_dump(value, allow_unicode=True, sort_keys=False).rstrip("\n")
    return json.dumps(value, ensure_ascii=False, indent=2)


def _fail(exc: SettingsInvalid) -> click.ClickException:
    return click.ClickException(
        "nothing changed: " + "; ".join(f"{e['loc']}: {e['msg']}" for e in exc.errors)
    )


def _template_fail(exc: message_templates.TemplateInvalid) -> click.ClickException:
    return click.ClickException(
        "nothing changed: " + "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
    )


def _exported(brand: Brand) -> dict[str, Any]:
    """The settings document with the brand's own message templates under ``templates``."""
    own = message_templates.exported(session=get_session(), brand=brand)
    return {**operations.document(brand), TEMPLATES: own}


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
    text = _dump(_exported(brand_or_fail(get_session(), brand_slug)), fmt) + "\n"
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

    With a ``templates`` key (as ``export`` writes), those become the brand's own message templates
    (the ones it leaves out return to the shipped wording); without one, templates stay as they are.
    A file with any wrong value or template changes nothing and names the field."""
    session = get_session()
    brand = brand_or_fail(session, brand_slug)
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))  # JSON is YAML too
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{file.name}: not JSON or YAML: {exc}") from None
    if not isinstance(document, dict):
        raise click.ClickException(f"{file.name}: the settings must be a mapping")
    templates = document.pop(TEMPLATES, None)
    try:
        changes = operations.replace(session=session, brand=brand, new=document, actor=ACTOR)
        if templates is not None:
            for subject in message_templates.replace_all(
                session=session,
                templates=current_settings().templates,
                brand=brand,
                document=templates,
                actor=ACTOR,
                today=utcnow().date(),
            ):
                click.echo(f"{subject}: changed")
    except SettingsInvalid as exc:
        session.rollback()
        raise _fail(exc) from None
    except message_templates.TemplateInvalid as exc:
        session.rollback()
        raise _template_fail(exc) from None
    session.commit()
    _report(changes)


# Templates -----------------------------------------------------------------------------------


@settings.group("templates")
def templates() -> None:
    """A brand's message templates (the same as the console's template page and
    /api/v1/settings/templates)."""


trigger_argument = click.argument("trigger", type=click.Choice(message_templates.triggers()))
locale_argument = click.argument("locale", type=click.Choice(message_templates.LOCALES))
part_option = click.option(
    "--part",
    type=click.Choice(message_templates.PARTS),
    default="txt",
    show_default=True,
    help="subject.txt (email subject), txt (email text) or short.txt (SMS and LINE).",
)


@templates.command("list")
@brand_option
@with_appcontext
def templates_list(brand_slug: str) -> None:
    """Each trigger and locale, with the parts the brand words itself (``-``: all shipped)."""
    session = get_session()
    brand = brand_or_fail(session, brand_slug)
    for trigger in message_templates.triggers():
        for locale in message_templates.LOCALES:
            own = own_sources(
                session=session, brand_id=id_of(brand), trigger=trigger, locale=locale
            )
            click.echo(
                f"{trigger}\t{locale}\t{' '.join(p for p in message_templates.PARTS if p in own) or '-'}"
            )


@templates.command("get")
@brand_option
@trigger_argument
@locale_argument
@part_option
@with_appcontext
def templates_get(brand_slug: str, trigger: str, locale: str, part: str) -> None:
    """Print the text of one part in use: the brand's own, else the shipped one."""
    session = get_session()
    sources = message_templates.current_sources(
        session=session,
        templates=current_settings().templates,
        brand=brand_or_fail(session, brand_slug),
        trigger=trigger,
        locale=locale,
    )
    click.echo(sources[part], nl=not sources[part].endswith("\n"))


@templates.command("set")
@brand_option
@trigger_argument
@locale_argument
@part_option
@click.argument("file", type=click.File("r", encoding="utf-8"), default="-")
@with_appcontext
def templates_set(brand_slug: str, trigger: str, locale: str, part: str, file: Any) -> None:
    """Make FILE (default: standard input) the brand's text of one part; an empty one goes back
    to the shipped wording. A template that does not parse or render changes nothing."""
    session = get_session()
    brand = brand_or_fail(session, brand_slug)
    draft = message_templates.Draft(trigger, locale, {part: file.read()})
    try:
        changed = message_templates.save(
            session=session,
            templates=current_settings().templates,
            brand=brand,
            draft=draft,
            actor=ACTOR,
            today=utcnow().date(),
        )
    except message_templates.TemplateInvalid as exc:
        raise _template_fail(exc) from None
    session.commit()
    click.echo(f"{trigger} {locale} {part}: changed" if changed else "nothing changed")
