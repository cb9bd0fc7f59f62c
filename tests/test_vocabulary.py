"""One home per concept: the tracking status vocabulary is defined once, in ``carriers.status``."""

from __future__ import annotations

import ast
from pathlib import Path

from carriers.status import Status
from postpurchase.models import Shipment, TrackingEvent

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("carriers", "postpurchase", "bench", "scripts")
STATUS_VALUES = {member.value for member in Status}
#: Enums that share status words on purpose, each with the reason.
NAMED_AFTER_STATUSES = {
    (
        "postpurchase/models/enums.py",
        "Trigger",
    ): "a message trigger is named after the status that fires it; it is a message, not a status",
    (
        "postpurchase/customer_view.py",
        "Stage",
    ): "the customer's stage settles a status with the dates and scans (shipped before the first "
    "scan, stalled for expired); it is read from the status, never stored or compared with it",
    (
        "postpurchase/customer_view.py",
        "Step",
    ): "a progress-bar step is named after the status that reaches it",
    (
        "postpurchase/profiles.py",
        "Situation",
    ): "a micro-segment's parcel situation groups statuses with the promise (delayed, problem); "
    "it names the groups, is never stored as a status or compared with one",
}


def _enum_classes() -> list[tuple[str, str, set[str]]]:
    """(file, class name, string member values) of every enum-like class in the code base."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.ClassDef):
                    continue
                bases = {
                    getattr(base, "id", None) or getattr(base, "attr", None) for base in node.bases
                }
                if not bases & {"StrEnum", "Enum", "str"}:
                    continue
                values = {
                    statement.value.value
                    for statement in node.body
                    if isinstance(statement, ast.Assign)
                    and isinstance(statement.value, ast.Constant)
                    and isinstance(statement.value.value, str)
                }
                found.append((str(path.relative_to(ROOT)), node.name, values))
    return found


def test_no_other_enum_repeats_the_status_members() -> None:
    # One shared word is a different concept (a return "in_transit", an inbox row "pending");
    # two or more is a second copy of the vocabulary.
    copies = [
        (path, name, sorted(values & STATUS_VALUES))
        for path, name, values in _enum_classes()
        if (path, name) != ("carriers/status.py", "Status")
        and len(values & STATUS_VALUES) > 1
        and (path, name) not in NAMED_AFTER_STATUSES
    ]
    assert copies == []


def test_the_enum_scan_sees_the_status_enum() -> None:
    assert ("carriers/status.py", "Status", STATUS_VALUES) in _enum_classes()


def test_shipment_and_event_columns_store_the_carrier_status() -> None:
    for model in (Shipment, TrackingEvent):
        assert model.__table__.c.status.type.enum_class is Status  # type: ignore[attr-defined]
