"""The console's pages: the dashboard, shipment search and detail, the exception queue (thin views)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale

from carriers.registry import customer_links
from carriers.status import Handover, Status
from postpurchase.clock import utcnow
from postpurchase.config import running_app
from postpurchase.console import operations, queries
from postpurchase.console.problems import Problem, local_date
from postpurchase.console.wording import (
    NEXT_STEPS,
    PREDICTION_TRIGGER_LABELS,
    PROBLEM_LABELS,
    RESOLUTION_LABELS,
)
from postpurchase.db import get_session
from postpurchase.edd.service import explained
from postpurchase.i18n import format_day
from postpurchase.i18n import gettext as _
from postpurchase.lookup import order_link_path
from postpurchase.messaging import operations as messaging
from postpurchase.messaging.reasons import describe
from postpurchase.models import Brand, Resolution
from postpurchase.models.enums import TimeSlot
from postpurchase.models.types import id_of
from postpurchase.tracking.operations import (
    CarrierUnavailable,
    RefreshTooSoon,
    ShipmentNotFound,
    refresh_shipment,
)
from postpurchase.web.merchant import check_csrf, current_merchant_user, require_merchant
from postpurchase.web.params import BadParameter, Params
from postpurchase.web.wording import CHANNEL_LABELS, OUTBOX_STATE_LABELS, STATUS_LABELS

console = Blueprint("console", __name__, url_prefix="/merchant")

#: Periods the dashboard offers, in days ending today.
PERIODS = ("7", "30", "90")


@console.context_processor
def _words() -> dict[str, Any]:
    locale = str(get_locale())
    return {
        "status_labels": STATUS_LABELS,
        "problem_labels": PROBLEM_LABELS,
        "next_steps": NEXT_STEPS,
        "resolution_labels": RESOLUTION_LABELS,
        "trigger_labels": PREDICTION_TRIGGER_LABELS,
        "channel_labels": CHANNEL_LABELS,
        "state_labels": OUTBOX_STATE_LABELS,
        "message_reason": describe,
        "day": lambda d: format_day(d, locale) if d else "",
        "carrier_name": lambda code: customer_links(code, None).carrier_name,
    }


def _today(brand: Brand) -> date:
    return local_date(utcnow(), brand.timezone)


def _actor() -> str:
    user = current_merchant_user()
    return f"user:{user.email}" if user else "user:?"


def dashboard(brand: Brand) -> Any:
    """The merchant home page (registered with :func:`set_merchant_home`)."""
    days = int(Params(request.args).choice("period", PERIODS, "7") or "7")
    today = _today(brand)
    period = queries.Period(today - timedelta(days=days - 1), today, brand.timezone)
    board = queries.dashboard(session=get_session(), brand=brand, period=period, today=today)
    return render_template(
        "pages/console/dashboard.html",
        brand=brand,
        board=board,
        days=str(days),
        periods=PERIODS,
        **_words(),  # drawn under the merchant blueprint, which does not run this one's processor
    )


#: ``YYYY-MM``, the ``month`` grouping's values.
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def _groups(params: Params) -> dict[str, str | None]:
    """The insights groupings the query names beyond carrier, service and region (400 naming a bad
    one), and None for each grouping in ``without``: what an insights drill link filters by."""
    groups: dict[str, str | None] = {
        "segment": params.choice("segment", ("first", "repeat")),
        "time_slot": params.enum("time_slot", TimeSlot),
        "delivered_to": params.enum("delivered_to", Handover),
        "fc": params.raw("fc"),
        "category": params.raw("category"),
        "month": params.raw("month"),
    }
    week = params.date("week")
    if week is not None and week.weekday() != 0:
        raise BadParameter("week", "must be the Monday a week starts on, written YYYY-MM-DD")
    groups["week"] = week.isoformat() if week else None
    if groups["month"] is not None and not _MONTH.fullmatch(groups["month"]):
        raise BadParameter("month", "must be a month written YYYY-MM")
    for name in ("fc", "category"):
        if len(groups[name] or "") > 128:
            raise BadParameter(name, "at most 128 characters")
    chosen: dict[str, str | None] = {
        name: value for name, value in groups.items() if value is not None
    }
    names = {param: group for group, param in queries.GROUP_PARAMS.items()}
    for param in filter(None, (params.raw("without") or "").split(",")):
        if param not in names:
            raise BadParameter("without", "must list some of " + ", ".join(names), list(names))
        if params.raw(param) is not None:
            raise BadParameter("without", f"names {param}, which the query also gives a value")
        chosen[names[param]] = None
    return chosen


@console.get("/shipments")
@require_merchant
def shipments(brand: Brand) -> Any:
    params = Params(request.args)
    text = (params.raw("q") or "").strip()
    if len(text) > 254:
        raise BadParameter("q", "at most 254 characters")
    filters = queries.SearchFilters(
        text=text or None,
        status=params.enum("status", Status),
        carrier=params.raw("carrier"),
        start=params.date("from"),
        end=params.date("to"),
        scan=params.enum("scan", Status),
        service=params.raw("service"),
        region=params.raw("region"),
        ordered_start=params.date("ordered_from"),
        ordered_end=params.date("ordered_to"),
        groups=_groups(params),
    )
    sort = params.enum("sort", queries.Sort, queries.Sort.newest) or queries.Sort.newest
    session = get_session()
    page = queries.search_shipments(
        session=session, brand=brand, filters=filters, sort=sort, cursor=params.cursor()
    )
    return render_template(
        "pages/console/shipments.html",
        brand=brand,
        page=page,
        args=request.args,
        statuses=list(Status),
        carriers=queries.carriers_in_use(session=session, brand_id=id_of(brand)),
        sorts=list(queries.Sort),
    )


def _detail(
    brand: Brand, shipment_id: int, errors: dict[str, str] | None = None, status: int = 200
) -> Any:
    case = queries.shipment_case(
        session=get_session(), brand=brand, shipment_id=shipment_id, today=_today(brand)
    )
    if case is None:
        abort(404)
    tracking_link = (
        order_link_path(
            str(current_app.config["SECRET_KEY"]), brand.slug, id_of(brand), case.order.id
        )
        if case.order
        else None
    )
    return render_template(
        "pages/console/shipment.html",
        brand=brand,
        case=case,
        tracking_link=tracking_link,
        errors=errors or {},
        form=request.form,
        resolutions=list(Resolution),
        people=queries.merchant_users(session=get_session(), brand_id=id_of(brand)),
        today=_today(brand),
        explain=lambda basis: (explained(basis, brand.locale) or {}).get("text"),
    ), status


@console.get("/shipments/<int:shipment_id>")
@require_merchant
def shipment(brand: Brand, shipment_id: int) -> Any:
    return _detail(brand, shipment_id)


@console.post("/shipments/<int:shipment_id>/refresh")
@require_merchant
def refresh(brand: Brand, shipment_id: int) -> Any:
    """Ask the carrier about the parcel now (the same refresh as ``POST /api/v1/shipments/<id>/refresh``)."""
    check_csrf()
    app = running_app()
    try:
        refresh_shipment(app, brand_id=id_of(brand), shipment_id=shipment_id, now=utcnow())
    except ShipmentNotFound:
        abort(404)
    except (RefreshTooSoon, CarrierUnavailable) as exc:
        flash(
            _(
                "The carrier could not be asked now; try again in %(seconds)d seconds.",
                seconds=int(exc.retry_after) + 1,
            )
        )
    else:
        flash(_("Tracking refreshed."))
    return redirect(url_for("console.shipment", shipment_id=shipment_id), 303)


@console.post("/shipments/<int:shipment_id>/messages/<int:message_id>/resend")
@require_merchant
def resend(brand: Brand, shipment_id: int, message_id: int) -> Any:
    """Send a failed or unknown message of this parcel again (the message log's "Send again")."""
    check_csrf()
    session = get_session()
    case = queries.shipment_case(
        session=session, brand=brand, shipment_id=shipment_id, today=_today(brand)
    )
    if case is None or message_id not in {line.message.id for line in case.messages}:
        abort(404)
    try:
        messaging.retry_message(
            session=session, brand_id=id_of(brand), message_id=message_id, now=utcnow()
        )
    except messaging.NotRetryable:
        abort(400, description="message_id: only failed or unknown messages can be sent again")
    session.commit()
    flash(_("The message will be sent again."))
    return redirect(url_for("console.shipment", shipment_id=shipment_id), 303)


@console.post("/shipments/<int:shipment_id>/notes")
@require_merchant
def add_note(brand: Brand, shipment_id: int) -> Any:
    check_csrf()
    session = get_session()
    try:
        operations.add_note(
            session=session,
            brand_id=id_of(brand),
            shipment_id=shipment_id,
            author=_actor(),
            body=request.form.get("body", ""),
            now=utcnow(),
        )
    except operations.NotFound:
        abort(404)
    except operations.Invalid as exc:
        session.rollback()
        return _detail(brand, shipment_id, {exc.field: exc.message}, 400)
    session.commit()
    flash(_("Note added."))
    return redirect(url_for("console.shipment", shipment_id=shipment_id), 303)


def _back(shipment_id: int) -> Any:
    target = request.form.get("next", "")
    if target == "queue":
        return redirect(url_for("console.exceptions", **_queue_filters(request.form)), 303)
    return redirect(url_for("console.shipment", shipment_id=shipment_id), 303)


def _queue_filters(values: Any) -> dict[str, Any]:
    return {name: values[name] for name in ("problem", "carrier", "waiting") if values.get(name)}


def _own_or_404(brand: Brand, shipment_id: int) -> None:
    """Another brand's parcel is a 404 before any of the form is read (a 400 would tell it exists)."""
    if not queries.owns_shipment(
        session=get_session(), brand_id=id_of(brand), shipment_id=shipment_id
    ):
        abort(404)


def _queue_action(
    brand: Brand, shipment_id: int, operation: Callable[..., Any], **choice: Any
) -> Any:
    """Run a queue ``operation`` on the brand's parcel as the signed-in user, now; ``choice`` is
    what the form chose (assignee, date, resolution). Back to where the form was sent from."""
    check_csrf()
    session = get_session()
    try:
        operation(
            session=session,
            brand_id=id_of(brand),
            shipment_id=shipment_id,
            actor=_actor(),
            now=utcnow(),
            **choice,
        )
    except operations.NotFound:
        abort(404)
    except operations.Invalid as exc:
        session.rollback()
        if request.form.get("next") == "queue":
            raise BadParameter(exc.field, exc.message, where="form") from None
        return _detail(brand, shipment_id, {exc.field: exc.message}, 400)
    session.commit()
    return _back(shipment_id)


@console.post("/exceptions/<int:shipment_id>/assign")
@require_merchant
def assign(brand: Brand, shipment_id: int) -> Any:
    _own_or_404(brand, shipment_id)
    assignee = Params(request.form).id("assignee")
    return _queue_action(brand, shipment_id, operations.assign, assignee_id=assignee)


@console.post("/exceptions/<int:shipment_id>/snooze")
@require_merchant
def snooze(brand: Brand, shipment_id: int) -> Any:
    _own_or_404(brand, shipment_id)
    until = Params(request.form).date("until")
    if until is None:
        raise BadParameter("until", "choose the date to snooze until", where="form")
    return _queue_action(brand, shipment_id, operations.snooze, until=until, today=_today(brand))


@console.post("/exceptions/<int:shipment_id>/resolve")
@require_merchant
def resolve(brand: Brand, shipment_id: int) -> Any:
    _own_or_404(brand, shipment_id)
    params = Params(request.form)
    resolution = params.required_enum("resolution", Resolution, "choose how it was resolved")
    problem = params.required_enum("problem", Problem, "name the problem resolved")
    return _queue_action(
        brand, shipment_id, operations.resolve, problem=problem, resolution=resolution
    )


@console.get("/exceptions")
@require_merchant
def exceptions(brand: Brand) -> Any:
    params = Params(request.args)
    problem = params.enum("problem", Problem)
    carrier = params.raw("carrier")
    waiting = params.choice("waiting", ("1",)) == "1"
    session, today = get_session(), _today(brand)
    everything = queries.exception_queue(session=session, brand=brand, today=today)
    items = queries.exception_queue(
        session=session,
        brand=brand,
        today=today,
        problem=problem,
        carrier=carrier,
        include_waiting=waiting,
    )
    return render_template(
        "pages/console/exceptions.html",
        brand=brand,
        items=items,
        today=today,
        per_carrier=queries.carrier_counts(everything),
        per_problem={p: sum(1 for i in everything if i.finding.problem == p) for p in Problem},
        problems=list(Problem),
        resolutions=list(Resolution),
        people=queries.merchant_users(session=session, brand_id=id_of(brand)),
        args=request.args,
    )
