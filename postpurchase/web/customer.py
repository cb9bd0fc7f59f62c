"""Customer pages: ``/<brand>/track`` (order number + email or postal code → tracking page)."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale

from postpurchase.branding import LOGO_MIMETYPES, branding_for, logo_file
from postpurchase.clock import utcnow
from postpurchase.db import get_session
from postpurchase.i18n import gettext as _
from postpurchase.lookup import (
    get_brand_to_read,
    look_up_order,
    order_from_token,
    order_link_path,
)
from postpurchase.models import Brand, Order
from postpurchase.models.types import id_of
from postpurchase.tokens import make_token
from postpurchase.web.presenters import build_tracking_page
from postpurchase.web.throttling import client_address, refuse

customer = Blueprint("customer", __name__)


@customer.app_context_processor
def _branding() -> dict[str, Any]:
    """Every page's header and accent come from :func:`branding_for` (``pages/base.html``)."""
    return {"branding_for": branding_for}


@customer.get("/<brand_slug>/logo/<logo>")
def logo(brand_slug: str, logo: str) -> Response:
    """A brand's uploaded logo, public like the pages and emails that show it. Any logo the brand
    ever uploaded is served, so emails sent before a change still show theirs."""
    brand = get_brand_to_read(session=get_session(), slug=brand_slug)
    stem, _dot, extension = logo.partition(".")
    if (
        brand is None
        or len(stem) != 64
        or any(c not in "0123456789abcdef" for c in stem)
        or extension not in LOGO_MIMETYPES
    ):
        abort(404)
    path = logo_file(current_app.instance_path, brand.slug, logo)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=LOGO_MIMETYPES[extension], max_age=86400)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


def brand_or_404(slug: str) -> Brand:
    """The brand of a customer page (its locale becomes the page default), to read only; 404
    when unknown."""
    brand = get_brand_to_read(session=get_session(), slug=slug)
    if brand is None:
        abort(404)
    g.brand_locale = brand.locale
    return brand


def tracking_url(brand: Brand, order_id: int, *, external: bool = True) -> str:
    """The signed link to an order's tracking page (for messages and redirects)."""
    path = order_link_path(current_app.config["SECRET_KEY"], brand.slug, id_of(brand), order_id)
    return str(current_app.config["BASE_URL"]).rstrip("/") + path if external else path


def lookup_from_form(brand: Brand) -> tuple[Order | None, str | None, int]:
    """The order named by the posted order number and email or postal code; else the error and its
    status. Failed guesses are counted per client address and brand, and refused past a limit."""
    number = request.form.get("order_number", "")
    secret = request.form.get("email_or_postal", "")
    if not number.strip() or not secret.strip():
        return None, _("Enter the order number and the email address or postal code."), 400
    db = get_session()
    result = look_up_order(
        session=db,
        brand_id=id_of(brand),
        number=number,
        email_or_postal=secret,
        address=client_address(),
        now=utcnow(),
    )
    db.commit()
    if result.retry_after:
        return None, refuse(result.retry_after), 429
    if result.order is not None:
        return result.order, None, 200
    return (
        None,
        _(
            "We could not find an order with these details. Check the order number "
            "and use the email address or postal code given when ordering."
        ),
        404,
    )


@customer.route("/<brand_slug>/track", methods=["GET", "POST"])
def lookup(brand_slug: str) -> Any:
    brand = brand_or_404(brand_slug)
    error, status = None, 200
    if request.method == "POST":
        order, error, status = lookup_from_form(brand)
        if order is not None:
            return redirect(tracking_url(brand, id_of(order), external=False))
    return render_template("pages/track_lookup.html", brand=brand, error=error), status


@customer.get("/<brand_slug>/track/<token>")
def order_page(brand_slug: str, token: str) -> Any:
    brand = brand_or_404(brand_slug)
    secret = current_app.config["SECRET_KEY"]
    order_id = order_from_token(secret, token, id_of(brand))
    if order_id is None:
        return render_template(
            "pages/track_lookup.html",
            brand=brand,
            error=_("This link has expired. Look up your order again."),
        ), 404
    view = build_tracking_page(
        session=get_session(),
        brand=brand,
        order_id=order_id,
        locale=str(get_locale()),
        now=utcnow(),
    )
    if view is None:
        abort(404)
    feedback = make_token(
        secret,
        "feedback",
        {"b": brand.id, "o": view.order_id, "s": view.first_shipment_id, "c": view.customer_id},
    )
    return render_template(
        "pages/track_order.html",
        brand=brand,
        order=view,
        returns_url=url_for("returns_portal.start", brand_slug=brand.slug, token=token),
        feedback_url=url_for("messages_public.feedback", brand_slug=brand.slug, token=feedback),
    )
