"""The merchant returns queue ``/merchant/returns/queue``: filters, bulk actions and inspection (thin views)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale

from postpurchase.clock import utcnow
from postpurchase.db import claim_scope, get_session
from postpurchase.i18n import format_day, format_money, to_local
from postpurchase.i18n import gettext as _
from postpurchase.i18n import lazy_gettext as _l
from postpurchase.models import Brand, ReturnLine
from postpurchase.models.enums import ConditionGrade, RestockAction, ReturnResolution, ReturnState
from postpurchase.models.types import id_of
from postpurchase.returns import inspection, photos, queue
from postpurchase.returns.operations import ReturnError
from postpurchase.returns.policy import policy_for
from postpurchase.returns.queue import BulkAction, QueueFilters, QueueSort, RowResult
from postpurchase.returns.web import decisions
from postpurchase.returns.wording import RESOLUTION_LABELS, STATE_LABELS
from postpurchase.web.merchant import check_csrf, current_merchant_user, require_merchant
from postpurchase.web.params import BadParameter, Params, whole_number

returns_queue = Blueprint("returns_queue", __name__, url_prefix="/merchant/returns/queue")

#: The filters (and language) the page keeps across bulk actions and grading.
FILTER_NAMES = ("state", "reason", "resolution", "from", "to", "photos", "over", "sort", "lang")

BULK_LABELS = {
    BulkAction.approve: _l("Approve"),
    BulkAction.reject: _l("Reject"),
    BulkAction.receive: _l("Mark received"),
    BulkAction.pay: _l("Issue refund or credit"),
}
GRADE_LABELS = {
    ConditionGrade.A: _l("A: new, resellable"),
    ConditionGrade.B: _l("B: opened"),
    ConditionGrade.C: _l("C: damaged"),
    ConditionGrade.D: _l("D: unsellable"),
}
RESTOCK_LABELS = {
    RestockAction.restock: _l("Restock"),
    RestockAction.write_off: _l("Write off"),
}
SORT_LABELS = {
    QueueSort.newest: _l("Newest first"),
    QueueSort.oldest: _l("Oldest first"),
    QueueSort.value: _l("Highest value first"),
}


@returns_queue.context_processor
def _words() -> dict[str, Any]:
    locale = str(get_locale())
    return {
        "state_labels": STATE_LABELS,
        "resolution_labels": RESOLUTION_LABELS,
        "money": lambda amount, currency: format_money(amount, currency, locale),
        "day": lambda moment, brand: format_day(to_local(moment, brand.timezone).date(), locale),
        "reason_label": lambda brand, code: policy_for(brand).reason_label(code, locale),
        "decisions": decisions,
    }


def _actor() -> str:
    user = current_merchant_user()
    return f"user:{user.email}" if user else "user:?"


def _filters(params: Params) -> QueueFilters:
    return QueueFilters(
        state=params.enum("state", ReturnState),
        reason=params.raw("reason"),
        resolution=params.enum("resolution", ReturnResolution),
        start=params.date("from"),
        end=params.date("to"),
        has_photos=params.choice("photos", ("1",)) == "1",
        over_value=params.integer("over", low=0),
    )


def _kept(values: Any) -> dict[str, Any]:
    return {name: values[name] for name in FILTER_NAMES if values.get(name)}


def _page(brand: Brand, results: list[RowResult] | None = None, status: int = 200) -> Any:
    params = Params(request.args)
    session = get_session()
    found = queue.returns_queue(
        session=session,
        brand_id=id_of(brand),
        timezone=brand.timezone,
        filters=_filters(params),
        sort=params.enum("sort", QueueSort, QueueSort.newest) or QueueSort.newest,
        cursor=params.cursor(),
    )
    secret = str(current_app.config["SECRET_KEY"])
    return render_template(
        "pages/returns/queue.html",
        brand=brand,
        found=found,
        args=request.args,
        kept=_kept(request.args),
        results=results,
        states=list(ReturnState),
        resolutions=list(ReturnResolution),
        reasons=list(policy_for(brand).reasons),
        sorts=SORT_LABELS,
        bulk_labels=BULK_LABELS,
        grade_labels=GRADE_LABELS,
        restock_labels=RESTOCK_LABELS,
        centres=inspection.centres(session=session, brand_id=id_of(brand)),
        inspectable=inspection.INSPECTABLE_STATES,
        photo_url=lambda photo: url_for(
            "merchant_returns.photo",
            token=photos.photo_token(secret, id_of(brand), id_of(photo)),
        ),
    ), status


@returns_queue.get("/")
@require_merchant
def page(brand: Brand) -> Any:
    return _page(brand)


@returns_queue.post("/bulk")
@require_merchant
def bulk(brand: Brand) -> Any:
    """Take one action on the ticked RMAs and show, row by row, what was done and what was refused."""
    check_csrf()
    params = Params(request.form)
    action = params.required_enum("action", BulkAction, "choose an action")
    ids = [whole_number("return_id", raw, low=1) for raw in request.form.getlist("return_id")]
    if not ids:
        raise BadParameter("return_id", "tick at least one return", where="form")
    if len(ids) > queue.MAX_BULK:
        raise BadParameter("return_id", f"at most {queue.MAX_BULK} returns at once", where="form")
    try:
        with claim_scope() as writer:
            results = queue.bulk_act(
                session=writer,
                brand_id=id_of(brand),
                return_ids=ids,
                action=action,
                reason=request.form.get("reason"),
                actor=_actor(),
                now=utcnow(),
            )
    except ReturnError as refused:
        raise BadParameter("reason", str(refused.message), where="form") from None
    # The request's own session read before the writer committed: end its snapshot so the page
    # shows the states the action reached.
    get_session().rollback()
    return _page(brand, results)


def _inspect(brand: Brand, line_id: int, operation: Callable[..., Any], **choice: Any) -> Any:
    """Run an inspection ``operation`` on the brand's return line as the signed-in user, now;
    ``choice`` is what the form chose (grade, restock decision)."""
    check_csrf()
    try:
        with claim_scope() as writer:
            operation(
                session=writer,
                brand_id=id_of(brand),
                line_id=line_id,
                actor=_actor(),
                now=utcnow(),
                **choice,
            )
    except ReturnError as refused:
        if refused.code == "unknown_line":
            abort(404)
        flash(str(refused.message))
    else:
        flash(_("Saved."))
    return redirect(url_for("returns_queue.page", **_kept(request.form)), 303)


def _require_own_line(brand: Brand, line_id: int) -> None:
    """Another brand's line is a 404 before its form is read, so a probe learns nothing of it."""
    line = get_session().get(ReturnLine, line_id)
    if line is None or line.brand_id != id_of(brand):
        abort(404)


@returns_queue.post("/lines/<int:line_id>/grade")
@require_merchant
def grade(brand: Brand, line_id: int) -> Any:
    _require_own_line(brand, line_id)
    chosen = Params(request.form).required_enum("grade", ConditionGrade, "choose a grade")
    return _inspect(brand, line_id, inspection.grade_line, grade=chosen)


@returns_queue.post("/lines/<int:line_id>/restock")
@require_merchant
def restock(brand: Brand, line_id: int) -> Any:
    _require_own_line(brand, line_id)
    params = Params(request.form)
    action = params.required_enum("restock", RestockAction, "choose restock or write off")
    return _inspect(
        brand, line_id, inspection.decide_restock, action=action, fc_code=params.raw("fc_code")
    )
