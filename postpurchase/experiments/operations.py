"""Create, start and stop experiments, and assign a customer to a variant.

Assignment is sticky without storage: the variant is chosen from a SHA-256 hash of the experiment
and customer ids, mapped onto the variants' weights, so a customer sees the same variant in every
message of the experiment, on every worker, before and after a restart.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel.speaklater import LazyString
from sqlmodel import Session, select

from postpurchase import audit
from postpurchase.clock import utcnow
from postpurchase.i18n import lazy_gettext as _l
from postpurchase.messaging import segments
from postpurchase.messaging.catalogue import CATALOGUE, Purpose
from postpurchase.messaging.config import brand_settings
from postpurchase.messaging.context import message_locale
from postpurchase.models import Brand, Channel, Customer, Order
from postpurchase.models.enums import Trigger
from postpurchase.models.experiments import Experiment, ExperimentExposure, ExperimentState
from postpurchase.models.types import id_of
from postpurchase.profiles import Stock, as_message_profile, current_profile
from postpurchase.unitcache import unit_cache

MAX_VARIANTS = 6
#: What a variant may set besides its key and weight.
VARIANT_FIELDS = frozenset(
    {"key", "weight", "subject", "template_variant", "channel", "delay_minutes", "holdout"}
)


class ExperimentError(ValueError):
    """An experiment that cannot be saved or changed; ``field`` names the culprit.

    ``message`` is said in the language of whoever reads it (the console's page); the API says it
    in English (:func:`postpurchase.experiments.api`)."""

    def __init__(self, field: str, message: str | LazyString) -> None:
        super().__init__(field, message)
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(frozen=True)
class Assignment:
    experiment_id: int
    variant: dict[str, Any]

    @property
    def key(self) -> str:
        return str(self.variant["key"])

    @property
    def holdout(self) -> bool:
        return bool(self.variant.get("holdout"))


def bucket(experiment_id: int, customer_id: int) -> float:
    """A number in [0, 1) fixed for this customer in this experiment."""
    digest = hashlib.sha256(f"{experiment_id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(experiment_id: int, customer_id: int, variants: list[dict[str, Any]]) -> dict[str, Any]:
    """The variant of ``customer_id``: its bucket falls in the variant's share of the weights."""
    total = sum(float(v["weight"]) for v in variants)
    point = bucket(experiment_id, customer_id) * total
    for variant in variants:
        point -= float(variant["weight"])
        if point < 0:
            return variant
    return variants[-1]


def validate_variants(trigger: Trigger, variants: Any) -> list[dict[str, Any]]:
    """The variants, checked; :class:`ExperimentError` names the first bad field.

    Transactional triggers (shipped, failed attempt…) carry what the customer needs to receive the
    parcel: they may vary in content, channel and time, never be held out.
    """
    if not isinstance(variants, list) or not 2 <= len(variants) <= MAX_VARIANTS:
        raise ExperimentError("variants", _l("give 2 to %(most)d variants", most=MAX_VARIANTS))
    seen: set[str] = set()
    clean: list[dict[str, Any]] = []
    for index, variant in enumerate(variants):
        where = f"variants[{index}]"
        if not isinstance(variant, dict):
            raise ExperimentError(where, _l("must be an object"))
        unknown = sorted(set(variant) - VARIANT_FIELDS)
        if unknown:
            raise ExperimentError(f"{where}.{unknown[0]}", _l("unknown field"))
        key = variant.get("key")
        if not isinstance(key, str) or not key.strip() or len(key) > 40:
            raise ExperimentError(f"{where}.key", _l("a name of 1 to 40 characters"))
        if key in seen:
            raise ExperimentError(f"{where}.key", _l("%(key)s is used twice", key=repr(key)))
        seen.add(key)
        weight = variant.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight <= 100:
            raise ExperimentError(f"{where}.weight", _l("a number above 0 and at most 100"))
        item: dict[str, Any] = {"key": key.strip(), "weight": weight}
        for text in ("subject", "template_variant"):
            value = variant.get(text)
            if value is not None:
                if not isinstance(value, str) or not value.strip() or len(value) > 200:
                    raise ExperimentError(f"{where}.{text}", _l("a text of 1 to 200 characters"))
                item[text] = value.strip()
        channel = variant.get("channel")
        if channel is not None:
            if channel not in {str(c) for c in Channel}:
                raise ExperimentError(
                    f"{where}.channel",
                    _l("unknown channel %(channel)s", channel=repr(str(channel)[:20])),
                )
            item["channel"] = channel
        delay = variant.get("delay_minutes")
        if delay is not None:
            if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= 10080:
                raise ExperimentError(f"{where}.delay_minutes", _l("whole minutes, 0 to 10080"))
            item["delay_minutes"] = delay
        if variant.get("holdout"):
            if CATALOGUE[trigger].purpose == Purpose.transactional:
                raise ExperimentError(
                    f"{where}.holdout",
                    _l(
                        "%(trigger)s is transactional: its variants may change content, never hold "
                        "it out",
                        trigger=trigger,
                    ),
                )
            item["holdout"] = True
        clean.append(item)
    if clean[0].get("holdout"):
        raise ExperimentError(
            "variants[0].holdout", _l("the first variant is the control: send it")
        )
    return clean


def validate_audience(audience: Any) -> dict[str, Any]:
    """The audience, checked: rule conditions (see :data:`segments.CONDITIONS`) or one rule's name."""
    if audience is None:
        return {}
    if not isinstance(audience, dict):
        raise ExperimentError("audience", _l('must be an object of conditions, or {"rule": name}'))
    for key, value in audience.items():
        if key == "rule":
            if not isinstance(value, str) or not value.strip() or len(value) > 120:
                raise ExperimentError("audience.rule", _l("the name of one of the brand's rules"))
        elif key not in segments.CONDITIONS:
            raise ExperimentError(f"audience.{str(key)[:40]}", _l("unknown condition"))
        elif not isinstance(value, str | int | bool | list) or len(str(value)) > 500:
            raise ExperimentError(f"audience.{key}", _l("a value or a list of values"))
    return dict(audience)


def in_audience(
    *, session: Session, experiment: Experiment, customer_id: int, order_id: int | None
) -> bool:
    """Whether the customer is in the experiment's audience, judged from their profile as of the
    order the message is about (their stored profile when there is none)."""
    if not experiment.audience:
        return True
    brand = session.get(Brand, experiment.brand_id)
    customer = session.get(Customer, customer_id)
    order = session.get(Order, order_id) if order_id is not None else None
    if brand is None or customer is None:
        return False
    locale = message_locale(brand, customer)
    if order is not None:
        profile = segments.build_profile(
            session=session, order=order, customer=customer, language=locale
        )
    else:
        current = current_profile(
            session=session, brand_id=brand.id or 0, customer_id=customer_id, now=utcnow()
        )
        if current is None:
            return False
        profile = as_message_profile(current, Stock.unknown, locale)
    conditions = dict(experiment.audience)
    rule = conditions.pop("rule", None)
    if rule is not None:
        chosen = segments.choose_segment(
            brand_settings(brand)["rules"], profile, str(experiment.trigger)
        )
        if rule not in chosen.rules:
            return False
    return all(segments.condition_holds(k, v, profile) for k, v in conditions.items())


def create(
    *,
    session: Session,
    brand_id: int,
    actor: str,
    name: Any,
    trigger: Any,
    variants: Any,
    repeat_days: Any = 30,
    audience: Any = None,
) -> Experiment:
    """A new draft experiment, validated."""
    if not isinstance(name, str) or not name.strip() or len(name) > 120:
        raise ExperimentError("name", _l("a name of 1 to 120 characters"))
    try:
        chosen = Trigger(trigger)
    except ValueError:
        raise ExperimentError(
            "trigger", _l("unknown trigger %(trigger)s", trigger=repr(str(trigger)[:40]))
        ) from None
    if chosen not in CATALOGUE:
        raise ExperimentError(
            "trigger", _l("%(trigger)s sends no customer message", trigger=chosen)
        )
    if (
        isinstance(repeat_days, bool)
        or not isinstance(repeat_days, int)
        or not 1 <= repeat_days <= 365
    ):
        raise ExperimentError("repeat_days", _l("whole days, 1 to 365"))
    experiment = Experiment(
        brand_id=brand_id,
        name=name.strip(),
        trigger=chosen,
        variants=validate_variants(chosen, variants),
        repeat_days=repeat_days,
        audience=validate_audience(audience),
    )
    session.add(experiment)
    session.flush()
    audit.record(
        session=session,
        brand_id=brand_id,
        actor=actor,
        action="experiment.create",
        subject=f"experiment:{experiment.id}",
        before=None,
        after={
            "name": experiment.name,
            "trigger": str(chosen),
            "variants": experiment.variants,
            "audience": experiment.audience,
        },
    )
    return experiment


def start(*, session: Session, experiment: Experiment, actor: str, now: datetime) -> None:
    """Run a draft experiment; one running experiment per trigger, so results stay attributable."""
    if experiment.state != ExperimentState.draft:
        raise ExperimentError(
            "state", _l("only a draft can start; this one is %(state)s", state=experiment.state)
        )
    if running(session=session, brand_id=experiment.brand_id, trigger=experiment.trigger):
        raise ExperimentError(
            "trigger",
            _l("another experiment on %(trigger)s is running", trigger=experiment.trigger),
        )
    _move(session, experiment, actor, ExperimentState.running, now)
    experiment.started_at = now


def stop(*, session: Session, experiment: Experiment, actor: str, now: datetime) -> None:
    """Stop assigning; every customer gets the trigger's normal message again."""
    if experiment.state != ExperimentState.running:
        raise ExperimentError(
            "state",
            _l("only a running experiment can stop; this one is %(state)s", state=experiment.state),
        )
    _move(session, experiment, actor, ExperimentState.stopped, now)
    experiment.stopped_at = now


def _move(
    session: Session, experiment: Experiment, actor: str, state: ExperimentState, now: datetime
) -> None:
    audit.record(
        session=session,
        brand_id=experiment.brand_id,
        actor=actor,
        action=f"experiment.{state}",
        subject=f"experiment:{experiment.id}",
        before={"state": str(experiment.state)},
        after={"state": str(state), "at": now.isoformat()},
    )
    experiment.state = state
    session.add(experiment)
    session.flush()
    unit_cache(session, _RUNNING).clear()


def running(*, session: Session, brand_id: int, trigger: str) -> Experiment | None:
    """The experiment running on ``trigger``, looked up once per unit of work (every message a
    batch enqueues asks; starting or stopping one in this session forgets the answers)."""
    known = unit_cache(session, _RUNNING)
    key = (brand_id, trigger)
    if key not in known:
        known[key] = session.exec(
            select(Experiment).where(
                Experiment.brand_id == brand_id,
                Experiment.trigger == trigger,
                Experiment.state == ExperimentState.running,
            )
        ).first()
    found: Experiment | None = known[key]
    return found


#: ``session.info`` key of :func:`running`'s answers.
_RUNNING = "experiments_running"


def expose(
    *,
    session: Session,
    brand_id: int,
    trigger: str,
    customer_id: int | None,
    order_id: int | None,
    now: datetime,
) -> Assignment | None:
    """The variant this customer gets in the running experiment on ``trigger`` (None: no
    experiment, or no customer to keep it sticky for); records the first exposure."""
    if customer_id is None:
        return None
    experiment = running(session=session, brand_id=brand_id, trigger=trigger)
    if experiment is None or not in_audience(
        session=session, experiment=experiment, customer_id=customer_id, order_id=order_id
    ):
        return None
    variant = assign(id_of(experiment), customer_id, experiment.variants)
    exposed = session.exec(
        select(ExperimentExposure.id).where(
            ExperimentExposure.experiment_id == experiment.id,
            ExperimentExposure.customer_id == customer_id,
        )
    ).first()
    if exposed is None:
        session.add(
            ExperimentExposure(
                brand_id=brand_id,
                experiment_id=id_of(experiment),
                customer_id=customer_id,
                variant=variant["key"],
                order_id=order_id,
                exposed_at=now,
            )
        )
        session.flush()
    return Assignment(id_of(experiment), variant)


def listed(*, session: Session, brand_id: int) -> list[Experiment]:
    """The brand's experiments, newest first."""
    return list(
        session.exec(
            select(Experiment).where(Experiment.brand_id == brand_id).order_by(Experiment.id.desc())  # type: ignore[union-attr]
        )
    )
