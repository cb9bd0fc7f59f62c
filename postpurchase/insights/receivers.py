"""Signal receivers: keep the per-parcel counts and the rollup that the insights figures read.

Each runs in the sender's ``session``, so the rollup commits or rolls back with the change.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from carriers.status import Status
from postpurchase.clock import utcnow
from postpurchase.insights.figures import defer_refresh
from postpurchase.models import ReturnRequest, Shipment


def _refresh(
    session: Session, brand_id: int, shipment_ids: Collection[int], now: datetime | None
) -> None:
    """Mark the parcels' rollup rows for refresh when this unit of work commits.

    Refreshing is one INSERT … SELECT however many parcels it covers, so an inbox batch pays it
    once instead of once per event; :func:`~postpurchase.insights.figures.figures` applies what is
    still pending in its own session before it reads.
    """
    if shipment_ids:
        defer_refresh(session, brand_id, shipment_ids, now or utcnow())


def _of_order(session: Session, order_id: int | None) -> list[int]:
    if order_id is None:
        return []
    return [
        shipment_id
        for shipment_id in session.exec(select(Shipment.id).where(Shipment.order_id == order_id))
        if shipment_id is not None
    ]


def on_shipment_status_changed(
    shipment_id: int,
    *,
    session: Session,
    brand_id: int,
    current: Status,
    now: datetime | None = None,
    **_: Any,
) -> None:
    """Refresh the parcel's row (its failed attempts are counted where its scans are applied)."""
    _refresh(session, brand_id, [shipment_id], now)


def on_shipment_created(
    brand_id: int, *, session: Session, shipment_id: int, now: datetime | None = None, **_: Any
) -> None:
    _refresh(session, brand_id, [shipment_id], now)


def on_order_upserted(
    brand_id: int,
    *,
    session: Session,
    order_id: int,
    created: bool = False,
    now: datetime | None = None,
    **_: Any,
) -> None:
    """A changed order changes its parcels' figures (spend, currency); a new one has no parcels
    yet (a parcel that came first waits for it), so nothing is looked up for it."""
    if not created:
        _refresh(session, brand_id, _of_order(session, order_id), now)


def on_return_updated(
    return_id: int, *, session: Session, brand_id: int, now: datetime | None = None, **_: Any
) -> None:
    request = session.get(ReturnRequest, return_id)
    if request is not None:
        _refresh(session, brand_id, _of_order(session, request.order_id), now)


def on_feedback_saved(
    brand_id: int,
    *,
    session: Session,
    order_id: int | None,
    shipment_id: int | None,
    now: datetime | None = None,
    **_: Any,
) -> None:
    ids = [shipment_id] if shipment_id is not None else _of_order(session, order_id)
    _refresh(session, brand_id, ids, now)
