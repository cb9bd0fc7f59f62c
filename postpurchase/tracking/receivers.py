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
from postpurchase.unitcache import unit_cache


def _policy(session: Session) -> PollPolicy:
    """The app's poll policy, read once per unit of work (every new parcel asks twice); outside
    an app (a script, a unit test) the default one."""
    if not has_app_context():
        return PollPolicy()
    known = unit_cache(session, _POLICY)
    policy: PollPolicy | None = known.get(_POLICY)
    if policy is None:
        policy = known[_POLICY] = policy_from_config(current_app.config)
    return policy


_POLICY = "tracking_poll_policy"


def on_shipment_created(
    sender: int, *, session: Session, shipment_id: int, now: datetime, **_: object
) -> None:
    schedule_first_poll(session=session, shipment_id=shipment_id, now=now, policy=_policy(session))


def on_prediction_changed(sender: int, *, session: Session, now: datetime, **_: object) -> None:
    replan_first_poll(session=session, shipment_id=sender, now=now, policy=_policy(session))
