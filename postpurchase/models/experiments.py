"""Message experiments: variants of one trigger's message and who saw which."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import UniqueConstraint, text
from sqlmodel import Field, SQLModel

from postpurchase.clock import utcnow
from postpurchase.models.enums import Trigger
from postpurchase.models.types import brand_fk, enum_field, json_field, utc_field


class ExperimentState(StrEnum):
    draft = "draft"
    running = "running"
    stopped = "stopped"


class Experiment(SQLModel, table=True):
    """Variants of a trigger's message; at most one running per brand and trigger.

    ``variants`` is a list of ``{"key", "weight", "subject"?, "template_variant"?, "channel"?,
    "delay_minutes"?, "holdout"?}`` (see :mod:`postpurchase.experiments.operations`); the first
    variant is the control every other is compared with.
    """

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    name: str = Field(max_length=120)
    trigger: Trigger = enum_field(Trigger)
    state: ExperimentState = enum_field(ExperimentState, default=ExperimentState.draft)
    variants: list[dict[str, Any]] = json_field(default_factory=list)
    #: Who may enter: conditions of a message rule's ``when`` (``{"persona": "p2"}``,
    #: ``{"micro_segment": "p1/delayed/*"}``) or ``{"rule": name}`` for a rule segment; empty:
    #: everyone. Customers outside it get the trigger's usual message and count in no variant.
    audience: dict[str, Any] = json_field(sa_column_kwargs={"server_default": text("'{}'")})
    #: Days after exposure in which a new order counts as a repeat purchase.
    repeat_days: int = 30
    started_at: datetime | None = utc_field()
    stopped_at: datetime | None = utc_field()
    created_at: datetime = utc_field(nullable=False, default_factory=utcnow)


class ExperimentExposure(SQLModel, table=True):
    """A customer's first message (or holdout) in an experiment: the start of their outcomes."""

    __table_args__ = (UniqueConstraint("experiment_id", "customer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    experiment_id: int = Field(foreign_key="experiment.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    variant: str = Field(max_length=40)
    order_id: int | None = Field(default=None, foreign_key="order.id")
    exposed_at: datetime = utc_field(nullable=False)
