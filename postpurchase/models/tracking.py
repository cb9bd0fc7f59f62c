"""Tables owned by ``postpurchase.tracking``: raw carrier answers and per-carrier circuit state."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Field, SQLModel

from postpurchase.clock import utcnow
from postpurchase.models.types import brand_fk, json_field, utc_field


class CarrierResponse(SQLModel, table=True):
    """What a carrier said about one parcel, kept ``RAW_RETENTION_DAYS`` for support."""

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    shipment_id: int = Field(foreign_key="shipment.id", index=True)
    carrier_code: str = Field(max_length=32)
    tracking_number: str = Field(max_length=64)
    #: ``poll``, ``webhook``, ``refresh``.
    source: str = Field(max_length=16)
    #: The parsed result as JSON, with the adapter's raw reference (an inbox id for webhooks).
    payload: dict[str, Any] = json_field()
    received_at: datetime = utc_field(nullable=False, default_factory=utcnow, index=True)


class CarrierCircuit(SQLModel, table=True):
    """Health of one carrier account (``code`` or ``code@brand``), shared by every process.

    ``state``: ``closed`` (normal), ``open`` (no calls until ``open_until``), ``half_open`` (one
    probe call is in flight until ``probe_until``). ``retry_at`` holds a rate-limit back-off, and
    ``day``/``day_requests`` count calls against a daily quota.
    """

    key: str = Field(primary_key=True, max_length=100)
    state: str = Field(default="closed", max_length=16)
    failures: int = 0
    opened_count: int = 0
    open_until: datetime | None = utc_field()
    probe_until: datetime | None = utc_field()
    retry_at: datetime | None = utc_field()
    day: date | None = None
    day_requests: int = 0
    last_error: str | None = Field(default=None, max_length=300)
    updated_at: datetime = utc_field(nullable=False, default_factory=utcnow)
