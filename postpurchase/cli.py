"""The ``postpurchase`` command."""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, routes_command, shell_command, with_appcontext
from sqlmodel import Session

from postpurchase import clock, create_app
from postpurchase.commands import brand_id_or_fail, brand_or_fail, serve
from postpurchase.config import running_app
from postpurchase.models.types import id_of

#: ``(module, attribute)`` of command groups that features contribute.
FEATURE_COMMANDS: tuple[tuple[str, str], ...] = (
    ("postpurchase.intake.cli", "inbox"),
    ("carriers.cli", "carriers"),
    ("postpurchase.tracking.cli", "tracking"),
    ("postpurchase.edd.cli", "edd"),
    ("postpurchase.messaging.cli", "messages"),
    ("postpurchase.insights.cli", "insights"),
    ("postpurchase.insights.cli", "history"),
    ("postpurchase.insights.cli", "fx"),
    ("postpurchase.demo", "demo"),
    ("postpurchase.privacy.cli", "data"),
    ("postpurchase.privacy.cli", "customers"),
    ("postpurchase.settings.cli", "settings"),
    ("postpurchase.returns.cli", "returns"),
    ("postpurchase.personas.cli", "personas"),
)


def _make_app(*_args: object, **_kwargs: object) -> Flask:
    return create_app()


@click.group(
    cls=FlaskGroup, create_app=_make_app, add_default_commands=False, add_version_option=False
)
def main() -> None:
    """postpurchase: event intake, carrier tracking, delivery dates, customer messages, returns, insights."""


# Flask's group adds -e/--env-file and -A/--app, which mean nothing here (the app is always
# postpurchase's, configured by POSTPURCHASE_* variables): keep them working, out of --help.
for _option in main.params:
    if isinstance(_option, click.Option) and _option.name in {"env_file", "app"}:
        _option.hidden = True


main.add_command(shell_command)
main.add_command(routes_command)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply migrations (creates the SQLite file if needed)."""
    from postpurchase import db as database

    database.upgrade(str(current_app.config["DATABASE_URL"]), revision)
    click.echo(f"database at {revision}")


@main.command("init")
@click.option("--brand-slug", required=True, help="URL name of the brand, e.g. 'acme'.")
@click.option("--name", required=True, help="Display name of the brand.")
@click.option("--shopify-secret", default=None, help="Shopify webhook secret of the brand's store.")
@click.option("--locale", default="ja", show_default=True)
@click.option("--timezone", default="Asia/Tokyo", show_default=True)
@click.option("--currency", default="JPY", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for scripts.")
@with_appcontext
def init_command(
    brand_slug: str,
    name: str,
    shopify_secret: str | None,
    locale: str,
    timezone: str,
    currency: str,
    as_json: bool,
) -> None:
    """Create the database if needed and a brand; print its API key and signing secret once."""
    from postpurchase import db as database
    from postpurchase.brands import BrandExists, create_brand

    database.upgrade(str(current_app.config["DATABASE_URL"]))
    try:
        with database.session_scope() as session:
            created = create_brand(
                session=session,
                slug=brand_slug,
                name=name,
                shopify_secret=shopify_secret,
                locale=locale,
                timezone=timezone,
                currency=currency,
            )
    except (BrandExists, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "brand": created.slug,
                    "api_key": created.api_key,
                    "signing_secret": created.signing_secret,
                }
            )
        )
        return
    click.echo(f"brand:          {created.slug}")
    click.echo(f"api key:        {created.api_key}")
    click.echo(f"signing secret: {created.signing_secret}")
    click.echo("Keep both: they are not shown again.")


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--no-scheduler", is_flag=True, help="Serve only; run `postpurchase worker` elsewhere."
)
@with_appcontext
def run_command(host: str, port: int, no_scheduler: bool) -> None:
    """Development server with the in-process scheduler (production: gunicorn wsgi:app)."""
    from postpurchase import db as database
    from postpurchase.web.warmup import ready_to_serve

    app = running_app()
    database.upgrade(str(app.config["DATABASE_URL"]))
    ready_to_serve(app)
    serve(app, host=host, port=port, scheduler=bool(app.config["SCHEDULER"]) and not no_scheduler)


@main.command("worker")
@with_appcontext
def worker_command() -> None:
    """Process events as they arrive, and run the scheduled jobs while this process is the leader
    (scale-out: any number per deployment, on any machine sharing the database)."""
    from postpurchase.inbox.wakeup import InboxListener
    from postpurchase.jobs import start_scheduler, stop_scheduler

    app = running_app()
    lower_priority(str(app.config["WORKER_NICE"]))
    offset_file = os.environ.get(clock.OFFSET_FILE_ENV)
    with clock.use(clock.offset_file_source(Path(offset_file))) if offset_file else nullcontext():
        start_scheduler(app)
        try:
            InboxListener(app).run()
        except KeyboardInterrupt:
            pass
        finally:
            stop_scheduler(app)


def lower_priority(priority: str) -> None:
    """Lower this process's CPU priority as ``WORKER_NICE`` says: ``idle`` or a niceness 0-19.

    At the web's priority a worker takes an equal share of a busy machine's cores from the
    processes answering webhooks; yielding, they answer more and sooner, and the worker catches
    up on what the inbox holds when they are idle (``bench/ingest.py --workers 1``, BENCHMARKS.md).
    A niced worker still runs out its time slice when a request arrives; under ``SCHED_IDLE``
    the request's process takes the core at once, which is what the webhook and page latencies
    under load measured.
    """
    idle = priority.strip().lower() == "idle"
    try:
        niceness = 19 if idle else int(priority)
    except ValueError:
        niceness = -1
    if not 0 <= niceness <= 19:
        raise click.UsageError(
            f"POSTPURCHASE_WORKER_NICE must be 'idle' or a niceness between 0 and 19, "
            f"not {priority!r}"
        )
    threads = Path("/proc/self/task")
    if not threads.is_dir():
        if niceness and hasattr(os, "nice"):
            os.nice(niceness)
        return
    # Linux keeps a priority per thread, and threads started while the app was built (a native
    # library's pool) would keep the web's: every thread is lowered, not only this one. Threads
    # started later inherit it from the one starting them.
    for thread in threads.iterdir():
        tid = int(thread.name)
        try:
            if idle and hasattr(os, "SCHED_IDLE"):
                os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
            elif niceness:
                now = os.getpriority(os.PRIO_PROCESS, tid)
                os.setpriority(os.PRIO_PROCESS, tid, min(now + niceness, 19))
        except ProcessLookupError:  # the thread ended meanwhile
            continue


@main.group("users")
def users() -> None:
    """Merchant users who sign in to the merchant pages."""


@users.command("add")
@click.option("--brand", "brand_slug", required=True)
@click.option("--email", required=True)
@click.option("--name", default="")
@click.password_option()
@with_appcontext
def users_add(brand_slug: str, email: str, name: str, password: str) -> None:
    """Add a merchant user to a brand."""
    from postpurchase import db as database
    from postpurchase.accounts import add_merchant_user

    with database.session_scope() as session:
        add_merchant_user(
            session=session,
            brand_id=brand_id_or_fail(session, brand_slug),
            email=email,
            password=password,
            name=name,
        )
    click.echo(f"merchant user {email} added to {brand_slug}")


@users.command("set-password")
@click.option("--brand", "brand_slug", required=True)
@click.option("--email", required=True)
@click.password_option()
@with_appcontext
def users_set_password(brand_slug: str, email: str, password: str) -> None:
    """Change a merchant user's password; every browser signed in as the user is signed out."""
    from postpurchase import db as database
    from postpurchase.accounts import find_merchant_user, set_password

    with database.session_scope() as session:
        user = find_merchant_user(
            session=session, brand_id=brand_id_or_fail(session, brand_slug), email=email
        )
        if user is None:
            raise click.ClickException(f"no merchant user {email!r} in brand {brand_slug!r}")
        set_password(session=session, user=user, password=password)
    click.echo(f"password of {email} in {brand_slug} changed; their sessions are ended")


def _role_choice() -> click.Choice[str]:
    from postpurchase.models import Role

    return click.Choice([role.value for role in Role])


@users.command("invite")
@click.option("--brand", "brand_slug", required=True)
@click.option("--email", required=True)
@click.option("--role", default="staff", show_default=True, type=_role_choice())
@with_appcontext
def users_invite(brand_slug: str, email: str, role: str) -> None:
    """Email a one-time link to join the brand with ROLE; the link is printed too."""
    from postpurchase import db as database
    from postpurchase.clock import utcnow
    from postpurchase.models import Role
    from postpurchase.people import mail
    from postpurchase.people.operations import PeopleError, invite

    app = running_app()
    try:
        with database.session_scope() as session:
            brand = brand_or_fail(session, brand_slug)
            assert brand.id is not None
            link, token = invite(
                session=session,
                brand_id=brand.id,
                email=email,
                role=Role(role),
                actor="cli",
                secret_key=str(app.config["SECRET_KEY"]),
                now=utcnow(),
            )
    except PeopleError as exc:
        raise click.ClickException(f"{exc.field or 'invitation'}: {exc.code}") from None
    sent = mail.send_invitation(
        app, brand=brand, to=link.email, role=Role(role), token=token, inviter=brand.name
    )
    click.echo(
        f"invitation for {link.email} as {role} in {brand_slug}"
        + (" sent" if sent else " NOT emailed")
    )
    click.echo(
        f"link (works once, until {link.expires_at.isoformat(timespec='minutes')}): "
        + mail.link_url(app, "people_links.accept_invitation_page", token)
    )


@users.command("list")
@click.option("--brand", "brand_slug", required=True)
@with_appcontext
def users_list(brand_slug: str) -> None:
    """The brand's members with their roles, and the invitations not yet accepted."""
    from postpurchase import db as database
    from postpurchase.clock import utcnow
    from postpurchase.people.operations import members, pending_invitations

    with database.session_scope() as session:
        brand_id = brand_id_or_fail(session, brand_slug)
        for member in members(session=session, brand_id=brand_id):
            click.echo(
                f"{member.user.email:<40} {member.membership.role.value:<10} {member.user.name}"
            )
        for link in pending_invitations(session=session, brand_id=brand_id, now=utcnow()):
            role = link.role.value if link.role else ""
            click.echo(
                f"{link.email:<40} {role:<10} (invited, until {link.expires_at.isoformat(timespec='minutes')})"
            )


@contextmanager
def _member_of(brand_slug: str, email: str) -> Iterator[tuple[Session, int, int]]:
    """(session, brand id, membership id) of ``email`` in the brand, committed on exit; the
    people errors become command-line messages naming the member and the brand."""
    from postpurchase import db as database
    from postpurchase.people.operations import MemberNotFound, PeopleError, member_by_email

    try:
        with database.session_scope() as session:
            brand_id = brand_id_or_fail(session, brand_slug)
            found = member_by_email(session=session, brand_id=brand_id, email=email)
            yield session, brand_id, id_of(found.membership)
    except MemberNotFound:
        raise click.ClickException(f"{email!r} is not a member of {brand_slug!r}") from None
    except PeopleError as exc:
        raise click.ClickException(
            f"{email!r} is the last owner of {brand_slug!r}"
            if exc.code == "last_owner"
            else exc.code
        ) from None


@users.command("remove")
@click.option("--brand", "brand_slug", required=True)
@click.option("--email", required=True)
@with_appcontext
def users_remove(brand_slug: str, email: str) -> None:
    """Take a member out of the brand (not its last owner)."""
    from postpurchase.people.operations import remove_member

    with _member_of(brand_slug, email) as (session, brand_id, membership_id):
        remove_member(session=session, brand_id=brand_id, membership_id=membership_id, actor="cli")
    click.echo(f"{email} removed from {brand_slug}")


@users.command("role")
@click.option("--brand", "brand_slug", required=True)
@click.option("--email", required=True)
@click.option("--role", required=True, type=_role_choice())
@with_appcontext
def users_role(brand_slug: str, email: str, role: str) -> None:
    """Give a member another role (the last owner stays an owner)."""
    from postpurchase.models import Role
    from postpurchase.people.operations import change_role

    with _member_of(brand_slug, email) as (session, brand_id, membership_id):
        change_role(
            session=session,
            brand_id=brand_id,
            membership_id=membership_id,
            role=Role(role),
            actor="cli",
        )
    click.echo(f"{email} is now {role} in {brand_slug}")


@main.group("keys")
def keys() -> None:
    """A brand's API keys and webhook signing secret: list, rotate, revoke."""


_grace_option = click.option(
    "--grace-hours",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    help="How long the old one keeps working (0: refused at once).",
)


@keys.command("list")
@click.option("--brand", "brand_slug", required=True)
@with_appcontext
def keys_list(brand_slug: str) -> None:
    """The brand's keys: id, prefix, name, state, and when they were created, used, expire or were revoked."""
    from postpurchase import db as database
    from postpurchase.brands import key_state, list_api_keys
    from postpurchase.clock import utcnow

    now = utcnow()
    with database.session_scope() as session:
        rows = list_api_keys(session=session, brand_id=brand_id_or_fail(session, brand_slug))
    for key in rows:
        dates = {
            "created": key.created_at,
            "used": key.last_used_at,
            "expires": key.expires_at,
            "revoked": key.revoked_at,
        }
        when = "  ".join(
            f"{label} {value.isoformat(timespec='seconds')}"
            for label, value in dates.items()
            if value
        )
        click.echo(f"{key.id:>4}  {key.prefix}…  {key.name:<12} {key_state(key, now):<9} {when}")


@keys.command("rotate")
@click.option("--brand", "brand_slug", required=True)
@click.option(
    "--key",
    "ref",
    default=None,
    help="Retire only this key (id or prefix); default every usable key.",
)
@_grace_option
@with_appcontext
def keys_rotate(brand_slug: str, ref: str | None, grace_hours: float) -> None:
    """Issue a new API key (printed once) and retire the old ones, at once or after a grace period."""
    from datetime import timedelta

    from postpurchase import db as database
    from postpurchase.brands import KeyNotFound, rotate_api_key
    from postpurchase.clock import utcnow

    try:
        with database.session_scope() as session:
            rotated = rotate_api_key(
                session=session,
                brand_id=brand_id_or_fail(session, brand_slug),
                now=utcnow(),
                grace=timedelta(hours=grace_hours),
                ref=ref,
            )
    except KeyNotFound as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"new api key (id {rotated.key_id}): {rotated.api_key}")
    click.echo("Keep it: it is not shown again.")
    for old in rotated.retired:
        until = (
            f"works until {old.expires_at.isoformat(timespec='seconds')}"
            if old.expires_at
            else "revoked"
        )
        click.echo(f"old key {old.id} ({old.prefix}…): {until}")


@keys.command("revoke")
@click.option("--brand", "brand_slug", required=True)
@click.argument("ref")
@with_appcontext
def keys_revoke(brand_slug: str, ref: str) -> None:
    """Refuse the key REF (its id or prefix) from now on, on the API and on webhooks."""
    from postpurchase import db as database
    from postpurchase.brands import KeyNotFound, revoke_api_key
    from postpurchase.clock import utcnow

    try:
        with database.session_scope() as session:
            key = revoke_api_key(
                session=session,
                brand_id=brand_id_or_fail(session, brand_slug),
                ref=ref,
                now=utcnow(),
            )
    except KeyNotFound as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"key {key.id} ({key.prefix}…) revoked")


@keys.command("rotate-secret")
@click.option("--brand", "brand_slug", required=True)
@_grace_option
@with_appcontext
def keys_rotate_secret(brand_slug: str, grace_hours: float) -> None:
    """Issue a new webhook signing secret (printed once); the old one is accepted for the grace period."""
    from datetime import timedelta

    from postpurchase import db as database
    from postpurchase.brands import rotate_signing_secret
    from postpurchase.clock import utcnow

    with database.session_scope() as session:
        secret = rotate_signing_secret(
            session=session,
            brand_id=brand_id_or_fail(session, brand_slug),
            now=utcnow(),
            grace=timedelta(hours=grace_hours),
        )
    click.echo(f"signing secret: {secret}")
    click.echo(
        "Keep it: it is not shown again."
        + (
            f" The old one is accepted for {grace_hours:g} hours."
            if grace_hours
            else " The old one is refused from now on."
        )
    )


def _add_feature_commands() -> None:
    for module_name, attribute in FEATURE_COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # feature not built yet
                continue
            raise
        main.add_command(getattr(module, attribute))


_add_feature_commands()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
