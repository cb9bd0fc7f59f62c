"""What a new web process would do on its first pages, done before it answers any.

A tracking page costs about 2 ms, but a process's first one cost 250 ms: Jinja compiled the
page's templates, Babel unpickled the locale's data, the carrier registry imported its adapters;
a first insights page spent 270 ms compiling its parts. Under load the requests that reach a new
process meanwhile queue behind that: in one ``bench/load.py`` run every tracking page above
100 ms was asked for in the first two seconds, while each of the five gunicorn workers met its
first pages. :func:`warm_up` runs from ``wsgi.py``, so each gunicorn worker (or, with
``--preload``, the master once, before forking) pays it as it starts, instead of its first
visitors; so does ``postpurchase run``. Tests and the other commands, which build apps by the
hundred or serve no pages, skip it. Both entry points call :func:`ready_to_serve`: the warm-up,
then :func:`freeze_warm_objects`.
"""

from __future__ import annotations

import gc
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

#: Templates the web's environment does not render: emails have an environment of their own.
OTHER_ENVIRONMENTS = ("emails/",)


def warm_up(app: Flask) -> list[str]:
    """Compile every template of the web (pages, the insights' parts, PDFs), load each page
    language's dates, amounts and catalog, and import the carrier adapters (a parcel's carrier
    name and links); returns the names of the templates compiled."""
    names = app.jinja_env.list_templates(
        filter_func=lambda name: not name.startswith(OTHER_ENVIRONMENTS)
    )
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


def freeze_warm_objects() -> int:
    """Keep what a warm process holds for good out of the garbage collector's full passes;
    returns how many objects that is.

    A warm web process holds about 170,000 objects that live as long as it does (modules, the
    compiled templates, catalogs, SQLAlchemy's compiled statements). Every full collection walked
    all of them: 84-89 ms with the process doing nothing else, and the request that set it off
    waited that long, where a tracking page costs 2 ms. Frozen, a full collection walks only what
    was made since: under 1 ms.
    With gunicorn's ``--preload`` this runs in the master before it forks, which also keeps the
    workers from copying the frozen objects' pages when a collection would have touched them.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def ready_to_serve(app: Flask) -> None:
    """What a serving process does before its first request: :func:`warm_up`, then
    :func:`freeze_warm_objects` (after it, so the compiled templates and catalogs are frozen too)."""
    warm_up(app)
    freeze_warm_objects()
