"""What a new web process would do on its first pages, done before it answers any.

A tracking page costs about 2 ms, but a process's first one about 250 ms: Jinja compiles the
page's templates, Babel unpickles the locale's data, Flask-Babel reads its catalog, the carrier
registry imports its adapters. Under load
the requests that reach a new process meanwhile queue behind that; in ``bench/load.py`` every
tracking-page answer above 100 ms of a two-minute run was asked for in its first two seconds,
while each of the five gunicorn workers met its first pages. :func:`warm_up` runs from
``wsgi.py``, so each gunicorn worker (or, with ``--preload``, the master once, before forking)
pays it at start, once, instead of its first visitors. Tests and the command line, which build
apps by the hundred, skip it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from flask_babel import force_locale

from carriers import registry
from postpurchase.i18n import (
    SUPPORTED_LOCALES,
    current_translations,
    format_local_time,
    format_money,
)

#: The templates the web renders (emails and PDFs have environments of their own).
PAGE_TEMPLATES = "pages/"


def warm_up(app: Flask) -> list[str]:
    """Compile every page template, load each page language's dates, amounts and catalog, and
    import the carrier adapters (a parcel's carrier name and links); returns the names of the
    templates compiled."""
    names = app.jinja_env.list_templates(filter_func=lambda name: name.startswith(PAGE_TEMPLATES))
    for name in names:
        app.jinja_env.get_template(name)
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    with app.test_request_context():
        for locale in SUPPORTED_LOCALES:
            with force_locale(locale):
                current_translations().ugettext("Track your order")
            format_local_time(moment, str(app.config.get("DEFAULT_TIMEZONE", "Asia/Tokyo")), locale)
            format_money(1980, "JPY", locale)
    registry.codes()
    return names
