"""Runtime state of the scheduled reports, kept out of a brand's settings (which people edit)."""

from __future__ import annotations

from datetime import date

from sqlmodel import Field, SQLModel

from postpurchase.models.enums import ReportPeriod
from postpurchase.models.types import enum_field


class ReportSent(SQLModel, table=True):
    """The first day of the last period (week or month) whose insights report went out to a brand:
    a period starting at or before it is never mailed again."""

    brand_id: int = Field(foreign_key="brand.id", primary_key=True)
    period: ReportPeriod = enum_field(ReportPeriod, primary_key=True)
    start: date
