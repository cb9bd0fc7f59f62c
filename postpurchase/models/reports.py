"""Runtime state of the scheduled reports, kept out of a brand's settings (which people edit)."""

from __future__ import annotations

from datetime import date

from sqlmodel import Field, SQLModel


class WeeklyReportSent(SQLModel, table=True):
    """The Monday of the last week whose insights report went out to a brand: a week at or before
    it is never mailed again."""

    brand_id: int = Field(foreign_key="brand.id", primary_key=True)
    week: date
