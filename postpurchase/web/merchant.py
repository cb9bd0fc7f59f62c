"""Merchant sign-in and the pages' shared guard.

Merchant pages live under ``/merchant``; a signed-in :class:`MerchantUser` sees only its own brand.
Feature blueprints protect their merchant views with :func:`require_merchant`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import LazyString, get_locale
from flask_babel import gettext as _

from postpurchase import accounts
from postpurchase.accounts import add_merchant_user  # noqa: F401  (tests and commands add users from here)
from postpurchase.clock import utcnow
from postpurchase.db import get_session
from postpurchase.i18n import format_local_time
from postpurchase.models import Brand, MerchantUser
from postpurchase.web.throttling import client_address, refuse

merchant = Blueprint("merchant", __name__, url_prefix="/merchant")

F = TypeVar("F", bound=Callable[..., Any])


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    if not sent or not secrets.compare_digest(sent, session.get("csrf", "")):
        abort(400, description="The form expired; reload the page and try again.")


def current_merchant_user() -> MerchantUser | None:
    """The user of the sign-in cookie; None when absent or ended by sign-out or a new password."""
    if "merchant_user" not in g:
        g.merchant_user = accounts.user_for_session(
            session=get_session(),
            user_id=session.get("merchant_user_id"),
            version=session.get("merchant_session_version"),
        )
    return g.merchant_user


def current_merchant_brand() -> Brand | None:
    if "merchant_brand" in g:
        return g.merchant_brand
    user = current_merchant_user()
    brand = get_session().get(Brand, user.brand_id) if user else None
    g.merchant_brand = brand
    if brand is not None:
        g.brand_locale = brand.locale
    return brand


def require_merchant(view: F) -> F:
    """Guard a merchant view: redirect to sign-in, pass the signed-in brand as ``brand``."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        brand = current_merchant_brand()
        if brand is None:
            return redirect(url_for("merchant.login", next=request.full_path))
        return view(*args, brand=brand, **kwargs)

    return wrapped  # type: ignore[return-value]


@merchant.app_context_processor
def _inject() -> dict[str, Any]:
    """What every page's console shell needs: the form token, the navigation, brand-local times."""
    return {
        "csrf_token": csrf_token,
        "merchant_nav": lambda: merchant_links(current_app),  # type: ignore[arg-type]
        "brand_time": _brand_time,
    }


def _brand_time(moment: datetime | None) -> str:
    """``moment`` in the signed-in brand's timezone and the page's locale ("" when None)."""
    brand = current_merchant_brand()
    if moment is None or brand is None:
        return ""
    return format_local_time(moment, brand.timezone, str(get_locale()))


@merchant.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error, status = None, 200
    if request.method == "POST":
        check_csrf()
        db = get_session()
        result = accounts.sign_in(
            session=db,
            email=request.form.get("email", ""),
            password=request.form.get("password", ""),
            address=client_address(),
            now=utcnow(),
        )
        db.commit()
        if result.user is not None:
            session.clear()
            session["merchant_user_id"] = result.user.id
            session["merchant_session_version"] = result.user.session_version
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/merchant") else url_for("merchant.home"))
        if result.retry_after:
            error, status = refuse(result.retry_after), 429
        else:
            error, status = _("The email or password is not correct."), 401
    return render_template("pages/merchant/login.html", error=error), status


@merchant.post("/logout")
def logout() -> Any:
    check_csrf()
    user = current_merchant_user()
    if user is not None:
        accounts.end_sessions(session=get_session(), user=user)
        get_session().commit()
    session.clear()
    return redirect(url_for("merchant.login"))


LINKS_KEY = "postpurchase.merchant_links"


def add_merchant_link(app: Flask, endpoint: str, label: LazyString) -> None:
    """Link a feature's page from this app's merchant home page (once per endpoint)."""
    links: dict[str, LazyString] = app.extensions.setdefault(LINKS_KEY, {})
    links.setdefault(endpoint, label)


def merchant_links(app: Flask) -> list[tuple[str, LazyString]]:
    """The links features added to this app's merchant home page: (endpoint, label), in order."""
    return list(app.extensions.get(LINKS_KEY, {}).items())


HOME_KEY = "postpurchase.merchant_home"


def set_merchant_home(app: Flask, view: Callable[[Brand], Any]) -> None:
    """Let a feature draw the merchant home page (the console's dashboard) for this app."""
    app.extensions[HOME_KEY] = view


@merchant.get("/")
@require_merchant
def home(brand: Brand) -> Any:
    view = current_app.extensions.get(HOME_KEY)
    if view is not None:
        return view(brand)
    links = merchant_links(current_app)  # type: ignore[arg-type]
    return render_template("pages/merchant/home.html", brand=brand, links=links)
