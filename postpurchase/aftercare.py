"""Use-and-care content for what a customer bought: the one home the tracking page (after delivery)
and the unboxing message both read, from the brand's ``messaging.care`` settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class _Line(Protocol):
    """What care content reads of an order line (a stored ``OrderLine`` or its read model)."""

    @property
    def sku(self) -> str: ...
    @property
    def category(self) -> str | None: ...
    @property
    def name(self) -> str: ...


def care_content(
    care: Mapping[str, Any], lines: Sequence[_Line], locale: str
) -> list[dict[str, Any]]:
    """Use-and-care content for the SKUs of the order (``care`` is ``messaging.care``: entries by
    ``sku`` and by ``category``): SKU entries first, then their category's."""
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    for line in lines:
        entry = care.get("sku", {}).get(line.sku) or care.get("category", {}).get(
            line.category or ""
        )
        key = line.sku if line.sku in care.get("sku", {}) else f"category:{line.category}"
        if not entry or key in seen:
            continue
        seen.add(key)
        localized = entry.get(locale) or entry.get("ja") or entry
        found.append(
            {
                "product": line.name or line.sku,
                "title": localized.get("title", ""),
                "body": localized.get("body", ""),
                "video_url": entry.get("video_url"),
            }
        )
    return found
