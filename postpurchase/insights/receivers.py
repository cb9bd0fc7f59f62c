"""Signal receivers: keep the per-parcel counts that the insights figures read."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session

from carriers.status import Status
from postpurchase.models import Shipment


def on_shipment_status_changed(
    shipment_id: int, *, session: Session, current: Status, **_: Any
) -> None:
    """Count a failed delivery attempt each time a parcel enters ``attempt_fail``."""
    if current == Status.attempt_fail:
        session.execute(
            update(Shipment)
            .where(Shipment.id == shipment_id)  # type: ignore[arg-type]
            .values(failed_attempts=Shipment.failed_attempts + 1)
        )
