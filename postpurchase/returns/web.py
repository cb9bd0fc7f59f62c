"""Return pages: the customer portal ``/<brand>/returns`` and the merchant's photo and action routes
under ``/merchant/returns`` (the list itself is the queue, :mod:`postpurchase.returns.queue_web`).

Customers reach an order exactly as on the tracking page (order number plus email or postal code,
then a signed link); the confirmation page and the label PDF take a signed return token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from babel.lists import format_list
from babel.numbers import format_decimal
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

from carriers.base import CarrierError
from carriers.labels import ReturnLabelBuyer
from postpurchase.clock import utcnow
from postpurchase.db import claim_scope, get_session
from postpurchase.i18n import format_day, format_money, time_slot_label, to_local
from postpurchase.i18n import gettext as _
from postpurchase.lookup import order_from_token, order_token, return_from_token, return_token
from postpurchase.models import Brand, Order, ReturnPhoto, ReturnRequest
from postpurchase.models.enums import DROPOFF_METHODS, ReturnMethod, TimeSlot
from postpurchase.models.types import id_of
from postpurchase.pdf import pdf_bytes
from postpurchase.returns import dropoffs, methods, operations, photos, shipping_label
from postpurchase.returns.form import (
    FormError,
    ReturnForm,
    parse_photos,
    parse_return_form,
    pending_tokens,
)
from postpurchase.returns.money import KeepReason, MoneyRules
from postpurchase.returns.policy import ReturnPolicy, policy_for
from postpurchase.returns.status import order_returns, return_status
from postpurchase.returns.wording import (
    ACTION_LABELS,
    DECISION_LABELS,
    KEEP_LABELS,
    METHOD_LABELS,
    NOT_RETURNABLE_LABELS,
    RESOLUTION_LABELS,
    STATE_LABELS,
    resolution_labels,
)
from postpurchase.tracking import routing
from postpurchase.web.customer import brand_or_404, lookup_from_form
from postpurchase.web.merchant import check_csrf, require_merchant
from postpurchase.web.params import Params

returns_portal = Blueprint("returns_portal", __name__)
merchant_returns = Blueprint("merchant_returns", __name__, url_prefix="/merchant/returns")


@returns_portal.context_processor
@merchant_returns.context_processor
def _words() -> dict[str, Any]:
    locale = str(get_locale())
    return {
        "state_labels": STATE_LABELS,
        "method_labels": METHOD_LABELS,
        "pickup_day": lambda iso: format_day(date.fromisoformat(iso), locale),
        "slot_label": lambda slot: time_slot_label(slot, locale),
        "distance": lambda km: format_decimal(km, "0.0", locale=locale),
        "resolution_labels": RESOLUTION_LABELS,
        "not_returnable_labels": NOT_RETURNABLE_LABELS,
        "money": lambda amount, currency: format_money(amount, currency, locale),
        "day": lambda moment, brand: format_day(to_local(moment, brand.timezone).date(), locale),
        "reason_label": lambda brand, code: policy_for(brand).reason_label(code, locale),
        "decisions": decisions,
    }


def decisions(rma: ReturnRequest) -> list[str]:
    """Why the policy decided as it did about ``rma``, for the merchant (``attributes["policy"]``
    and the keep-item verdict of ``attributes["money"]``)."""
    record = (rma.attributes or {}).get("policy") or {}
    said: list[str] = []
    if record:
        said.append(
            str(DECISION_LABELS["auto_approved" if record.get("auto_approved") else "manual"])
        )
        days = record.get("window_days")
        if record.get("tier"):
            said.append(str(DECISION_LABELS["tier"]) % {"days": days, "tier": record["tier"]})
        elif days is not None:
            said.append(str(DECISION_LABELS["window"]) % {"days": days})
        if record.get("recent_returns"):
            said.append(str(DECISION_LABELS["recent"]) % {"count": record["recent_returns"]})
    keep = ((rma.attributes or {}).get("money") or {}).get("keep_item")
    if isinstance(keep, str) and keep in KeepReason.__members__:
        said.append(str(KEEP_LABELS[KeepReason(keep)]))
    return said


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


@returns_portal.route("/<brand_slug>/returns", methods=["GET", "POST"])
def lookup(brand_slug: str) -> Any:
    brand = brand_or_404(brand_slug)
    error, status = None, 200
    if request.method == "POST":
        order, error, status = lookup_from_form(brand)
        if order is not None:
            return redirect(
                url_for(
                    "returns_portal.start",
                    brand_slug=brand.slug,
                    lang=request.args.get("lang"),
                    token=order_token(_secret(), id_of(brand), id_of(order)),
                )
            )
    return render_template("pages/returns/lookup.html", brand=brand, error=error), status


@returns_portal.route("/<brand_slug>/returns/order/<token>", methods=["GET", "POST"])
def start(brand_slug: str, token: str) -> Any:
    brand = brand_or_404(brand_slug)
    session = get_session()
    order_id = order_from_token(_secret(), token, id_of(brand))
    order = session.get(Order, order_id) if order_id is not None else None
    if order is None or order.brand_id != brand.id:
        return render_template(
            "pages/returns/lookup.html",
            brand=brand,
            error=_("This link has expired. Look up your order again."),
        ), 404
    form = operations.portal_form(session=session, brand=brand, order=order, now=utcnow())
    policy = policy_for(brand)
    locale = str(get_locale())
    rules = operations.money_rules(brand)
    error, status, money = None, 200, None
    kept: dict[int, photos.PendingPhoto] = {}
    if request.method == "POST":
        # Photos make this form larger than other bodies (the app's limit is for webhooks).
        request.max_content_length = photos.MAX_REQUEST_BYTES
        check_csrf()
        try:
            wanted = parse_return_form(
                request.form,
                lines=[item.line for item in form.eligibility.lines],
                policy=policy,
            )
            if not wanted.lines:
                raise operations.ReturnError("no_lines", _("Choose at least one item to return."))
            money = operations.preview_return(
                eligibility=form.eligibility,
                lines=wanted.lines,
                resolution=wanted.resolution,
                rules=rules,
                exchange_prices=form.exchange_prices,
            )
            kept = photos.kept_photos(
                secret_key=_secret(),
                instance_path=current_app.instance_path,
                tokens=pending_tokens(request.form, wanted=wanted),
                brand_id=id_of(brand),
                order_id=id_of(order),
                now=utcnow(),
            )
            uploaded = parse_photos(
                request.files,
                wanted=wanted,
                photo_reasons=policy.photo_reasons,
                kept=kept,
                required=not wanted.preview_only,
            )
            cleaned = {
                line_id: photos.clean_photo(f"photo-{line_id}", data)
                for line_id, data in uploaded.items()
            }
            if wanted.preview_only:
                kept |= _keep_for_submit(brand, order, cleaned)
            else:
                rma = _open_return(brand, order, wanted, rules, cleaned, kept)
                return redirect(
                    url_for(
                        "returns_portal.confirmation",
                        brand_slug=brand.slug,
                        token=return_token(_secret(), id_of(brand), id_of(rma)),
                        lang=request.args.get("lang"),
                    )
                )
        except (FormError, photos.PhotoError) as problem:
            error, status = str(problem), 400
        except operations.ReturnError as problem:
            error, status = str(problem), 422
    existing = order_returns(session=session, brand_id=id_of(brand), order_id=id_of(order))
    return render_template(
        "pages/returns/start.html",
        brand=brand,
        order=order,
        existing=[(rma, return_token(_secret(), id_of(brand), id_of(rma))) for rma in existing],
        form=form,
        policy=policy,
        locale=locale,
        error=error,
        preview=money,
        kept=kept,
        keep_labels=KEEP_LABELS,
        resolution_labels=resolution_labels(policy.part.exchange.other_products),
        hints={
            id_of(item.line): line_hints(policy, item.reasons, locale)
            for item in form.eligibility.lines
        },
    ), status


@dataclass(frozen=True)
class LineHints:
    """What the form says next to a line: the reasons that need a photo, and the follow-up
    questions of its reasons (label, question)."""

    #: The reasons that need a photo, as one list in the customer's language ("A、B", "A and B").
    photos: str
    questions: list[tuple[str, str]]


def line_hints(policy: ReturnPolicy, reasons: tuple[str, ...], locale: str) -> LineHints:
    return LineHints(
        photos=format_list(
            [policy.reason_label(c, locale) for c in reasons if c in policy.photo_reasons],
            style="or",
            locale=locale,
        ),
        questions=[
            (policy.reason_label(code, locale), question)
            for code in reasons
            if (question := policy.question(code, locale))
        ],
    )


def _keep_for_submit(
    brand: Brand, order: Order, cleaned: dict[int, photos.CleanPhoto]
) -> dict[int, photos.PendingPhoto]:
    """Photos chosen before the preview, kept so the customer need not choose them again."""
    return {
        line_id: photos.keep_pending(
            secret_key=_secret(),
            instance_path=current_app.instance_path,
            brand_id=id_of(brand),
            order_id=id_of(order),
            line_id=line_id,
            photo=photo,
            shown_name=request.files[f"photo-{line_id}"].filename or "",
            now=utcnow(),
        )
        for line_id, photo in cleaned.items()
    }


def _open_return(
    brand: Brand,
    order: Order,
    wanted: ReturnForm,
    rules: MoneyRules,
    cleaned: dict[int, photos.CleanPhoto],
    kept: dict[int, photos.PendingPhoto],
) -> ReturnRequest:
    folder = current_app.instance_path
    # A photo chosen again replaces the one kept from the preview.
    claimed = {
        line_id: photos.read_pending(instance_path=folder, brand_id=id_of(brand), pending=pending)
        for line_id, pending in kept.items()
        if line_id not in cleaned
    }
    # The write takes the database's write lock first (BEGIN IMMEDIATE on SQLite), so a second
    # submit at the same moment waits and then sees the first one's units, never a lock error.
    with claim_scope() as writer:
        rma = operations.request_return(
            session=writer,
            brand=writer.get_one(Brand, brand.id),
            order=writer.get_one(Order, order.id),
            lines=wanted.lines,
            resolution=wanted.resolution,
            comment=wanted.comment,
            now=utcnow(),
            rules=rules,
        )
        for line_id, photo in (claimed | cleaned).items():
            photos.store_photo(
                session=writer,
                instance_path=folder,
                brand_id=id_of(brand),
                return_id=id_of(rma),
                order_line_id=line_id,
                photo=photo,
                now=utcnow(),
            )
    for pending in kept.values():
        photos.drop_pending(instance_path=folder, brand_id=id_of(brand), pending=pending)
    return rma


def _return_or_404(brand: Brand, token: str) -> shipping_label.ReturnView:
    return_id = return_from_token(_secret(), token, id_of(brand))
    view = (
        shipping_label.return_view(session=get_session(), brand=brand, return_id=return_id)
        if return_id is not None
        else None
    )
    if view is None:
        abort(404)
    return view


@returns_portal.get("/<brand_slug>/returns/r/<token>")
def confirmation(brand_slug: str, token: str) -> Any:
    brand = brand_or_404(brand_slug)
    view = _return_or_404(brand, token)
    return render_template(
        "pages/returns/confirmation.html",
        brand=brand,
        view=view,
        token=token,
        has_label=view.rma.state in operations.LABEL_STATES,
        status=return_status(
            session=get_session(), rma=view.rma, payout_days=policy_for(brand).part.payout_days
        ),
        keep_labels=KEEP_LABELS,
        resolution_labels=resolution_labels(policy_for(brand).part.exchange.other_products),
        step=method_step(brand, view.rma, view.order),
    )


@dataclass(frozen=True)
class MethodStep:
    """What the status page offers and says about how the parcel is handed over."""

    offered: list[ReturnMethod]
    chosen: dict[str, Any] | None
    #: Drop-off kind → the nearest points to the order's postal code.
    dropoffs: dict[ReturnMethod, list[dropoffs.NearPoint]]
    pickup_dates: list[tuple[str, str]]
    pickup_slots: list[tuple[str, str]]
    #: The customer may still choose (or change) the method.
    open: bool


def method_step(brand: Brand, rma: ReturnRequest, order: Order) -> MethodStep:
    locale = str(get_locale())
    part = policy_for(brand).part
    offered = methods.offered_methods(brand, order)
    today = to_local(utcnow(), brand.timezone).date()
    return MethodStep(
        offered=offered,
        chosen=methods.chosen_method(rma),
        dropoffs={
            kind: dropoffs.nearest_dropoffs(
                session=get_session(),
                brand_id=id_of(brand),
                kind=kind,
                postal_code=order.shipping_postal_code or "",
                limit=part.nearest_dropoffs,
            )
            for kind in offered
            if kind in DROPOFF_METHODS
        },
        pickup_dates=[
            (day.isoformat(), format_day(day, locale))
            for day in methods.pickup_dates(part, methods.brand_calendar(brand), today)
        ]
        if ReturnMethod.pickup in offered
        else [],
        pickup_slots=[(str(slot), time_slot_label(slot, locale)) for slot in part.pickup_slots],
        open=rma.state in methods.CHOOSING_STATES
        and not (rma.attributes or {}).get("carrier_label", {}).get("label_url"),
    )


@returns_portal.post("/<brand_slug>/returns/r/<token>/method")
def choose_method(brand_slug: str, token: str) -> Any:
    """The customer's choice of how to hand the parcel over; a carrier label is bought right away."""
    brand = brand_or_404(brand_slug)
    view = _return_or_404(brand, token)
    check_csrf()
    form = Params(request.form)
    method = form.enum("method", ReturnMethod)
    if method is None:
        abort(400, description=_("Choose how you will send the parcel back."))
    choice = methods.MethodChoice(
        method=method,
        dropoff_id=form.id(f"dropoff-{method}") if method in DROPOFF_METHODS else None,
        pickup_date=form.date("pickup_date") if method == ReturnMethod.pickup else None,
        pickup_slot=form.enum("pickup_slot", TimeSlot) if method == ReturnMethod.pickup else None,
    )
    try:
        with claim_scope() as writer:
            methods.choose_method(
                session=writer,
                brand=writer.get_one(Brand, brand.id),
                rma=writer.get_one(ReturnRequest, view.rma.id),
                choice=choice,
                now=utcnow(),
            )
        if method == ReturnMethod.carrier_label:
            _buy_carrier_label(brand, id_of(view.rma))
    except operations.ReturnError as problem:
        abort(400, description=str(problem))
    except CarrierError:
        flash(
            _("The carrier could not issue the label just now. Please try again in a few minutes.")
        )
    return redirect(
        url_for(
            "returns_portal.confirmation",
            brand_slug=brand.slug,
            token=token,
            lang=request.args.get("lang"),
        ),
        303,
    )


def _buy_carrier_label(brand: Brand, return_id: int) -> None:
    """Create the carrier's shipment and commit its id, then buy: a retry never pays twice."""
    code = policy_for(brand).part.label_carrier or ""
    buyer = routing.account(current_app, code, brand.slug).adapter
    if not isinstance(buyer, ReturnLabelBuyer):
        raise CarrierError("this carrier sells no labels", carrier=code)
    with claim_scope() as writer:
        rma = writer.get_one(ReturnRequest, return_id)
        label = methods.label_request(session=writer, brand=brand, rma=rma)
        methods.start_carrier_label(session=writer, rma=rma, buyer=buyer, request=label)
    with claim_scope() as writer:
        methods.finish_carrier_label(
            session=writer,
            rma=writer.get_one(ReturnRequest, return_id),
            buyer=buyer,
            request=label,
            now=utcnow(),
        )


@returns_portal.get("/<brand_slug>/returns/r/<token>/label.pdf")
def label_pdf(brand_slug: str, token: str) -> Response:
    brand = brand_or_404(brand_slug)
    view = _return_or_404(brand, token)
    if view.rma.state not in operations.LABEL_STATES:
        abort(404)
    payment = policy_for(brand).label_payment
    html = render_template(
        "pdf/return_label.html",
        brand=brand,
        view=view,
        qr=shipping_label.qr_svg(view.rma.rma_number),
        code128=shipping_label.code128_svg(view.rma.rma_number),
        payment=payment,
        instructions=shipping_label.instructions(payment, view.deadline, brand.timezone),
    )
    return Response(
        pdf_bytes(html),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{view.rma.rma_number}.pdf"'},
    )


@merchant_returns.get("/")
def log() -> Any:
    """The old list's address: the queue is the list now; its state filter and language carry over."""
    kept: dict[str, Any] = {
        name: request.args[name] for name in ("state", "lang") if request.args.get(name)
    }
    return redirect(url_for("returns_queue.page", **kept), 302)


@merchant_returns.get("/photos/<token>")
@require_merchant
def photo(brand: Brand, token: str) -> Response:
    """One return photo, for the signed-in brand's staff, through a signed link that soon expires."""
    photo_id = photos.photo_from_token(_secret(), token, id_of(brand))
    row = get_session().get(ReturnPhoto, photo_id) if photo_id is not None else None
    if row is None or row.brand_id != brand.id:
        abort(404)
    path = photos.photo_path(current_app.instance_path, row)
    if not path.is_file():
        abort(404)
    return Response(
        path.read_bytes(),
        mimetype=row.content_type,
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )


@merchant_returns.post("/<int:return_id>/<action>")
@require_merchant
def act(brand: Brand, return_id: int, action: str) -> Any:
    check_csrf()
    if action not in ACTION_LABELS:
        abort(400, description="action must be one of " + ", ".join(ACTION_LABELS))
    try:
        # Under the write lock from the start (see the portal's submit): a WMS report or a second
        # click at the same moment waits, then finds the state already moved.
        with claim_scope() as writer:
            rma = operations.transition(
                session=writer,
                brand_id=id_of(brand),
                return_id=return_id,
                action=action,
                now=utcnow(),
            )
    except operations.ReturnError as problem:
        if problem.code == "unknown_return":
            abort(404)
        flash(str(problem))
        return redirect(url_for("returns_queue.page")), 303
    flash(_("Return %(rma)s: %(state)s.", rma=rma.rma_number, state=STATE_LABELS[rma.state]))
    return redirect(url_for("returns_queue.page", state=request.args.get("state")), 303)
