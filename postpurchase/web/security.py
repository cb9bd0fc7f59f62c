"""Cookie flags and the security headers every response carries (pages, JSON, errors, files)."""

from __future__ import annotations

from flask import Flask, Response, current_app, request

from postpurchase.config import WebSecurity

EXTENSION_KEY = "postpurchase.web_security"


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
    app.after_request(_add_headers)
