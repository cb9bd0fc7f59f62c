"""A persona in words people read, in the current locale: one home, translated by Babel.

A description is a short run of facts, each a message of its own so that every language can word
it naturally ("Buys tea again and again, never returns, prefers LINE" / 「お茶をくり返し購入、
返品なし、LINEを好む」). Categories are called what the brand calls them
(:attr:`~postpurchase.settings.model.BrandSettings.category_names`), never by their code when a
name exists.
"""

from __future__ import annotations

from typing import Any

from flask_babel import get_locale

from postpurchase.i18n import gettext as _
from postpurchase.i18n import lazy_gettext as _l
from postpurchase.models import Channel
from postpurchase.personas.model import Frequency, Portrait, Returning
from postpurchase.settings.model import category_name

RETURNING = {
    Returning.never: _l("never returns"),
    Returning.sometimes: _l("sometimes returns"),
    Returning.often: _l("often returns"),
}
LAPSED = _l("no order for six months")
PREFERS = {
    Channel.email: _l("prefers email"),
    Channel.sms: _l("prefers SMS"),
    Channel.line: _l("prefers LINE"),
    Channel.line_notification: _l("prefers LINE"),
    Channel.webhook: _l("prefers the brand's own channel"),
}


def describe(portrait: Portrait, category_names: dict[str, dict[str, str]]) -> str:
    """The persona in the current locale's words, with the brand's ``category_names``
    (``settings_for(brand).category_names``)."""
    locale = str(get_locale() or "en")
    facts: list[Any] = [
        _buying(
            portrait.frequency,
            category_name(category_names, portrait.category, locale) if portrait.category else None,
        ),
        RETURNING[portrait.returning],
    ]
    if portrait.lapsed:
        facts.append(LAPSED)
    if portrait.channel in PREFERS:
        facts.append(PREFERS[Channel(portrait.channel)])
    text = str(facts[0])
    for fact in facts[1:]:
        # Translators: a persona's description followed by one more fact about it.
        text = _("%(description)s, %(fact)s", description=text, fact=str(fact))
    return text


def _buying(frequency: Frequency, category: str | None) -> str:
    """What they buy (a category's name; None: a mixed basket) and how often."""
    if category is None:
        if frequency is Frequency.repeat:
            return _("Buys a mix of products again and again")
        if frequency is Frequency.occasional:
            return _("Buys a mix of products now and then")
        return _("Bought a mix of products once")
    if frequency is Frequency.repeat:
        return _("Buys %(category)s again and again", category=category)
    if frequency is Frequency.occasional:
        return _("Buys %(category)s now and then", category=category)
    return _("Bought %(category)s once", category=category)
