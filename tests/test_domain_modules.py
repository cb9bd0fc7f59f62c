"""Domain modules take settings, clock and paths as arguments; only entry points touch the app."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "postpurchase"
#: Where the app meets the domain: views, commands and signal receivers may read ``current_app``.
ENTRY_POINTS = {"api.py", "cli.py", "receivers.py"}
DOMAIN_MODULES = sorted(
    [path for path in (PACKAGE / "edd").glob("*.py") if path.name not in ENTRY_POINTS]
    + [PACKAGE / "tracking" / "planner.py"]
)


def _names(path: Path) -> set[str]:
    """Every name a module imports or refers to, attributes included (``flask.current_app``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom | ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
    return found


def test_domain_modules_do_not_use_current_app() -> None:
    assert DOMAIN_MODULES
    users = [
        path.relative_to(PACKAGE).as_posix()
        for path in DOMAIN_MODULES
        if {"current_app", "has_app_context"} & _names(path)
    ]
    assert users == []
