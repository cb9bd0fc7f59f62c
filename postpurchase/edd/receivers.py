"""Signal receivers: parcel events → a new prediction, in the sender's ``session``.

Like views and jobs, receivers are where the app meets the domain: they find the app's
:class:`~postpurchase.edd.service.ModelStore` and pass it to the service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, has_app_context
from sqlmodel import Session

from postpurchase.edd.service import ModelStore, models_of, predict_for_shipment


def _models() -> ModelStore:
    """The app's models; outside an app (a script) only stored models and the prior."""
    return models_of(current_app) if has_app_context() else ModelStore(directory=None)


def on_shipment_created(
    brand_id: int, *, session: Session, shipment_id: int, now: datetime | None = None, **_: Any
) -> None:
    predict_for_shipment(
        session=session, models=_models(), shipment_id=shipment_id, now=now, trigger="handover"
    )


def on_shipment_status_changed(
    shipment_id: int, *, session: Session, now: datetime | None = None, **_: Any
) -> None:
    predict_for_shipment(
        session=session, models=_models(), shipment_id=shipment_id, now=now, trigger="status"
    )
