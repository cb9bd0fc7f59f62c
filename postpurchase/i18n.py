"""Babel: locale selection and formatting helpers for pages, messages and reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from babel.support import NullTranslations
from flask import Flask, Response, current_app, g, request
from flask_babel import Babel, LazyString, get_locale, get_translations

SUPPORTED_LOCALES = ("ja", "en")
TRANSLATIONS_DIR = Path(__file__).parent / "translations"
#: Keeps the language a visitor chose with the pages' language switch (``?lang=``) for the pages
#: after it, forms posted from them included.
LANG_COOKIE = "lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


def _ours(locale: object) -> str | None:
    """``locale`` if the pages are written in it (a query, a cookie or a setting may say anything)."""
    return locale if isinstance(locale, str) and locale in SUPPORTED_LOCALES else None


def select_locale() -> str:
    """The language chosen with ``?lang=``, on this request or (the cookie) an earlier one; else
    the browser's; else the page's brand default; else ``DEFAULT_LOCALE``."""
    chosen = _ours(request.args.get("lang")) or _ours(request.cookies.get(LANG_COOKIE))
    if chosen is not None:
        return chosen
    brand_locale = getattr(g, "brand_locale", None)
    best = request.accept_languages.best_match(SUPPORTED_LOCALES)
    return best or brand_locale or _ours(current_app.config.get("DEFAULT_LOCALE")) or "ja"


def _remember_chosen_language(response: Response) -> Response:
    """A page asked for with ``?lang=`` keeps that language for the next pages (HTML only: an
    API answer's language is no choice of the visitor's)."""
    explicit = _ours(request.args.get("lang"))
    if (
        explicit is not None
        and response.mimetype == "text/html"
        and request.cookies.get(LANG_COOKIE) != explicit
    ):
        response.set_cookie(
            LANG_COOKIE,
            explicit,
            max_age=LANG_COOKIE_MAX_AGE,
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
            httponly=True,
            samesite="Lax",
        )
    return response


def init_app(app: Flask) -> None:
    Babel(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(TRANSLATIONS_DIR),
        default_locale=str(app.config.get("DEFAULT_LOCALE", "ja")),
        default_timezone=str(app.config.get("DEFAULT_TIMEZONE", "Asia/Tokyo")),
    )
    # Added to the environment by the i18n extension Flask-Babel enables.
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda string: current_translations().ugettext(string),
        ngettext=lambda singular, plural, n: current_translations().ungettext(singular, plural, n),
        pgettext=lambda context, string: current_translations().upgettext(context, string),
        npgettext=lambda context, singular, plural, n: current_translations().unpgettext(
            context, singular, plural, n
        ),
        newstyle=True,
    )
    app.jinja_env.globals["get_locale"] = get_locale
    app.after_request(_remember_chosen_language)


def current_translations() -> NullTranslations:
    """Flask-Babel's ``get_translations()``, remembered for the app context while its locale
    stays the same object (``force_locale`` and ``refresh`` give a new one).

    Flask-Babel looks the context, the domain and the locale up again, and names the locale, on
    every string it translates; a tracking page translates about sixty, and those lookups were a
    tenth of its CPU. The memo sits in Flask-Babel's own namespace of the context, next to the
    locale it is checked against, so a string already translated once costs one look at ``g``.
    """
    try:
        babel = g.get("_flask_babel")
    except RuntimeError:  # no app context: Flask-Babel's untranslated fallback
        outside: NullTranslations = get_translations()
        return outside
    if babel is not None:
        remembered: tuple[object, NullTranslations] | None = getattr(babel, _MEMO, None)
        if remembered is not None and remembered[0] is getattr(babel, "babel_locale", None):
            return remembered[1]
    locale = get_locale()  # selects it on first use, and creates Flask-Babel's namespace
    translations: NullTranslations = get_translations()
    setattr(g._flask_babel, _MEMO, (locale, translations))
    return translations


#: Where :func:`current_translations` keeps its memo in Flask-Babel's namespace of the context.
_MEMO = "postpurchase_translations"


def gettext(string: str, **variables: Any) -> str:
    """Flask-Babel's ``gettext`` on :func:`current_translations`."""
    translated = current_translations().ugettext(string)
    return translated % variables if variables else translated


def pgettext(context: str, string: str, **variables: Any) -> str:
    translated = current_translations().upgettext(context, string)
    return translated % variables if variables else translated


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    variables.setdefault("num", num)
    return current_translations().ungettext(singular, plural, num) % variables


def lazy_gettext(string: str, **variables: Any) -> LazyString:
    """A string translated each time it is used (module-level wording), by :func:`gettext`."""
    return LazyString(gettext, string, **variables)


def lazy_pgettext(context: str, string: str, **variables: Any) -> LazyString:
    return LazyString(pgettext, context, string, **variables)


# Formatting for pages, messages and reports: one home, so every surface says dates and money alike.

from datetime import UTC, date, datetime  # noqa: E402
from decimal import Decimal  # noqa: E402
from functools import lru_cache  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

from babel import Locale  # noqa: E402
from babel.dates import DateTimePattern, match_skeleton, parse_pattern  # noqa: E402
from babel.numbers import format_currency, get_currency_precision  # noqa: E402


@lru_cache(maxsize=32)
def babel_locale(locale: str) -> Locale:
    """``locale`` parsed once per process: Babel parses an identifier again on every call given
    one, several times per formatted date or amount (a tracking page formats dozens)."""
    return Locale.parse(locale)


@lru_cache(maxsize=64)
def _skeleton_pattern(skeleton: str, locale: str) -> DateTimePattern:
    """What :func:`babel.dates.format_skeleton` resolves on every call, once per process."""
    skeletons = babel_locale(locale).datetime_skeletons
    if skeleton not in skeletons:
        skeleton = match_skeleton(skeleton, skeletons) or skeleton
    return parse_pattern(skeletons[skeleton])


def format_skeleton(skeleton: str, value: date | datetime, locale: str) -> str:
    """``babel.dates.format_skeleton(skeleton, value, locale=locale)``, with the pattern cached."""
    if not isinstance(value, datetime):
        # As Babel does: a day is formatted as its midnight in UTC (its fields are the day's).
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return _skeleton_pattern(skeleton, locale).apply(value, babel_locale(locale))


def minor_to_decimal(amount_minor: int, currency: str) -> Decimal:
    """Minor units to a decimal amount (JPY has no minor unit: 1980 → 1980)."""
    return Decimal(amount_minor).scaleb(-get_currency_precision(currency))


@lru_cache(maxsize=4096)
def format_money(amount_minor: int, currency: str, locale: str) -> str:
    """``¥1,980`` / ``￥1,980`` / ``$19.80``: Babel's currency format in ``locale``.

    Kept per process: a catalogue's prices and totals recur on every page and message that shows
    them, and Babel's formatting was a twentieth of a tracking page's CPU."""
    return format_currency(
        minor_to_decimal(amount_minor, currency), currency, locale=babel_locale(locale)
    )


def to_local(moment: datetime, timezone: str) -> datetime:
    return moment.astimezone(ZoneInfo(timezone))


@lru_cache(maxsize=1024)
def format_day(day: date, locale: str) -> str:
    """A delivery day as customers read it: ``11月25日(水)`` in Japanese, ``Wed, Nov 25`` in English.

    Kept per process, like :func:`format_local_time`: a parcel's days and scan times come back on
    every view of its page, and Babel's formatting was a twentieth of a tracking page's CPU."""
    return format_skeleton("MMMEd", day, locale)


@lru_cache(maxsize=4096)
def format_local_time(moment: datetime, timezone: str, locale: str) -> str:
    """``11月25日(水) 14:05`` in the brand's or customer's timezone."""
    local = to_local(moment, timezone)
    return f"{format_day(local.date(), locale)} {format_skeleton('Hm', local, locale)}"


TIME_SLOT_LABELS: dict[str, dict[str, str]] = {
    "morning": {"ja": "午前中", "en": "morning (8:00–12:00)"},
    "12-14": {"ja": "12時〜14時", "en": "12:00–14:00"},  # Sagawa and Japan Post only
    "14-16": {"ja": "14時〜16時", "en": "14:00–16:00"},
    "16-18": {"ja": "16時〜18時", "en": "16:00–18:00"},
    "18-20": {"ja": "18時〜20時", "en": "18:00–20:00"},
    "19-21": {"ja": "19時〜21時", "en": "19:00–21:00"},
}


def time_slot_label(slot: str | None, locale: str) -> str:
    """The Japanese delivery time slot (時間帯指定) in ``locale``; empty when none was asked for."""
    if not slot:
        return ""
    labels = TIME_SLOT_LABELS[str(slot)]
    return labels.get(locale[:2], labels["en"])
