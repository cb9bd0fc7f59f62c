"""Messaging pages: the merchant's message log, preview and test send; the customer's feedback and
unsubscribe pages; the open pixel and click redirect (thin views over :mod:`operations`)."""

from __future__ import annotations

import base64
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale

from postpurchase.brands import get_brand
from postpurchase.clock import utcnow
from postpurchase.db import get_session
from postpurchase.i18n import SUPPORTED_LOCALES, format_local_time
from postpurchase.i18n import gettext as _
from postpurchase.messaging import current_settings, operations, sink
from postpurchase.messaging.catalogue import CATALOGUE, Trigger
from postpurchase.messaging.reasons import describe
from postpurchase.models import Brand, Channel, OutboxState
from postpurchase.models.types import id_of
from postpurchase.tokens import read_token
from postpurchase.web.merchant import check_csrf, require_merchant
from postpurchase.web.params import BadParameter, Params, whole_number
from postpurchase.web.wording import CHANNEL_LABELS, OUTBOX_STATE_LABELS

merchant_messages = Blueprint("merchant_messages", __name__, url_prefix="/merchant/messages")
customer_pages = Blueprint("messages_public", __name__)


@merchant_messages.context_processor
def _words() -> dict[str, Any]:
    """Translated names of triggers, states and channels, and local times, for the message pages."""
    return {
        "trigger_labels": {trigger: spec.label for trigger, spec in CATALOGUE.items()},
        "state_labels": OUTBOX_STATE_LABELS,
        "channel_labels": CHANNEL_LABELS,
        "message_reason": describe,
        "local_time": lambda moment, brand: format_local_time(
            moment, brand.timezone, str(get_locale())
        ),
    }


def _token(purpose: str, token: str) -> dict[str, Any] | None:
    return read_token(current_settings().secret_key, purpose, token)


#: 1×1 transparent GIF for the open pixel.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@merchant_messages.get("/")
@require_merchant
def log(brand: Brand) -> Any:
    args = request.args
    params = Params(args)
    entries = operations.message_log(
        session=get_session(),
        messaging=current_settings(),
        brand_id=id_of(brand),
        order_number=params.raw("order"),
        customer=params.raw("customer"),
        trigger=params.choice("trigger", list(CATALOGUE)),
        state=params.enum("state", OutboxState),
        cursor=params.cursor(),
    )
    counts = operations.state_counts(session=get_session(), brand_id=id_of(brand))
    return render_template(
        "pages/messaging/log.html",
        brand=brand,
        entries=entries,
        counts=counts,
        triggers=list(CATALOGUE),
        channels=list(Channel),
        args=args,
    )


@merchant_messages.get("/preview")
@require_merchant
def preview(brand: Brand) -> Any:
    params = Params(request.args)
    trigger = params.choice("trigger", list(CATALOGUE), Trigger.shipped) or Trigger.shipped
    locale = params.locale("locale", brand.locale if brand.locale in SUPPORTED_LOCALES else "ja")
    channel = params.enum("channel", Channel, Channel.email) or Channel.email
    shipment_id = params.id("shipment_id")
    now = utcnow()
    try:
        rendered = operations.preview(
            session=get_session(),
            messaging=current_settings(),
            brand=brand,
            trigger=trigger,
            locale=locale,
            channel=channel,
            shipment_id=shipment_id,
            today=now.date(),
            now=now,
        )
    except operations.UnknownShipment:
        abort(404, description=f"shipment_id: no shipment {shipment_id} for this brand")
    return render_template(
        "pages/messaging/preview.html",
        brand=brand,
        rendered=rendered,
        trigger=trigger,
        locale=locale,
        channel=channel,
        triggers=list(CATALOGUE),
        channels=list(Channel),
    )


@merchant_messages.post("/test")
@require_merchant
def test_send(brand: Brand) -> Any:
    check_csrf()
    params = Params(request.form)
    trigger = params.choice("trigger", list(CATALOGUE))
    channel = params.enum("channel", Channel, Channel.email) or Channel.email
    locale = params.locale("locale", "ja")
    recipient = request.form.get("recipient", "").strip()
    if trigger is None:
        raise BadParameter("trigger", "choose a trigger", list(CATALOGUE))
    if not recipient:
        raise BadParameter("recipient", "give an address to send the test to")
    session = get_session()
    operations.queue_test_message(
        session=session,
        messaging=current_settings(),
        brand=brand,
        trigger=trigger,
        channel=channel,
        recipient=recipient,
        locale=locale,
        now=utcnow(),
    )
    session.commit()
    flash(_("Test message queued for %(recipient)s.", recipient=recipient))
    return redirect(url_for("merchant_messages.log"))


@merchant_messages.post("/<int:message_id>/retry")
@require_merchant
def retry_one(brand: Brand, message_id: int) -> Any:
    """Send one failed or unknown message of the brand again (unknown: the merchant accepts a possible copy)."""
    check_csrf()
    session = get_session()
    try:
        operations.retry_message(
            session=session, brand_id=id_of(brand), message_id=message_id, now=utcnow()
        )
    except LookupError:
        abort(404)
    except operations.NotRetryable:
        abort(400, description="only failed or unknown messages can be sent again")
    session.commit()
    flash(_("The message will be sent again."))
    return redirect(url_for("merchant_messages.log", **_filters(request.form)))


@merchant_messages.post("/retry")
@require_merchant
def retry_failed(brand: Brand) -> Any:
    """Send again every failed message the log's filter shows (never the unknown ones in bulk)."""
    check_csrf()
    session = get_session()
    filters: dict[str, Any] = {
        name: request.form.get(field) or None for field, name in _RETRY_FILTERS
    }
    result = operations.retry_messages(
        session=session,
        brand_id=id_of(brand),
        state=OutboxState.failed,
        now=utcnow(),
        **filters,
    )
    session.commit()
    flash(_("%(count)d failed messages will be sent again.", count=len(result.retried)))
    return redirect(url_for("merchant_messages.log", **_filters(request.form)))


#: The log's filter fields (form name, :func:`operations.retry_messages` argument).
_RETRY_FILTERS = (("order", "order_number"), ("customer", "customer"), ("trigger", "trigger"))


def _filters(form: Any) -> dict[str, Any]:
    """The log's filter, carried through a retry form, to come back to the same view."""
    return {
        name: form[name] for name in ("order", "customer", "trigger", "state") if form.get(name)
    }


@merchant_messages.get("/mailbox")
@require_merchant
def mailbox(brand: Brand) -> Any:
    """The brand's messages caught by the local SMTP sink (``postpurchase messages sink``): development only."""
    messages = operations.mailbox(
        session=get_session(),
        brand_id=id_of(brand),
        folder=sink.mail_dir(current_app.instance_path),
    )
    return render_template("pages/messaging/mailbox.html", brand=brand, messages=messages)


def _brand_or_404(slug: str) -> Brand:
    brand = get_brand(session=get_session(), slug=slug)
    if brand is None:
        abort(404)
    return brand


@customer_pages.route("/<brand_slug>/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(brand_slug: str, token: str) -> Any:
    """RFC 8058: a POST with ``List-Unsubscribe=One-Click`` unsubscribes with no page in between."""
    brand = _brand_or_404(brand_slug)
    data = _token("unsubscribe", token)
    if data is None or data.get("b") != brand.id:
        abort(404)
    done = None
    if request.method == "POST":
        purpose = "all" if request.form.get("scope") == "all" else "marketing"
        session = get_session()
        operations.unsubscribe(
            session=session,
            brand_id=id_of(brand),
            channel=data["ch"],
            address=data["a"],
            purpose=purpose,
        )
        session.commit()
        if request.form.get("List-Unsubscribe") == "One-Click":
            return {"unsubscribed": True}
        done = purpose
    return render_template(
        "pages/messaging/unsubscribe.html", brand=brand, done=done, address=data["a"]
    )


@customer_pages.route("/<brand_slug>/feedback/<token>", methods=["GET", "POST"])
def feedback(brand_slug: str, token: str) -> Any:
    """A score link in the email (``?score=n``) records the score at once, then offers a comment."""
    brand = _brand_or_404(brand_slug)
    data = _token("feedback", token)
    if data is None or data.get("b") != brand.id:
        abort(404)
    posted = request.method == "POST"
    raw = request.form.get("score") if posted else request.args.get("score")
    if posted and raw is None:
        raise BadParameter("score", "choose a score from 0 to 10")
    answer = None
    if raw is not None:
        session = get_session()
        answer = operations.save_feedback(
            session=session,
            data=data,
            score=whole_number("score", raw, low=0, high=10),
            comment=request.form.get("comment", "") if posted else None,
            now=utcnow(),
        )
        session.commit()
    return render_template(
        "pages/messaging/feedback.html",
        brand=brand,
        saved=answer is not None,
        score=str(answer.nps_score) if answer else None,
        comment=answer.comment if answer else None,
        commented=posted,
    )


@customer_pages.get("/m/o/<token>.gif")
def opened(token: str) -> Response:
    data = _token("open", token)
    if data is not None:
        session = get_session()
        operations.record_event(
            session=session, message_id=int(data["m"]), kind="open", now=utcnow()
        )
        session.commit()
    return Response(PIXEL, mimetype="image/gif", headers={"Cache-Control": "no-store"})


@customer_pages.get("/m/c/<token>")
def clicked(token: str) -> Any:
    """Redirect only to the URL signed into the token (never an open redirect)."""
    data = _token("click", token)
    if data is None:
        abort(404)
    session = get_session()
    operations.record_event(
        session=session, message_id=int(data["m"]), kind="click", url=data["u"], now=utcnow()
    )
    session.commit()
    return redirect(data["u"])
