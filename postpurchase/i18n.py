"""Babel: locale selection and formatting helpers for pages, messages and reports."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, request
from flask_babel import Babel

SUPPORTED_LOCALES = ("ja", "en")
TRANSLATIONS_DIR = Path(__file__).parent / "translations"


def select_locale() -> str:
    """Explicit ``?lang=`` first, then the page's brand default, then the browser."""
    explicit = request.args.get("lang")
    if explicit in SUPPORTED_LOCALES:
        return explicit
    brand_locale = getattr(g, "brand_locale", None)
    best = request.accept_languages.best_match(SUPPORTED_LOCALES)
    return best or brand_locale or "ja"


def init_app(app: Flask) -> None:
    Babel(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(TRANSLATIONS_DIR),
        default_locale=str(app.config.get("DEFAULT_LOCALE", "ja")),
        default_timezone=str(app.config.get("DEFAULT_TIMEZONE", "Asia/Tokyo")),
    )
