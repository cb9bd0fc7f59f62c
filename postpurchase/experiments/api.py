"""``/api/v1/experiments``: the brand's message experiments and their results (brand API key)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, request
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from pydantic import BaseModel, Field

from postpurchase.clock import utcnow
from postpurchase.db import get_session
from postpurchase.experiments import operations
from postpurchase.experiments.results import Results, results
from postpurchase.experiments.stats import ALPHA, TAU_SD
from postpurchase.i18n import lazy_gettext as _l
from postpurchase.inbox.jsonbody import BadJson, loads
from postpurchase.models.experiments import Experiment
from postpurchase.models.types import id_of
from postpurchase.web.apidoc import Route
from postpurchase.web.auth import bearer_token, require_brand
from postpurchase.web.errors import ApiError

experiments_api = Blueprint("experiments_api", __name__, url_prefix="/api/v1")


class IntervalPublic(BaseModel):
    low: float
    high: float


class VariantResultPublic(BaseModel):
    variant: str
    n: int = Field(description="Customers counted for this goal.")
    mean: float | None = Field(description="Rate (0–1) or mean score.")
    interval: IntervalPublic | None = Field(description="Fixed-sample 95 % interval of `mean`.")
    difference: float | None = Field(description="`mean` minus the control's.")
    always_valid_interval: IntervalPublic | None = Field(
        description="Always-valid (mSPRT) confidence interval of `difference`: valid however often it is read."
    )
    decided: bool = Field(description="The sequential rule rejects 'no difference' at `alpha`.")


class GoalResultPublic(BaseModel):
    goal: str
    higher_is_better: bool
    variants: list[VariantResultPublic]


class ExperimentPublic(BaseModel):
    """An experiment; `results` is present on `GET /experiments/{experiment_id}`."""

    id: int
    name: str
    trigger: str
    state: str
    variants: list[dict[str, Any]]
    repeat_days: int
    audience: dict[str, Any] = Field(
        default_factory=dict,
        description='Who may enter: message-rule conditions (`persona`, `micro_segment`, …) or `{"rule": name}`; empty: everyone.',
    )
    started_at: datetime | None
    stopped_at: datetime | None
    alpha: float = ALPHA
    tau_sd: float = TAU_SD
    exposed: dict[str, int] | None = None
    results: list[GoalResultPublic] | None = None


class ExperimentList(BaseModel):
    experiments: list[ExperimentPublic]


def _public(experiment: Experiment, found: Results | None = None) -> dict[str, Any]:
    data = ExperimentPublic(
        id=id_of(experiment),
        name=experiment.name,
        trigger=str(experiment.trigger),
        state=str(experiment.state),
        variants=experiment.variants,
        repeat_days=experiment.repeat_days,
        audience=experiment.audience or {},
        started_at=experiment.started_at,
        stopped_at=experiment.stopped_at,
    )
    if found is not None:
        data.exposed = found.exposed
        data.results = [
            GoalResultPublic(
                goal=goal.goal,
                higher_is_better=goal.higher_is_better,
                variants=[
                    VariantResultPublic(
                        variant=v.variant,
                        n=v.sample.n,
                        mean=v.sample.mean,
                        interval=IntervalPublic(**vars(v.interval)) if v.interval else None,
                        difference=v.comparison.difference if v.comparison else None,
                        always_valid_interval=IntervalPublic(**vars(v.comparison.interval))
                        if v.comparison and v.comparison.interval
                        else None,
                        decided=bool(v.comparison and v.comparison.decided),
                    )
                    for v in goal.variants
                ],
            )
            for goal in found.goals
        ]
    return data.model_dump(mode="json")


def _actor() -> str:
    return f"api:{(bearer_token() or '')[:8]}"


def _invalid(error: operations.ExperimentError) -> ApiError:
    """A 400 naming the field, in English whatever the request's language (an API's words)."""
    with force_locale("en"):
        return ApiError(
            400,
            "invalid_experiment",
            str(error),
            [{"loc": f"body.{error.field}", "msg": str(error.message)}],
        )


def _owned(experiment_id: int) -> Experiment:
    """The brand's experiment, or a 404 (another brand's experiment does not exist for this key)."""
    brand = require_brand()
    experiment = get_session().get(Experiment, experiment_id)
    if experiment is None or experiment.brand_id != brand.id:
        raise ApiError(404, "not_found", "No such experiment.")
    return experiment


@experiments_api.get("/experiments")
def list_experiments() -> ResponseReturnValue:
    brand = require_brand()
    rows = operations.listed(session=get_session(), brand_id=id_of(brand))
    return {"experiments": [_public(row) for row in rows]}


@experiments_api.post("/experiments")
def create_experiment() -> ResponseReturnValue:
    brand = require_brand()
    try:
        body = loads(request.get_data())
    except BadJson as exc:
        raise ApiError(400, exc.code, exc.message, [{"loc": "body", "msg": exc.message}]) from None
    if not isinstance(body, dict):
        raise _invalid(operations.ExperimentError("body", _l("must be a JSON object")))
    session = get_session()
    try:
        experiment = operations.create(
            session=session,
            brand_id=id_of(brand),
            actor=_actor(),
            name=body.get("name"),
            trigger=body.get("trigger"),
            variants=body.get("variants"),
            repeat_days=body.get("repeat_days", 30),
            audience=body.get("audience"),
        )
    except operations.ExperimentError as error:
        raise _invalid(error) from None
    session.commit()
    return _public(experiment), 201


@experiments_api.get("/experiments/<int:experiment_id>")
def get_experiment(experiment_id: int) -> ResponseReturnValue:
    experiment = _owned(experiment_id)
    return _public(experiment, results(session=get_session(), experiment=experiment, now=utcnow()))


def _transition(experiment_id: int, change: Any) -> ResponseReturnValue:
    experiment = _owned(experiment_id)
    session = get_session()
    try:
        change(session=session, experiment=experiment, actor=_actor(), now=utcnow())
    except operations.ExperimentError as error:
        raise ApiError(
            409, "conflict", str(error), [{"loc": error.field, "msg": error.message}]
        ) from None
    session.commit()
    return _public(experiment)


@experiments_api.post("/experiments/<int:experiment_id>/start")
def start_experiment(experiment_id: int) -> ResponseReturnValue:
    return _transition(experiment_id, operations.start)


@experiments_api.post("/experiments/<int:experiment_id>/stop")
def stop_experiment(experiment_id: int) -> ResponseReturnValue:
    return _transition(experiment_id, operations.stop)


_ID = {"experiment_id": "Our id of the experiment."}
_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["name", "trigger", "variants"],
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 120},
                    "trigger": {"type": "string"},
                    "repeat_days": {"type": "integer", "minimum": 1, "maximum": 365},
                    "audience": {
                        "type": "object",
                        "description": 'Message-rule conditions, e.g. {"persona": "p2"} or '
                        '{"micro_segment": "p1/delayed/*"}, or {"rule": name}.',
                    },
                    "variants": {
                        "type": "array",
                        "minItems": 2,
                        "maxItems": operations.MAX_VARIANTS,
                        "items": {
                            "type": "object",
                            "required": ["key"],
                            "properties": {
                                "key": {"type": "string", "minLength": 1, "maxLength": 40},
                                "weight": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
                                "subject": {"type": "string", "maxLength": 200},
                                "template_variant": {"type": "string", "maxLength": 200},
                                "channel": {"type": "string"},
                                "delay_minutes": {
                                    "type": "integer",
                                    "minimum": 0,
                                    "maximum": 10080,
                                },
                                "holdout": {"type": "boolean"},
                            },
                        },
                    },
                },
            }
        }
    },
}

ROUTES: dict[str, Route] = {
    "list_experiments": Route(
        summary="The brand's message experiments",
        answers={200: ("Every experiment, newest first.", ExperimentList)},
        errors=(),
    ),
    "create_experiment": Route(
        summary="Create a draft experiment on a trigger",
        description=(
            "The first variant is the control. A variant may change the subject, the template "
            "variant, the channel or the send delay, or be a holdout (`holdout: true`: send "
            "nothing). Transactional triggers (shipped, failed attempt…) may never be held out: "
            "a 400 names the field (`variants[1].holdout`)."
        ),
        answers={201: ("The experiment, in state `draft`.", ExperimentPublic)},
        errors=(400, 413),
        request_body=_BODY,
    ),
    "get_experiment": Route(
        summary="An experiment with its results per goal and variant",
        description=(
            "Each variant is compared with the control by a mixture sequential probability ratio "
            "test (mSPRT): `always_valid_interval` and `decided` stay valid however often they are "
            "read, so the experiment may be stopped the first day a result is decided."
        ),
        answers={200: ("The experiment and its results.", ExperimentPublic)},
        errors=(404,),
        path_descriptions=_ID,
    ),
    "start_experiment": Route(
        summary="Start assigning customers",
        answers={200: ("The experiment, running.", ExperimentPublic)},
        errors=(404, 409),
        path_descriptions=_ID,
    ),
    "stop_experiment": Route(
        summary="Stop assigning customers",
        answers={200: ("The experiment, stopped.", ExperimentPublic)},
        errors=(404, 409),
        path_descriptions=_ID,
    ),
}
