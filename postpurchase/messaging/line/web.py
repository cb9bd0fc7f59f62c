"""LINE and SMS opt-in pages, and the LINE Messaging API webhook.

- ``POST /webhooks/line/<brand>``: the account's webhook (:mod:`postpurchase.messaging.line.bot`).
- ``GET /<brand>/line/start/<token>``: the tracking page's (or an email's) LINE button; opens a chat
  with the account holding the opt-in code, which starts the account link.
- ``GET /<brand>/line/link``: the link-token page of LINE's account link; redirects to LINE with a
  nonce that names the order.
- ``POST /<brand>/optin/sms/<token>``: SMS updates for the order's parcels to a typed number.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from postpurchase.clock import utcnow
from postpurchase.config import running_app
from postpurchase.db import get_session
from postpurchase.i18n import gettext as _
from postpurchase.messaging.channels import configured
from postpurchase.messaging.line.bot import (
    LineWebhookRefused,
    account_link_url,
    add_friend_url,
    link_code,
    receive_line_webhook,
)
from postpurchase.messaging.optin import (
    OptinRefused,
    make_nonce,
    mobile_number,
    optin_token,
    read_optin,
    subscribe,
)
from postpurchase.models import Brand, Channel
from postpurchase.models.types import id_of
from postpurchase.web.customer import brand_or_404
from postpurchase.web.errors import ApiError
from postpurchase.web.merchant import check_csrf

line_pages = Blueprint("line_pages", __name__)


def optin_links(brand: Brand, order_id: int) -> dict[str, Any] | None:
    """What the tracking page's opt-in block offers for this order; None when no channel is set up."""
    config = current_app.config
    line = add_friend_url(config, brand.slug, "") is not None
    sms = configured(config, brand.slug, Channel.sms)
    if not (line or sms):
        return None
    token = optin_token(config["SECRET_KEY"], id_of(brand), order_id)
    return {
        "line_url": url_for("line_pages.start", brand_slug=brand.slug, token=token)
        if line
        else None,
        "sms_url": url_for("line_pages.sms_optin", brand_slug=brand.slug, token=token)
        if sms
        else None,
    }


@line_pages.app_context_processor
def _inject() -> dict[str, Any]:
    return {"optin_links": optin_links}


def _result(brand: Brand, message: str, status: int, *, error: bool = False) -> ResponseReturnValue:
    return render_template(
        "pages/optin_result.html", brand=brand, message=message, error=error
    ), status


@line_pages.post("/webhooks/line/<brand_slug>")
def webhook(brand_slug: str) -> ResponseReturnValue:
    app = running_app()
    try:
        outcome = receive_line_webhook(
            app,
            brand_slug=brand_slug,
            headers=dict(request.headers),
            body=request.get_data(),
            now=utcnow(),
            remote_addr=request.remote_addr or "",
        )
    except LineWebhookRefused as refused:
        details = [{"loc": refused.field, "msg": refused.message}]
        raise ApiError(refused.status, refused.code, refused.message, details) from None
    return jsonify(
        {"inbox_id": outcome.inbox_id, "duplicate": outcome.duplicate, "replies": outcome.replies}
    )


@line_pages.get("/<brand_slug>/line/start/<token>")
def start(brand_slug: str, token: str) -> ResponseReturnValue:
    brand = brand_or_404(brand_slug)
    secret = current_app.config["SECRET_KEY"]
    optin = read_optin(secret, token, id_of(brand))
    if optin is None:
        return _result(brand, _("This link is not valid."), 404, error=True)
    everything = request.args.get("all") == "1"
    text = link_code(secret, id_of(brand), optin["o"], everything=everything)
    url = add_friend_url(current_app.config, brand.slug, text)
    if url is None:
        return _result(brand, _("This shop does not send updates on LINE."), 404, error=True)
    return redirect(url)


@line_pages.get("/<brand_slug>/line/link")
def link(brand_slug: str) -> ResponseReturnValue:
    brand = brand_or_404(brand_slug)
    link_token = request.args.get("linkToken", "").strip()
    optin = read_optin(
        current_app.config["SECRET_KEY"], request.args.get("optin", ""), id_of(brand)
    )
    if not link_token or len(link_token) > 128:
        return _result(brand, _("The link is missing its LINE link token."), 400, error=True)
    if optin is None:
        return _result(brand, _("This link is not valid."), 400, error=True)
    nonce = make_nonce(current_app.config["SECRET_KEY"], id_of(brand), optin, now=utcnow())
    return redirect(account_link_url(link_token, nonce))


@line_pages.post("/<brand_slug>/optin/sms/<token>")
def sms_optin(brand_slug: str, token: str) -> ResponseReturnValue:
    brand = brand_or_404(brand_slug)
    check_csrf()
    optin = read_optin(current_app.config["SECRET_KEY"], token, id_of(brand))
    if optin is None:
        return _result(brand, _("This link is not valid."), 404, error=True)
    session = get_session()
    try:
        number = mobile_number(request.form.get("phone", ""))
        subscribe(
            session=session,
            brand_id=id_of(brand),
            order_id=optin["o"],
            channel=Channel.sms,
            everything=request.form.get("all") == "1",
            source="tracking_page",
            now=utcnow(),
            address=number,
        )
    except OptinRefused as refused:
        return _result(brand, str(refused.message), 400, error=True)
    session.commit()
    return _result(brand, _("You will receive delivery updates by SMS."), 200)
