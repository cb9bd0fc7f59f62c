"""Results of an experiment: each goal per variant, from what the exposed customers did next.

A customer counts from their first exposure (:class:`ExperimentExposure`), whatever the variant,
holdouts included, so a variant is judged on everyone it was meant for, not only those who read it:

- ``click``: clicked a link in any message of the experiment's trigger sent after the exposure.
- ``unsubscribe``: unsubscribed an address those messages went to, after the exposure.
- ``nps``: the NPS score (0–10) the customer gave after the exposure (mean of those who answered).
- ``repeat_purchase``: placed another order within ``repeat_days`` of the exposure; only customers
  whose window has closed count, so a young experiment is not biased towards "no repeat".
- ``return_rate``: a return was requested for the order the message was about.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from postpurchase.experiments.stats import Comparison, Interval, Sample, level_interval, msprt
from postpurchase.models import (
    Feedback,
    MessageEvent,
    Order,
    OutboxMessage,
    ReturnRequest,
    Suppression,
)
from postpurchase.models.experiments import Experiment, ExperimentExposure
from postpurchase.models.types import id_of

#: Goal → whether it is a 0/1 outcome (a rate) and whether higher is better.
GOALS: dict[str, tuple[bool, bool]] = {
    "click": (True, True),
    "repeat_purchase": (True, True),
    "nps": (False, True),
    "return_rate": (True, False),
    "unsubscribe": (True, False),
}


@dataclass(frozen=True)
class VariantResult:
    variant: str
    sample: Sample
    interval: Interval | None
    #: Against the control; None for the control itself or with too few outcomes.
    comparison: Comparison | None


@dataclass(frozen=True)
class GoalResult:
    goal: str
    binary: bool
    higher_is_better: bool
    variants: list[VariantResult]


@dataclass(frozen=True)
class Results:
    exposed: dict[str, int]
    goals: list[GoalResult]


def outcomes(
    *, session: Session, experiment: Experiment, now: datetime
) -> dict[str, dict[str, list[float]]]:
    """Goal → variant → one outcome per counted customer."""
    exposures = session.exec(
        select(ExperimentExposure).where(ExperimentExposure.experiment_id == experiment.id)
    ).all()
    by_customer = {e.customer_id: e for e in exposures}
    customers = list(by_customer)
    result: dict[str, dict[str, list[float]]] = {
        goal: {str(v["key"]): [] for v in experiment.variants} for goal in GOALS
    }
    if not customers:
        return result
    messages = session.exec(
        select(
            OutboxMessage.id,
            OutboxMessage.customer_id,
            OutboxMessage.recipient,
            OutboxMessage.created_at,
        ).where(
            OutboxMessage.brand_id == experiment.brand_id,
            OutboxMessage.trigger == experiment.trigger,
            OutboxMessage.customer_id.in_(customers),  # type: ignore[union-attr]
        )
    ).all()
    sent: dict[int, int] = {}
    addresses: dict[str, set[int]] = defaultdict(set)
    for message_id, customer_id, recipient, created_at in messages:
        exposure = by_customer[customer_id]
        if created_at >= exposure.exposed_at:
            sent[message_id] = customer_id
            addresses[recipient].add(customer_id)
    clicked = {
        sent[message_id]
        for message_id in session.exec(
            select(MessageEvent.message_id).where(
                MessageEvent.kind == "click",
                MessageEvent.message_id.in_(list(sent) or [0]),  # type: ignore[attr-defined]
            )
        )
    }
    unsubscribed: set[int] = set()
    for address, created_at in session.exec(
        select(Suppression.address, Suppression.created_at).where(
            Suppression.brand_id == experiment.brand_id,
            Suppression.reason == "unsubscribe",
            Suppression.address.in_(list(addresses) or [""]),  # type: ignore[attr-defined]
        )
    ):
        unsubscribed |= {c for c in addresses[address] if created_at >= by_customer[c].exposed_at}
    scores: dict[int, float] = {}
    for customer_id, score, created_at in session.exec(
        select(Feedback.customer_id, Feedback.nps_score, Feedback.created_at)
        .where(
            Feedback.brand_id == experiment.brand_id,
            Feedback.customer_id.in_(customers),  # type: ignore[union-attr]
            Feedback.nps_score.is_not(None),  # type: ignore[union-attr]
        )
        .order_by(Feedback.created_at)  # type: ignore[arg-type]
    ):
        if customer_id is not None and created_at >= by_customer[customer_id].exposed_at:
            scores.setdefault(customer_id, float(score))
    window = timedelta(days=experiment.repeat_days)
    repeated: set[int] = set()
    for customer_id, order_id, placed_at in session.exec(
        select(Order.customer_id, Order.id, Order.placed_at).where(
            Order.brand_id == experiment.brand_id,
            Order.customer_id.in_(customers),  # type: ignore[union-attr]
        )
    ):
        exposure = by_customer[customer_id]
        if (
            order_id != exposure.order_id
            and exposure.exposed_at < placed_at <= exposure.exposed_at + window
        ):
            repeated.add(customer_id)
    orders = [e.order_id for e in exposures if e.order_id is not None]
    returned = set(
        session.exec(
            select(ReturnRequest.order_id).where(
                ReturnRequest.brand_id == experiment.brand_id,
                ReturnRequest.order_id.in_(orders or [0]),  # type: ignore[attr-defined]
            )
        )
    )
    for customer_id, exposure in by_customer.items():
        goals = result
        key = exposure.variant
        goals["click"][key].append(float(customer_id in clicked))
        goals["unsubscribe"][key].append(float(customer_id in unsubscribed))
        if customer_id in scores:
            goals["nps"][key].append(scores[customer_id])
        if exposure.exposed_at + window <= now:
            goals["repeat_purchase"][key].append(float(customer_id in repeated))
        if exposure.order_id is not None:
            goals["return_rate"][key].append(float(exposure.order_id in returned))
    return result


def results(*, session: Session, experiment: Experiment, now: datetime) -> Results:
    """Every goal per variant with its interval and, against the control, the sequential rule."""
    data = outcomes(session=session, experiment=experiment, now=now)
    keys = [str(v["key"]) for v in experiment.variants]
    exposed = dict.fromkeys(keys, 0)
    for variant in session.exec(
        select(ExperimentExposure.variant).where(
            ExperimentExposure.experiment_id == id_of(experiment)
        )
    ):
        if variant in exposed:
            exposed[variant] += 1
    goals: list[GoalResult] = []
    for goal, (binary, higher) in GOALS.items():
        samples = {key: Sample.of(data[goal][key]) for key in keys}
        control = samples[keys[0]]
        goals.append(
            GoalResult(
                goal,
                binary,
                higher,
                [
                    VariantResult(
                        key,
                        samples[key],
                        level_interval(samples[key], binary=binary),
                        None if index == 0 else msprt(control, samples[key]),
                    )
                    for index, key in enumerate(keys)
                ],
            )
        )
    return Results(exposed, goals)
