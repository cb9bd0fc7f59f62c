"""Merchant sign-in and the pages' shared guard.

Merchant pages live under ``/merchant``; a signed-in :class:`MerchantUser` works in one brand at a
time (kept in the session, switched with the brand switcher) among those it may open, and sees only
that brand. Feature blueprints protect their merchant views with :func:`require_merchant`, the one
place that enforces roles: a read-only member may look, never change.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar, cast, overload

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
from sqlmodel import Session

from postpurchase import accounts, audit
from postpurchase.accounts import add_merchant_user  # noqa: F401  (tests and commands add users from here)
from postpurchase.clock import utcnow
from postpurchase.db import claim_scope, get_session
from postpurchase.i18n import format_local_time
from postpurchase.i18n import gettext as _
from postpurchase.models import Brand, MerchantUser, Role
from postpurchase.web.throttling import client_address, refuse

merchant = Blueprint("merchant", __name__, url_prefix="/merchant")

F = TypeVar("F", bound=Callable[..., Any])


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    token: str = session["csrf"]
    return token


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
    user: MerchantUser | None = g.merchant_user
    return user


def current_merchant_brand() -> Brand | None:
    """The brand the signed-in user works in now, checked against its memberships on every request."""
    if "merchant_brand" in g:
        known: Brand | None = g.merchant_brand
        return known
    user = current_merchant_user()
    access = (
        accounts.brand_access(
            session=get_session(), user=user, brand_id=session.get("merchant_brand_id")
        )
        if user
        else None
    )
    brand, g.merchant_role = access if access else (None, None)
    g.merchant_brand = brand
    if brand is not None:
        g.brand_locale = brand.locale
    return brand


def current_merchant_role() -> Role | None:
    """The signed-in user's role in :func:`current_merchant_brand`."""
    current_merchant_brand()
    role: Role | None = g.merchant_role
    return role


def actor() -> str:
    """How the audit log names whoever sends this request."""
    user = current_merchant_user()
    return f"user:{user.email}" if user is not None else "anonymous"


def forbidden(message: str) -> Any:
    """A 403 page saying why, with the way back."""
    return abort(
        current_app.make_response(
            (render_template("pages/merchant/forbidden.html", message=message), 403)
        )
    )


@overload
def require_merchant(view: F, *, may_change: Role = ...) -> F: ...
@overload
def require_merchant(view: None = None, *, may_change: Role = ...) -> Callable[[F], F]: ...
def require_merchant(
    view: F | None = None, *, may_change: Role = Role.staff
) -> F | Callable[[F], F]:
    """Guard a merchant view: redirect to sign-in, pass the current brand as ``brand``.

    Anyone with a role in the brand may read (GET); other methods need ``may_change`` or above
    (staff by default, owners for managing people), else a 403 page.
    """

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            brand = current_merchant_brand()
            role = current_merchant_role()
            if brand is None or role is None:
                return redirect(url_for("merchant.login", next=request.full_path))
            if request.method not in {"GET", "HEAD", "OPTIONS"} and not accounts.role_allows(
                role, may_change
            ):
                forbidden(
                    _(
                        "Your role in this brand is read-only: you can look, but not change anything."
                    )
                    if role == Role.read_only
                    else _("Only the brand's owners can do this.")
                )
            return view(*args, brand=brand, **kwargs)

        return cast("F", wrapped)

    return decorate(view) if view is not None else decorate


def brand_choices() -> list[Brand]:
    """The brands the signed-in user may switch to (for the brand switcher)."""
    user = current_merchant_user()
    return accounts.brands_of(session=get_session(), user=user) if user else []


@merchant.app_context_processor
def _inject() -> dict[str, Any]:
    """What every page's console shell needs: the form token, the navigation, brand-local times."""
    return {
        "csrf_token": csrf_token,
        "merchant_brand_choices": brand_choices,
        "current_merchant_role": current_merchant_role,
        "console_nav": lambda section=None: console_nav(
            current_app, endpoint=request.endpoint, blueprint=request.blueprint, section=section
        ),
        "brand_time": _brand_time,
    }


def _brand_time(moment: datetime | None) -> str:
    """``moment`` in the signed-in brand's timezone and the page's locale ("" when None)."""
    brand = current_merchant_brand()
    if moment is None or brand is None:
        return ""
    return format_local_time(moment, brand.timezone, str(get_locale()))


def start_session(
    user: MerchantUser, brand_id: int | None = None, *, db: Session | None = None
) -> None:
    """Sign ``user`` in on this browser (in ``brand_id`` if given), recording it in the audit log
    in ``db`` (the request's session unless given) and committing."""
    session.clear()
    session["merchant_user_id"] = user.id
    session["merchant_session_version"] = user.session_version
    db = db or get_session()
    access = accounts.brand_access(session=db, user=user, brand_id=brand_id)
    if access is not None:
        session["merchant_brand_id"] = access[0].id
    audit.record(
        session=db,
        brand_id=access[0].id if access else None,
        actor=f"user:{user.email}",
        action="user.sign_in",
        subject=user.email,
    )
    db.commit()


@merchant.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error, status = None, 200
    if request.method == "POST":
        check_csrf()
        # Reads, then writes (the attempt, the sign-in): with the write lock from the start, so
        # on SQLite a worker's commit in between cannot make the write fail as "locked".
        with claim_scope() as db:
            result = accounts.sign_in(
                session=db,
                email=request.form.get("email", ""),
                password=request.form.get("password", ""),
                address=client_address(),
                now=utcnow(),
            )
            if result.user is not None:
                start_session(result.user, db=db)
        if result.user is not None:
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
        brand = current_merchant_brand()
        accounts.end_sessions(session=get_session(), user=user)
        audit.record(
            session=get_session(),
            brand_id=brand.id if brand else None,
            actor=actor(),
            action="user.sign_out",
            subject=user.email,
        )
        get_session().commit()
    session.clear()
    return redirect(url_for("merchant.login"))


@merchant.post("/brand")
def switch_brand() -> Any:
    """Work in another of the user's brands from now on; a brand the user may not open is a 404."""
    check_csrf()
    user = current_merchant_user()
    if user is None:
        return redirect(url_for("merchant.login"))
    db = get_session()
    slug = request.form.get("brand", "")
    brand = next((b for b in accounts.brands_of(session=db, user=user) if b.slug == slug), None)
    if brand is None:
        abort(404)
    session["merchant_brand_id"] = brand.id
    audit.record(
        session=db,
        brand_id=brand.id,
        actor=f"user:{user.email}",
        action="user.switch_brand",
        subject=brand.slug,
    )
    db.commit()
    target = request.form.get("next", "")
    return redirect(target if target.startswith("/merchant") else url_for("merchant.home"))


LINKS_KEY = "postpurchase.merchant_links"
SECTIONS_KEY = "postpurchase.merchant_sections"


def add_merchant_link(
    app: Flask, endpoint: str, label: LazyString, *, under: str | None = None
) -> None:
    """Link a feature's page from this app's console navigation (once per endpoint).

    ``under`` names the link whose section the page belongs to: the top bar keeps one link per
    section, and the section's pages show its links as tabs (insights, messages, people), so the
    bar stays short enough for a phone and never hides Settings off a desktop's edge.
    """
    links: dict[str, LazyString] = app.extensions.setdefault(LINKS_KEY, {})
    links.setdefault(endpoint, label)
    if under is not None:
        app.extensions.setdefault(SECTIONS_KEY, {}).setdefault(endpoint, under)


def merchant_links(app: Flask) -> list[tuple[str, LazyString]]:
    """Every link features added to this app's console: (endpoint, label), in order."""
    return list(app.extensions.get(LINKS_KEY, {}).items())


@dataclass(frozen=True)
class NavLink:
    endpoint: str
    label: LazyString
    current: bool


@dataclass(frozen=True)
class ConsoleNav:
    """The top bar's links, and the tabs of the section the page is in (empty: none)."""

    top: list[NavLink]
    tabs: list[NavLink]


def console_nav(
    app: Flask, *, endpoint: str | None, blueprint: str | None, section: str | None = None
) -> ConsoleNav:
    """The navigation for a page at ``endpoint`` of ``blueprint``. A page may name the link it
    belongs to as ``section`` (a parcel's page is under Shipments); otherwise the link of its own
    endpoint is current, else the first link of its blueprint."""
    links = merchant_links(app)
    under: dict[str, str] = app.extensions.get(SECTIONS_KEY, {})
    endpoints = [each for each, _ in links]
    here = section or (
        endpoint
        if endpoint in endpoints
        else next((each for each in endpoints if each.split(".")[0] == blueprint), None)
    )
    leader = under.get(here, here) if here else None
    top = [NavLink(each, label, each == leader) for each, label in links if each not in under]
    members = [(each, label) for each, label in links if leader and under.get(each) == leader]
    tabs = (
        [
            NavLink(each, label, each == here)
            for each, label in [(leader, dict(links)[leader]), *members]
        ]
        if members and leader
        else []
    )
    return ConsoleNav(top=top, tabs=tabs)


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
    links = merchant_links(current_app)
    return render_template("pages/merchant/home.html", brand=brand, links=links)
