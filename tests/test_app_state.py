"""Per-app state lives in ``app.extensions``: a second app in the same process starts clean."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import lazy_gettext

from postpurchase import create_app
from postpurchase.inbox import handlers_of, register_handler
from postpurchase.intake import generic, shopify
from postpurchase.messaging.line import bot as line_bot
from postpurchase.tracking.webhooks import SOURCE_FAMILY
from postpurchase.web.merchant import add_merchant_link, console_nav, merchant_links


def _two_apps(app_config: dict[str, Any], tmp_path) -> tuple[Flask, Flask]:
    first = create_app(app_config)
    second = create_app(
        {
            **app_config,
            "INSTANCE_PATH": str(tmp_path / "other"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}",
        }
    )
    return first, second


def test_a_merchant_link_added_to_one_app_is_not_on_another(app_config, tmp_path) -> None:
    first, second = _two_apps(app_config, tmp_path)
    add_merchant_link(first, "merchant.home", lazy_gettext("Home"))
    assert "merchant.home" in dict(merchant_links(first))
    assert "merchant.home" not in dict(merchant_links(second))


def test_features_link_their_pages_once_per_app(app_config, tmp_path) -> None:
    first, second = _two_apps(app_config, tmp_path)
    expected = [
        "console.shipments",
        "console.exceptions",
        "merchant_messages.log",
        "merchant_experiments.index",
        "merchant_segments.index",
        "merchant_insights.page",
        "merchant_insights.voice_page",
        "merchant_insights.kits_page",
        "merchant_network.page",
        "returns_queue.page",
        "merchant_people.people",
        "merchant_people.audit_log",
        "merchant_settings.index",
    ]
    assert [endpoint for endpoint, _ in merchant_links(first)] == expected
    assert [endpoint for endpoint, _ in merchant_links(second)] == expected


def test_an_inbox_handler_registered_on_one_app_is_not_on_another(app_config, tmp_path) -> None:
    first, second = _two_apps(app_config, tmp_path)
    register_handler(first, "test-source", generic.apply_event)
    assert "test-source" in handlers_of(first).apply
    assert "test-source" not in handlers_of(second).apply
    assert set(handlers_of(second).apply) == {
        generic.SOURCE,
        shopify.SOURCE,
        SOURCE_FAMILY,
        line_bot.SOURCE,
    }


def test_the_top_bar_has_one_link_per_section_and_its_pages_are_tabs(app_config, tmp_path) -> None:
    first, _ = _two_apps(app_config, tmp_path)
    on_voice = console_nav(
        first, endpoint="merchant_insights.voice_page", blueprint="merchant_insights"
    )
    top = [link.endpoint for link in on_voice.top]
    assert "merchant_insights.voice_page" not in top
    assert "merchant_network.page" not in top
    assert [link.endpoint for link in on_voice.top if link.current] == ["merchant_insights.page"]
    assert [link.endpoint for link in on_voice.tabs] == [
        "merchant_insights.page",
        "merchant_insights.voice_page",
        "merchant_insights.kits_page",
        "merchant_network.page",
    ]
    assert [link.endpoint for link in on_voice.tabs if link.current] == [
        "merchant_insights.voice_page"
    ]


def test_a_page_outside_any_section_has_no_tabs(app_config, tmp_path) -> None:
    first, _ = _two_apps(app_config, tmp_path)
    on_parcel = console_nav(
        first, endpoint="console.shipment", blueprint="console", section="console.shipments"
    )
    assert on_parcel.tabs == []
    assert [link.endpoint for link in on_parcel.top if link.current] == ["console.shipments"]
