"""The demo loads through the production paths: intake, tracking on the sandbox, messages."""

from __future__ import annotations

from sqlmodel import func, select

from postpurchase.db import session_scope
from postpurchase.demo import catch_up_tracking, load_demo
from postpurchase.models import (
    InboxEvent,
    InboxState,
    Order,
    OutboxMessage,
    Shipment,
    TrackingEvent,
)


def test_demo_brand_is_loaded_through_intake_and_tracked(app) -> None:
    with app.app_context():  # as under the `postpurchase demo` command
        brand_id = load_demo(app, slug="demo", orders=20, seed=3)
        catch_up_tracking(app)
    with app.app_context(), session_scope(app) as s:
        states = set(s.exec(select(InboxEvent.state)).all())
        orders = s.exec(select(func.count()).select_from(Order).where(Order.brand_id == brand_id)).one()
        shipped = s.exec(select(Shipment).where(Shipment.brand_id == brand_id)).all()
        scans = s.exec(select(func.count()).select_from(TrackingEvent)).one()
        messages = s.exec(select(func.count()).select_from(OutboxMessage)).one()
    assert states == {InboxState.processed}
    assert orders == 20
    assert shipped and all(shipment.tracking_number for shipment in shipped)
    assert scans >= len(shipped)
    assert messages > 0


def test_demo_is_not_loaded_twice(app) -> None:
    with app.app_context():
        assert load_demo(app, slug="demo", orders=5, seed=3) is not None
        assert load_demo(app, slug="demo", orders=5, seed=3) is None
