"""Cookie flags and the security headers every response carries (pages, JSON, errors, files)."""

from __future__ import annotations

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
    security: WebSecurity = current_app.extensions[EXTENSION_KEY]
    headers = response.headers
    if security.content_security_policy:
        headers.setdefault("Content-Security-Policy", security.content_security_policy)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # A page reached by a signed link (``.../<token>``) must not hand that link to anyone it links to.
    carries_token = bool(request.view_args and "token" in request.view_args)
    headers.setdefault(
        "Referrer-Policy", "no-referrer" if carries_token else "strict-origin-when-cross-origin"
    )
    if security.https and security.hsts_max_age > 0:
        headers.setdefault("Strict-Transport-Security", f"max-age={security.hsts_max_age}")
    return response


def init_app(app: Flask) -> None:
    security = WebSecurity.from_config(app.config)
    app.config.update(security.flask_config())
    app.extensions[EXTENSION_KEY] = security
    app.session_interface = CookieSessions()
    app.after_request(_add_headers)
