"""Refusing throttled forms in pages: the page's message, and ``Retry-After`` on the 429 response."""

from __future__ import annotations

import math

from flask import Flask, Response, g, request

from postpurchase.i18n import ngettext


def client_address() -> str:
    """The address failed attempts are counted against; behind a reverse proxy, set
    ``TRUSTED_PROXIES`` so that this is the client's and not the proxy's."""
    return request.remote_addr or ""


def refuse(retry_after: int) -> str:
    """The page's message for a throttled attempt; the response gets ``Retry-After: retry_after``."""
    g.retry_after = retry_after
    minutes = max(1, math.ceil(retry_after / 60))
    message: str = ngettext(
        "Too many attempts. Please try again in %(num)d minute.",
        "Too many attempts. Please try again in %(num)d minutes.",
        minutes,
    )
    return message


def _retry_after_header(response: Response) -> Response:
    retry_after = g.pop("retry_after", None)
    if retry_after is not None and response.status_code == 429:
        response.headers["Retry-After"] = str(retry_after)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_retry_after_header)
