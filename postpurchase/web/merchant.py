"""Merchant sign-in and the pages' shared guard.

Merchant pages live under ``/merchant``; a signed-in :class:`MerchantUser` sees only its own brand.
Feature blueprints protect their merchant views with :func:`require_merchant`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlmodel import Session, select
from werkzeug.security import check_password_hash, generate_password_hash

from postpurchase.db import get_session
from postpurchase.models import Brand, MerchantUser

merchant = Blueprint("merchant", __name__, url_prefix="/merchant")

F = TypeVar("F", bound=Callable[..., Any])


def add_merchant_user(*, session: Session, brand_id: int, email: str, password: str, name: str = "") -> MerchantUser:
    user = MerchantUser(brand_id=brand_id, email=email.strip().lower(), name=name,
                        password_hash=generate_password_hash(password))
    session.add(user)
    session.flush()
    return user


def authenticate(*, session: Session, email: str, password: str) -> MerchantUser | None:
    """The user whose email and password match; None otherwise (the same answer for both cases)."""
    users = session.exec(select(MerchantUser).where(MerchantUser.email == email.strip().lower())).all()
    for user in users:
        if check_password_hash(user.password_hash, password):
            return user
    return None


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    if not sent or not secrets.compare_digest(sent, session.get("csrf", "")):
        abort(400, description="The form expired; reload the page and try again.")


def current_merchant_brand() -> Brand | None:
    if "merchant_brand" in g:
        return g.merchant_brand
    user_id = session.get("merchant_user_id")
    if user_id is None:
        return None
    s = get_session()
    user = s.get(MerchantUser, user_id)
    brand = s.get(Brand, user.brand_id) if user else None
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
    return {"csrf_token": csrf_token}


@merchant.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        check_csrf()
        user = authenticate(session=get_session(), email=request.form.get("email", ""),
                            password=request.form.get("password", ""))
        if user is not None:
            session.clear()
            session["merchant_user_id"] = user.id
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/merchant") else url_for("merchant.home"))
        error = _("The email or password is not correct.")
    return render_template("pages/merchant/login.html", error=error), (401 if error else 200)


@merchant.post("/logout")
def logout() -> Any:
    check_csrf()
    session.clear()
    return redirect(url_for("merchant.login"))


#: Links on the merchant home page, contributed by features: (endpoint, label callable).
MERCHANT_LINKS: list[tuple[str, Callable[[], str]]] = []


@merchant.get("/")
@require_merchant
def home(brand: Brand) -> Any:
    return render_template("pages/merchant/home.html", brand=brand, links=MERCHANT_LINKS)
