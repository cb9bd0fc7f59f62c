"""Signal receivers: new parcels and new predictions → their first poll, in the sender's ``session``.

Like views and jobs, receivers are where the app meets the domain: they read the app's poll
policy and pass it to the planner.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app, has_app_context
from sqlmodel import Session

from postpurchase.tracking.intervals import PollPolicy, policy_from_config
from postpurchase.tracking.planner import replan_first_poll, schedule_first_poll


def _policy() -> PollPolicy:
    """The app's poll policy; outside an app (a script, a unit test) the default one."""
    return policy_from_config(current_app.config) if has_app_context() else PollPolicy()


def on_shipment_created(
    sender: int, *, session: Session, shipment_id: int, now: datetime, **_: object
) -> None:
    schedule_first_poll(session=session, shipment_id=shipment_id, now=now, policy=_policy())


def on_prediction_changed(sender: int, *, session: Session, now: datetime, **_: object) -> None:
    replan_first_poll(session=session, shipment_id=sender, now=now, policy=_policy())
