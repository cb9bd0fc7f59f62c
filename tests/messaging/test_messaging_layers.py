"""Messaging's domain code takes what it needs as arguments: only views, commands and the wiring
touch the Flask app."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

from flask import has_app_context

from postpurchase import ROOT
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.config import trigger_settings
from postpurchase.messaging.operations import sample_context
from postpurchase.messaging.render import environment
from postpurchase.messaging.settings import MessagingSettings
from postpurchase.messaging.triggers import enqueue, render_content
from postpurchase.models import Brand, Channel
from postpurchase.tokens import read_token
from tests.messaging.conftest import NOW
from tests.messaging.helpers import only

MESSAGING = ROOT / "postpurchase" / "messaging"
#: The views, the commands and the package's wiring (``init_app``, jobs, ``current_settings``).
MAY_TOUCH_THE_APP = {"web.py", "cli.py", "__init__.py", "line/web.py"}


def _uses_current_app(source: str) -> list[int]:
    """Lines that import or name ``current_app`` (also as ``flask.current_app``)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if (
            (
                isinstance(node, ast.ImportFrom)
                and any(alias.name == "current_app" for alias in node.names)
            )
            or (isinstance(node, ast.Name) and node.id == "current_app")
            or (isinstance(node, ast.Attribute) and node.attr == "current_app")
        ):
            lines.append(node.lineno)
    return sorted(lines)


def test_only_views_commands_and_wiring_reach_for_current_app() -> None:
    found = {}
    for path in sorted(MESSAGING.rglob("*.py")):
        relative = path.relative_to(MESSAGING).as_posix()
        if relative not in MAY_TOUCH_THE_APP and (
            lines := _uses_current_app(path.read_text(encoding="utf-8"))
        ):
            found[relative] = lines
    assert found == {}


def test_the_scan_sees_current_app_however_it_is_reached() -> None:
    source = "from flask import current_app\nimport flask\nA = current_app.config\nB = flask.current_app\n"
    assert _uses_current_app(source) == [1, 3, 4]


def test_a_message_renders_with_settings_and_no_app(tmp_path: Path) -> None:
    messaging = MessagingSettings(
        secret_key="s3cret",
        base_url="https://pp.example/",
        config={},
        templates=environment(str(tmp_path)),
    )
    brand = Brand(id=7, slug="acme", name="Acme", settings={})
    context = sample_context(
        brand, Trigger.shipped, "en", datetime(2026, 11, 24, tzinfo=UTC).date()
    )
    assert not has_app_context()
    content = render_content(
        messaging=messaging,
        brand=brand,
        trigger=trigger_settings(brand, Trigger.shipped),
        channel=Channel.email,
        address="hanako@example.jp",
        payload={},
        context=context,
        variant=None,
    )
    link = content.payload["unsubscribe_url"]
    assert link.startswith("https://pp.example/acme/unsubscribe/")
    assert read_token("s3cret", "unsubscribe", link.rsplit("/", 1)[1]) == {
        "b": 7,
        "ch": "email",
        "a": "hanako@example.jp",
    }
    assert content.subject and content.html


def test_a_message_with_nobody_to_reach_reads_no_settings(make_shop, session) -> None:
    """Tracking sends status signals from jobs and tests that may have no app: a parcel whose
    customer left no address must not need one."""
    shop = make_shop(email=None, phone=None)

    def unavailable() -> MessagingSettings:
        raise AssertionError("settings read for a message with no address")

    enqueue(
        session=session,
        messaging=unavailable,
        brand=shop.brand,
        trigger=Trigger.shipped,
        shipment=shop.shipment,
        now=NOW,
    )
    assert only(session, Trigger.shipped).reason == {"why": "no_address", "args": {}}
