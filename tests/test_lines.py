"""An order's lines read once per unit of work, and never stale within it."""

from __future__ import annotations

import copy

from sqlmodel import col, select

from postpurchase.clock import utcnow
from postpurchase.db import get_db
from postpurchase.inbox import process_events
from postpurchase.intake.examples import EXAMPLES
from postpurchase.intake.schemas import EventType
from postpurchase.lines import load, order_lines, remember
from postpurchase.models import DeliveryPrediction, Order, OrderLine
from tests.sql import recorded

ORDER = EXAMPLES[EventType.order_created]
SHIPMENT = EXAMPLES[EventType.shipment_created]


def _order_with_lines(session, brand_id: int, skus: list[str]) -> int:
    order = Order(
        brand_id=brand_id, external_id="SO-LINES", number="#1", placed_at=utcnow(), attributes={}
    )
    session.add(order)
    session.flush()
    assert order.id is not None
    for sku in skus:
        session.add(OrderLine(brand_id=brand_id, order_id=order.id, line_key=sku, sku=sku))
    session.commit()
    return order.id


def test_loaded_lines_are_answered_without_a_query(app, session, brand) -> None:
    order_id = _order_with_lines(session, brand.brand_id, ["TEA-1", "CUP-2"])
    engine = get_db(app).engine
    with recorded(engine, starting="SELECT", containing="orderline") as reads:
        load(session, [order_id])
        first = order_lines(session, order_id)
        again = order_lines(session, order_id)
    assert [line.sku for line in first] == ["TEA-1", "CUP-2"] == [line.sku for line in again]
    assert len(reads) == 1


def test_a_rolled_back_savepoint_forgets_what_it_changed(app, session, brand) -> None:
    order_id = _order_with_lines(session, brand.brand_id, ["TEA-1", "CUP-2"])
    load(session, [order_id])
    try:
        with session.begin_nested():
            kept = [line for line in order_lines(session, order_id) if line.sku == "TEA-1"]
            for line in order_lines(session, order_id):
                if line.sku != "TEA-1":
                    session.delete(line)
            added = OrderLine(brand_id=brand.brand_id, order_id=order_id, line_key="X", sku="X")
            session.add(added)
            session.flush()
            remember(session, {order_id: [*kept, added]})
            assert [line.sku for line in order_lines(session, order_id)] == ["TEA-1", "X"]
            raise RuntimeError("the event fails")
    except RuntimeError:
        pass
    assert [line.sku for line in order_lines(session, order_id)] == ["TEA-1", "CUP-2"]


def test_pending_lines_are_flushed_before_they_are_read(session, brand) -> None:
    order_id = _order_with_lines(session, brand.brand_id, ["TEA-1"])
    load(session, [order_id])
    session.add(OrderLine(brand_id=brand.brand_id, order_id=order_id, line_key="NEW", sku="NEW"))
    # Not remembered by whoever added it: the cache cannot know, the flush and a new read do.
    session.info["order_lines"].clear()
    assert [line.sku for line in order_lines(session, order_id)] == ["TEA-1", "NEW"]


def test_a_commit_forgets_the_lines(app, session, brand) -> None:
    order_id = _order_with_lines(session, brand.brand_id, ["TEA-1"])
    load(session, [order_id])
    session.commit()
    with get_db(app).session() as other:  # another process adds a line
        other.add(OrderLine(brand_id=brand.brand_id, order_id=order_id, line_key="B", sku="B"))
        other.commit()
    assert [line.sku for line in order_lines(session, order_id)] == ["TEA-1", "B"]


def test_an_order_update_and_a_shipment_in_one_batch_predict_from_the_new_lines(
    app, post_event
) -> None:
    """The batch prefetches the order's lines; the update replaces them before the shipment's
    prediction reads them (its order features name the main line's category)."""
    post_event(ORDER)
    process_events(app)
    updated = copy.deepcopy(ORDER)
    updated["id"] = "evt-order-updated"
    updated["type"] = "order.updated"
    updated["occurred_at"] = "2026-11-21T11:00:00+09:00"
    updated["data"]["lines"] = [
        {
            "line_id": "L-NEW",
            "sku": "KETTLE-1",
            "quantity": 1,
            "unit_price": 9800,
            "category": "kettle",
        }
    ]
    ids = [post_event(updated).json["id"], post_event(SHIPMENT).json["id"]]
    assert process_events(app, ids).processed == 2
    with get_db(app).session() as s:
        prediction = s.exec(
            select(DeliveryPrediction)
            .where(col(DeliveryPrediction.shipment_id).is_not(None))
            .order_by(col(DeliveryPrediction.id))
        ).first()
        skus = [line.sku for line in s.exec(select(OrderLine))]
    assert skus == ["KETTLE-1"]
    assert prediction is not None
    assert prediction.basis["order_features"]["category"] == "kettle"
