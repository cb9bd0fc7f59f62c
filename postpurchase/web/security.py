"""Cookie flags and the security headers every response carries (pages, JSON, errors, files)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import Flask, Response, current_app, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from postpurchase.config import WebSecurity

EXTENSION_KEY = "postpurchase.web_security"


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie sessions, without building the signer for a request with no cookie.

    Flask makes a new signing serializer for every request, cookie or not; webhooks and API
    calls never send one, and that was about 5 % of the accept path's CPU.
    """

    def open_session(self, app: Flask, request: Any) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def _add_headers(response: Response) -> Response:
    """The security headers a view did not set itself (a view may set its own, stricter ones).

    The response's header names are read once: werkzeug's ``setdefault`` scans and lowercases
    every header for each name, and these five were about 5 % of a webhook's CPU."""
    security: WebSecurity = current_app.extensions[EXTENSION_KEY]
    headers = response.headers
    present = {name.lower() for name, _value in headers.items()}
    # A page reached by a signed link (``.../<token>``) must not hand that link to anyone it links to.
    carries_token = bool(request.view_args and "token" in request.view_args)
    for name, value in _security_headers(security, carries_token):
        if name.lower() not in present:
            headers.add(name, value)
    return response


@lru_cache(maxsize=32)
def _security_headers(security: WebSecurity, carries_token: bool) -> tuple[tuple[str, str], ...]:
    wanted = [
        ("Content-Security-Policy", security.content_security_policy),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer" if carries_token else "strict-origin-when-cross-origin"),
    ]
    if security.https and security.hsts_max_age > 0:
        wanted.append(("Strict-Transport-Security", f"max-age={security.hsts_max_age}"))
    return tuple((name, value) for name, value in wanted if value)


def init_app(app: Flask) -> None:
    security = WebSecurity.from_config(app.config)
    app.config.update(security.flask_config())
    app.extensions[EXTENSION_KEY] = security
    app.session_interface = CookieSessions()
    app.after_request(_add_headers)
