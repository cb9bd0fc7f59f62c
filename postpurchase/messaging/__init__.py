"""Customer messages: triggers → segments/rules → templates → outbox → channels.

Public functions other features call:

- :func:`postpurchase.messaging.triggers.enqueue` — write a message for a trigger in your session.
- :func:`postpurchase.messaging.outbox.send_due` — send what is due (the ``messaging.send`` job).
- :func:`postpurchase.messaging.timers.run_timers` — enqueue timer messages (``messaging.timers`` job).

Only this module, the views (``web``) and the commands (``cli``) touch the app; the rest takes a
:class:`~postpurchase.messaging.settings.MessagingSettings` from them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask

from postpurchase.clock import utcnow
from postpurchase.config import running_app

if TYPE_CHECKING:
    from postpurchase.messaging.settings import MessagingSettings


def current_settings() -> MessagingSettings:
    """The running app's messaging settings, for the signal receivers: they run inside the request,
    job or command that sent the signal, which has no settings argument to pass them."""
    from postpurchase.messaging.settings import messaging_settings

    return messaging_settings(running_app())


def send_job(app: Flask) -> None:
    from postpurchase.messaging.outbox import send_due

    send_due(app)


def timers_job(app: Flask) -> None:
    """Scheduler job: the timer messages that came due. Reads, then writes: on SQLite it holds the
    write lock from its first read, since a read transaction cannot become a write once another
    process has committed ("database is locked" at once, seen in a 10-minute load run)."""
    from postpurchase.db import claim_scope
    from postpurchase.messaging.settings import messaging_settings
    from postpurchase.messaging.timers import run_timers

    with claim_scope(app) as session:
        run_timers(session=session, messaging=messaging_settings(app), now=utcnow())


def init_app(app: Flask) -> None:
    """Connect this feature's signals, blueprints and merchant link."""
    from postpurchase.i18n import lazy_gettext
    from postpurchase.inbox import register_handler
    from postpurchase.messaging import receivers
    from postpurchase.messaging.line import bot as line_bot
    from postpurchase.messaging.line.web import line_pages
    from postpurchase.messaging.web import customer_pages, merchant_messages
    from postpurchase.web.merchant import add_merchant_link

    receivers.connect()
    app.register_blueprint(merchant_messages)
    app.register_blueprint(customer_pages)
    app.register_blueprint(line_pages)
    register_handler(app, line_bot.SOURCE, line_bot.line_event_handler(app))
    add_merchant_link(app, "merchant_messages.log", lazy_gettext("Customer messages"))
