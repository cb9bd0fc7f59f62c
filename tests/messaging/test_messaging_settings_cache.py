"""Merged messaging settings are cached by content, never by a dict's identity."""

from __future__ import annotations

from postpurchase.messaging.config import brand_settings
from postpurchase.models import Brand


def test_settings_edited_in_place_are_read_anew() -> None:
    brand = Brand(
        slug="acme", name="Acme", signing_secret="s", settings={"messaging": {"daily_cap": 3}}
    )
    assert brand_settings(brand)["daily_cap"] == 3
    brand.settings["messaging"]["daily_cap"] = 5
    assert brand_settings(brand)["daily_cap"] == 5


def test_brands_with_equal_settings_share_one_merge() -> None:
    first = Brand(slug="a", name="A", signing_secret="s", settings={"messaging": {"daily_cap": 4}})
    second = Brand(slug="b", name="B", signing_secret="s", settings={"messaging": {"daily_cap": 4}})
    assert brand_settings(first) is brand_settings(second)
