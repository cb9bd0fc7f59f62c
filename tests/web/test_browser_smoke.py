"""The browser fixtures work: a real Chromium loads a page the app serves and axe-core runs in it."""

from __future__ import annotations

from typing import Any


def test_tracking_lookup_page_loads_in_chromium_without_serious_accessibility_violations(
    browser: Any, live_server: str, shoot: Any, axe: Any, brand: Any
) -> None:
    browser.get(f"{live_server}/{brand.slug}/track")
    assert browser.find_element("css selector", "form")
    shots = shoot("lookup")
    assert all(path.stat().st_size > 1000 for path in shots)
    assert axe() == []
