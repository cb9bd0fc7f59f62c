"""The rollup the insights figures read: one narrow row per parcel with an order."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from postpurchase.models.types import brand_fk, utc_field


class ShipmentFigures(SQLModel, table=True):
    """What :mod:`postpurchase.insights.figures` needs of one parcel, computed in advance.

    Written only by ``postpurchase.insights.rollup`` from the parcel, its order, returns and
    feedback; local dates and days are in the brand's timezone. Money is in minor units of the
    brand's currency, None when unknown or in another currency.
    """

    #: Stored in (brand, order day) order: a period's rows are one contiguous range, read in
    #: sequence instead of one random row lookup each (on SQLite, WITHOUT ROWID clusters the
    #: table by its primary key; the figures of 250,000 parcels took half the time).
    __table_args__ = (
        Index("ux_shipmentfigures_shipment", "shipment_id", unique=True),
        {"sqlite_with_rowid": False},
    )

    brand_id: int = Field(foreign_key="brand.id", primary_key=True)
    order_day: date = Field(primary_key=True)
    shipment_id: int = Field(foreign_key="shipment.id", primary_key=True)
    #: ``YYYY-MM`` and the Monday (``YYYY-MM-DD``) of ``order_day``: the month and week groups.
    order_month: str = Field(max_length=7)
    order_week: str = Field(max_length=10)
    carrier_code: str = Field(max_length=32)
    service: str = Field(max_length=64)
    fc_code: str | None = Field(default=None, max_length=64)
    destination_region: str | None = Field(default=None, max_length=64)
    category: str | None = Field(default=None, max_length=128)
    delivered: bool
    #: Days from the local order (hand-over) date to the local delivery date; None until delivered.
    order_days: int | None = None
    transit_days: int | None = None
    #: The same in business days of the destination country's calendar (JP when unknown).
    order_business_days: int | None = None
    transit_business_days: int | None = None
    #: ``first`` (the customer's first order, or no known customer) or ``repeat``.
    segment: str = Field(
        default="first", max_length=16, sa_column_kwargs={"server_default": text("'first'")}
    )
    #: The requested delivery time slot (時間帯指定), None when none was asked for.
    time_slot: str | None = Field(default=None, max_length=32)
    promised: bool
    on_time: bool
    first_attempt: bool
    failed_attempts: int
    cost_amount: int | None = None
    order_value: int | None = None
    #: The date of the exchange rate an amount in another currency was converted at (the latest
    #: one on or before the order day); None when nothing needed converting.
    fx_rate_date: date | None = None
    #: An amount was in another currency and the brand's rate table had no rate for it: the
    #: figures leave it out and say how many they left out.
    fx_missing: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    returned: bool
    returned_units: int
    responses: int
    promoters: int
    detractors: int
    #: Where a delivered parcel was left (``carriers.status.Handover``); None when unsaid or undelivered.
    delivered_to: str | None = Field(default=None, max_length=32)
    #: Delivered and left without a hand-over (box, safe place, mailbox, locker).
    unattended: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    #: A return line of the order gives late delivery as its reason, or the parcel's feedback
    #: scored 0–6 (a detractor): a complaint that may be about lateness.
    late_complaint: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    refreshed_at: datetime = utc_field(nullable=False)


class FxRate(SQLModel, table=True):
    """A reference exchange rate a brand loaded: ``per_eur`` units of ``currency`` buy one euro
    (the ECB's quotation), on ``rate_date``."""

    __table_args__ = (UniqueConstraint("brand_id", "currency", "rate_date"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    currency: str = Field(max_length=3)
    rate_date: date
    per_eur: float
