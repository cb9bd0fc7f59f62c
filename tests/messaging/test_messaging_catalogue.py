"""The trigger catalogue: one enum, one home for what each trigger is."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest

from postpurchase import ROOT
from postpurchase.messaging import catalogue
from postpurchase.messaging.catalogue import CATALOGUE, SYSTEM_TRIGGERS, Purpose, Trigger
from postpurchase.messaging.config import trigger_settings
from postpurchase.models import Brand, Channel

PACKAGE = ROOT / "postpurchase"
#: Literals spelled like a trigger that mean something else (path relative to the package).
OTHER_MEANINGS = {
    ("messaging/context.py", "replenishment"),  # the template variable of the reminder
    ("messaging/operations.py", "replenishment"),  # the same variable in sample data
    ("messaging/render.py", "replenishment"),  # its default in every template
    ("edd/service.py", "delivered"),  # the basis of a prediction for a delivered parcel
    ("insights/export.py", "delivered"),  # a CSV column
    ("insights/network.py", "delivered"),  # a CSV column of the network matrix
}


def _enum_member_values(tree: ast.AST) -> set[int]:
    """ids of the literals that define members of an enum (a status may be spelled like a trigger)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(
            isinstance(base, ast.Name) and base.id.endswith("Enum") for base in node.bases
        ):
            found.update(id(item.value) for item in node.body if isinstance(item, ast.Assign))
    return found


def _trigger_literals(source: str, relative: str) -> list[str]:
    """``path:line 'value'`` for each literal in ``source`` spelled like a trigger."""
    values = {str(trigger) for trigger in Trigger}
    tree = ast.parse(source)
    members = _enum_member_values(tree)
    return [
        f"{relative}:{node.lineno} {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and node.value in values
        and id(node) not in members
        and (relative, node.value) not in OTHER_MEANINGS
    ]


def test_no_module_but_the_catalogue_spells_a_trigger_name() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] != "migrations" and path != Path(catalogue.__file__):
            found += _trigger_literals(path.read_text(encoding="utf-8"), relative.as_posix())
    assert found == []


def test_the_scan_sees_a_trigger_name_but_not_a_status_spelled_alike() -> None:
    source = 'class Status(StrEnum):\n    delivered = "delivered"\n\nLATE = "arriving_tomorrow"\n'
    assert _trigger_literals(source, "messaging/timers.py") == [
        "messaging/timers.py:4 'arriving_tomorrow'"
    ]


def test_every_trigger_is_a_customer_message_or_a_system_document() -> None:
    assert set(CATALOGUE) | SYSTEM_TRIGGERS == set(Trigger)
    assert not set(CATALOGUE) & SYSTEM_TRIGGERS


def test_trigger_values_are_the_names_stored_in_outbox_rows_and_brand_settings() -> None:
    assert [str(trigger) for trigger in Trigger] == [
        "order_confirmed",
        "shipped",
        "delayed",
        "arriving_tomorrow",
        "out_for_delivery",
        "attempt_fail",
        "available_for_pickup",
        "delivered",
        "unboxing",
        "review_request",
        "replenishment",
        "return_update",
        "wms_return",
        "customs_hold",
        "duties_due",
        "duties_notice",
        "kitting_instructions",
    ]


def test_a_brand_without_trigger_settings_gets_the_catalogue_entry() -> None:
    settings = trigger_settings(Brand(slug="acme", name="Acme", settings={}), "review_request")
    assert (settings.name, settings.purpose, settings.essential) == (
        Trigger.review_request,
        Purpose.marketing,
        False,
    )
    assert settings.stale_after == timedelta(
        hours=CATALOGUE[Trigger.review_request].stale_after_hours or 0
    )
    assert settings.options == {"delay_days": 7}


def test_a_brand_setting_overrides_the_catalogue_entry() -> None:
    brand = Brand(
        slug="acme",
        name="Acme",
        settings={
            "messaging": {
                "triggers": {"arriving_tomorrow": {"channels": ["sms"], "send_at": "16:00"}}
            }
        },
    )
    settings = trigger_settings(brand, Trigger.arriving_tomorrow)
    assert (settings.channels, settings.options["send_at"]) == ((Channel.sms,), "16:00")


def test_a_system_trigger_has_no_customer_settings() -> None:
    with pytest.raises(KeyError):
        trigger_settings(Brand(slug="acme", name="Acme", settings={}), Trigger.wms_return)
