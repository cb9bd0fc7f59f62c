"""One read model per entity: readers format what it says instead of working it out again."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "postpurchase"


def _asks_for_a_parcels_links(node: ast.AST) -> bool:
    """A call of ``customer_links`` with a tracking number (a carrier's name alone needs none)."""
    if not isinstance(node, ast.Call):
        return False
    name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
    number = node.args[1] if len(node.args) > 1 else None
    return name == "customer_links" and not (
        isinstance(number, ast.Constant) and number.value is None
    )


def test_only_the_read_model_works_out_a_parcels_carrier_links() -> None:
    askers = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(
            _asks_for_a_parcels_links(node)
            for node in ast.walk(ast.parse(path.read_text(), str(path)))
        )
    )
    assert askers == ["readmodels.py"]
