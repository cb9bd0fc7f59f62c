"""What the insights page, CSV, PDF and weekly email show for a period, assembled from :mod:`figures`.

No figure is defined here: every number comes from :func:`figures.figures` (and its return reasons
and comments), so the page and its exports agree with ``GET /api/v1/insights/shipments``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session

from postpurchase.insights.figures import (
    Comment,
    FigureRow,
    ReasonRow,
    comments,
    figures,
    figures_by,
    return_reasons,
)
from postpurchase.insights.voc import Voice, voice

#: The headline figures of the overview, each compared with the previous period.
HEADLINES: tuple[str, ...] = (
    "shipments",
    "on_time_share",
    "order_to_delivery_days_median",
    "redelivery_rate",
    "return_rate",
    "nps",
)

#: Figures a table may be sorted by (``?sort=``), beside the group columns' own order.
SORTABLE: tuple[str, ...] = tuple(
    name for name in FigureRow.__dataclass_fields__ if name != "group"
)


@dataclass(frozen=True)
class Report:
    start: date
    end: date
    currency: str
    #: The whole period, and the same number of days just before it.
    overview: FigureRow
    previous: FigureRow
    previous_start: date
    previous_end: date
    #: Per carrier and service; per carrier; per destination region (JIS order).
    methods: list[FigureRow]
    carriers: list[FigureRow]
    regions: list[FigureRow]
    #: Per customer segment (first order, repeat); per requested time slot.
    segments: list[FigureRow]
    time_slots: list[FigureRow]
    #: The redelivery rate the brand compares itself with (setting ``insights.redelivery_reference``).
    redelivery_reference: float | None
    reasons: list[ReasonRow]
    comments: list[Comment]
    #: Topics of the comments written in the period: the VoC digest of the PDF and weekly email.
    voice: Voice
    #: The latest exchange-rate date amounts in other currencies were converted at (None: none
    #: were), and how many parcels had such an amount with no rate, left out of the money figures.
    rate_date: date | None = None
    unconverted: int = 0

    def change(self, name: str) -> float | None:
        """The headline ``name`` now minus before; None when either period lacks it."""
        now, before = getattr(self.overview, name), getattr(self.previous, name)
        return None if now is None or before is None else now - before


def sort_rows(rows: list[FigureRow], sort: str | None, descending: bool) -> list[FigureRow]:
    """``rows`` ordered by the figure ``sort`` (rows without it last); as given when ``sort`` is None."""
    if sort is None:
        return rows
    if sort not in SORTABLE:
        raise ValueError(f"must be one of {', '.join(SORTABLE)}")
    known = [row for row in rows if getattr(row, sort) is not None]
    unknown = [row for row in rows if getattr(row, sort) is None]
    return sorted(known, key=lambda row: getattr(row, sort), reverse=descending) + unknown


def report(
    *,
    session: Session,
    brand_id: int,
    start: date,
    end: date,
    redelivery_reference: float | None = None,
) -> Report:
    """Everything the insights page, CSV and PDF show for the parcels ordered from ``start`` to ``end``."""
    length = end - start + timedelta(days=1)
    previous_start, previous_end = start - length, start - timedelta(days=1)
    # One scan of the period for the overview and the groupings that are few rows each; regions
    # (47 × the others would make the scan's groups nearly as many as its parcels) get their own.
    overview, methods, carriers, segments, time_slots = figures_by(
        session=session,
        brand_id=brand_id,
        start=start,
        end=end,
        groupings=[(), ("carrier", "service"), ("carrier",), ("segment",), ("time_slot",)],
    )
    regions = figures(
        session=session, brand_id=brand_id, start=start, end=end, group_by=["destination_region"]
    )
    return Report(
        start=start,
        end=end,
        currency=overview.currency,
        overview=overview.rows[0],
        previous=figures(
            session=session, brand_id=brand_id, start=previous_start, end=previous_end
        ).rows[0],
        previous_start=previous_start,
        previous_end=previous_end,
        methods=methods.rows,
        carriers=carriers.rows,
        regions=regions.rows,
        segments=segments.rows,
        time_slots=time_slots.rows,
        redelivery_reference=redelivery_reference,
        reasons=return_reasons(session=session, brand_id=brand_id, start=start, end=end),
        comments=comments(session=session, brand_id=brand_id, start=start, end=end),
        voice=voice(session=session, brand_id=brand_id, start=start, end=end),
        rate_date=overview.rate_date,
        unconverted=overview.unconverted,
    )
