"""The console's experiment pages: the list with a create form, and one page per experiment with
start/stop and its results (thin views over :mod:`.operations` and :mod:`.results`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from postpurchase.clock import utcnow
from postpurchase.db import get_session
from postpurchase.experiments import operations
from postpurchase.experiments.results import results
from postpurchase.experiments.stats import ALPHA, TAU_SD
from postpurchase.i18n import lazy_gettext as _l
from postpurchase.messaging.catalogue import CATALOGUE
from postpurchase.models import Brand, Channel
from postpurchase.models.experiments import Experiment
from postpurchase.models.types import id_of
from postpurchase.personas.operations import audience_persona
from postpurchase.web.merchant import actor, check_csrf, require_merchant
from postpurchase.web.wording import CHANNEL_LABELS

merchant_experiments = Blueprint(
    "merchant_experiments", __name__, url_prefix="/merchant/experiments"
)

GOAL_LABELS = {
    "click": _l("Clicked a link"),
    "repeat_purchase": _l("Ordered again"),
    "nps": _l("NPS score"),
    "return_rate": _l("Returned"),
    "unsubscribe": _l("Unsubscribed"),
}
STATE_LABELS = {"draft": _l("Draft"), "running": _l("Running"), "stopped": _l("Stopped")}


@merchant_experiments.context_processor
def _words() -> dict[str, Any]:
    return {
        "trigger_labels": {trigger: spec.label for trigger, spec in CATALOGUE.items()},
        "goal_labels": GOAL_LABELS,
        "experiment_states": STATE_LABELS,
        "channel_labels": CHANNEL_LABELS,
        "alpha": ALPHA,
        "tau_sd": TAU_SD,
    }


def _whole(raw: str) -> int:
    """A whole number typed in a form; -1 (refused by the validation, naming the field) otherwise."""
    raw = raw.strip()
    return int(raw) if raw.isdigit() and len(raw) < 7 else -1


def variants_from_form(form: MultiDict[str, str]) -> list[dict[str, Any]]:
    """The control and one challenger as the form describes them (the API takes up to six)."""
    share = _whole(form.get("share", "50"))
    challenger: dict[str, Any] = {"key": form.get("key", "").strip() or "B", "weight": share}
    for name in ("subject", "template_variant", "channel"):
        if form.get(name, "").strip():
            challenger[name] = form[name].strip()
    if form.get("delay_minutes", "").strip():
        raw = form["delay_minutes"].strip()
        challenger["delay_minutes"] = _whole(raw)
    if form.get("holdout"):
        challenger["holdout"] = True
    return [{"key": "control", "weight": 100 - share if 0 < share < 100 else 50}, challenger]


def audience_from_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """The audience named in the form's one field: a micro-segment (it has slashes, e.g.
    ``p1/delayed/*``), a persona (``p2``) or else the name of a message rule; empty: everyone."""
    name = form.get("segment", "").strip()
    if not name:
        return {}
    if "/" in name:
        return {"micro_segment": name}
    if re.fullmatch(r"p\d+", name):
        return {"persona": name}
    return {"rule": name}


def _owned(brand: Brand, experiment_id: int) -> Experiment:
    experiment = get_session().get(Experiment, experiment_id)
    if experiment is None or experiment.brand_id != brand.id:
        abort(404)
    return experiment


def _index(brand: Brand, error: operations.ExperimentError | None = None) -> Any:
    page = render_template(
        "pages/experiments/index.html",
        brand=brand,
        experiments=operations.listed(session=get_session(), brand_id=id_of(brand)),
        triggers=list(CATALOGUE),
        channels=list(Channel),
        error=error,
        form=request.form,
    )
    return (page, 400) if error else page


@merchant_experiments.get("/")
@require_merchant
def index(brand: Brand) -> Any:
    return _index(brand)


@merchant_experiments.post("/")
@require_merchant
def create(brand: Brand) -> Any:
    check_csrf()
    session = get_session()
    try:
        experiment = operations.create(
            session=session,
            brand_id=id_of(brand),
            actor=actor(),
            name=request.form.get("name", ""),
            trigger=request.form.get("trigger", ""),
            variants=variants_from_form(request.form),
            repeat_days=_whole(request.form.get("repeat_days", "30")),
            audience=audience_from_form(request.form),
        )
    except operations.ExperimentError as error:
        session.rollback()
        return _index(brand, error)
    session.commit()
    return redirect(url_for(".detail", experiment_id=experiment.id))


@merchant_experiments.get("/<int:experiment_id>")
@require_merchant
def detail(brand: Brand, experiment_id: int) -> Any:
    experiment = _owned(brand, experiment_id)
    session = get_session()
    found = results(session=session, experiment=experiment, now=utcnow())
    return render_template(
        "pages/experiments/detail.html",
        brand=brand,
        experiment=experiment,
        found=found,
        persona=audience_persona(
            session=session, brand_id=id_of(brand), audience=experiment.audience or {}
        ),
    )


def _move(brand: Brand, experiment_id: int, move: Callable[..., None]) -> Any:
    check_csrf()
    experiment = _owned(brand, experiment_id)
    session = get_session()
    try:
        move(session=session, experiment=experiment, actor=actor(), now=utcnow())
    except operations.ExperimentError as error:
        session.rollback()
        flash(str(error))
    else:
        session.commit()
    return redirect(url_for(".detail", experiment_id=experiment_id))


@merchant_experiments.post("/<int:experiment_id>/start")
@require_merchant
def start(brand: Brand, experiment_id: int) -> Any:
    return _move(brand, experiment_id, operations.start)


@merchant_experiments.post("/<int:experiment_id>/stop")
@require_merchant
def stop(brand: Brand, experiment_id: int) -> Any:
    return _move(brand, experiment_id, operations.stop)
