"""What messaging needs from the app, handed in by the view, job or command that calls it.

Domain code (triggers, message context, tokens, templates) takes a :class:`MessagingSettings`
argument instead of reaching for ``current_app``, so it runs the same under a request, a scheduler
job, a command or a test, and says in its signature what it depends on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask
from jinja2 import Environment

from postpurchase.messaging.render import environment

EXTENSION_KEY = "postpurchase.messaging.jinja"


@dataclass(frozen=True)
class MessagingSettings:
    #: Signs the links in messages (:mod:`~postpurchase.tokens`, the tracking page link).
    secret_key: str
    #: Where customers reach this service: links in messages are absolute.
    base_url: str
    #: The app's configuration, read for each brand's channel credentials and the ``MAIL_FROM``.
    config: Mapping[str, Any]
    #: Message templates (:mod:`~postpurchase.messaging.render`).
    templates: Environment

    def public_url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


#: The settings, or a function that returns them, called only once they are needed (signal
#: receivers pass one: an event about a parcel nobody can be told of then needs no app).
SettingsSource = MessagingSettings | Callable[[], MessagingSettings]


def resolve(source: SettingsSource) -> MessagingSettings:
    return source if isinstance(source, MessagingSettings) else source()


def messaging_settings(app: Flask) -> MessagingSettings:
    """``app``'s messaging settings; the template environment is built once per app."""
    templates = app.extensions.get(EXTENSION_KEY)
    if templates is None:
        templates = app.extensions[EXTENSION_KEY] = environment(app.instance_path)
    return MessagingSettings(
        secret_key=str(app.config["SECRET_KEY"]),
        base_url=str(app.config["BASE_URL"]),
        config=app.config,
        templates=templates,
    )
