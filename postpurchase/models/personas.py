"""Customer profiles kept current from events, and the personas learned from them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from postpurchase.clock import utcnow
from postpurchase.models.types import brand_fk, json_field, utc_field


class CustomerProfile(SQLModel, table=True):
    """What one customer's history says, recomputed for that customer whenever an order,
    parcel, return or answer of theirs changes (:mod:`postpurchase.profiles`).

    Holds aggregates only: the comments themselves stay on their feedback and return rows, so an
    erasure has one place less to reach. Money is in minor units of ``currency``.
    """

    __table_args__ = (UniqueConstraint("customer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    customer_id: int = Field(foreign_key="customer.id")
    order_count: int = 0
    lifetime_spend: int = 0
    currency: str = Field(default="JPY", max_length=3)
    first_order_at: datetime | None = utc_field()
    last_order_at: datetime | None = utc_field()
    #: Units bought per category (``{"tea": 5}``) and the size last bought per category.
    categories: dict[str, int] = json_field()
    sizes: dict[str, str] = json_field()
    units: int = 0
    returns: int = 0
    returned_units: int = 0
    #: Returned units per reason code (``{"too_small": 2}``).
    return_reasons: dict[str, int] = json_field()
    returned_skus: list[str] = json_field(default_factory=list)
    nps_answers: int = 0
    nps_last: int | None = None
    nps_average: float | None = None
    comments: int = 0
    #: Parcels delivered after their promised date, failed delivery attempts, parcels that went wrong.
    late_deliveries: int = 0
    failed_attempts: int = 0
    exceptions: int = 0
    #: The newest parcel's situation (``none``, ``in_transit``, ``delayed``, ``problem``, ``delivered``).
    parcel: str = Field(default="none", max_length=16)
    messages: int = 0
    opens: int = 0
    clicks: int = 0
    #: The channel the customer engages with most (clicks, then opens, then messages received).
    preferred_channel: str | None = Field(default=None, max_length=32)
    #: The customer's consent answers as stored on the customer (channel → purposes).
    consent: dict[str, Any] = json_field()
    #: Key of the brand's persona this customer is nearest to; None until personas are fitted.
    persona: str | None = Field(default=None, max_length=16)
    refreshed_at: datetime = utc_field(nullable=False, default_factory=utcnow)


class StaleProfile(SQLModel, table=True):
    """A customer whose stored profile may no longer say what their rows say: marked by the unit of
    work that changed them, cleared when the profile is recomputed (:mod:`postpurchase.profiles`).

    Recomputing a profile reads all of a customer's history; the unit of work that applies an
    order or a scan only marks it, and a job (or a page that shows the profile) recomputes.
    """

    customer_id: int = Field(foreign_key="customer.id", primary_key=True)
    brand_id: int = brand_fk()
    #: Raised by every mark after the first, so a refresh that read the customer's rows before a
    #: later change committed leaves the mark for the next one.
    generation: int = 1
    #: When the profile was first marked since it was last recomputed.
    marked_at: datetime = utc_field(nullable=False, default_factory=utcnow)


class Persona(SQLModel, table=True):
    """One cluster of a brand's customers, described in words from its centroid."""

    __table_args__ = (UniqueConstraint("brand_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = brand_fk()
    key: str = Field(max_length=16)
    #: Customers assigned when the personas were fitted.
    size: int = 0
    #: Feature name → value at the centroid, in the features' own units (days, orders, yen…).
    centroid: dict[str, Any] = json_field()
    #: The channel most of its customers chose when it was fitted; None: none chose one.
    channel: str | None = Field(default=None, max_length=32)
    #: Its description when it was fitted, as the fit's record (the command line, the audit log);
    #: pages describe it afresh (:mod:`postpurchase.personas.wording`), in the brand's current
    #: category names.
    description_ja: str = Field(default="", max_length=500)
    description_en: str = Field(default="", max_length=500)
    #: The space the centroid lives in, the same in every persona of the brand: ``{"features":
    #: [...], "mean": [...], "scale": [...], "categories": [...], "centre": [...]}`` (``centre`` is
    #: this persona's centroid in standardised units), so a new customer is assigned without refitting.
    space: dict[str, Any] = json_field()
    #: The mean silhouette of the chosen k (the criterion it was chosen by).
    silhouette: float = 0.0
    fitted_at: datetime = utc_field(nullable=False, default_factory=utcnow)
