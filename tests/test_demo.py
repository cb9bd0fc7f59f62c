"""The demo loads through the production paths (intake, tracking on the sandbox, messages) and
tells a story that holds together: parcels are scanned along their route, promises come before
outcomes, carriers differ, and exchanges have stock to draw on."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
from sqlmodel import func, select

from carriers import sandbox
from carriers.status import Status
from postpurchase.clock import utcnow
from postpurchase.db import session_scope
from postpurchase.demo import DEMO_CATEGORY_NAMES, catch_up_tracking, load_demo
from postpurchase.demo_data import PRODUCTS, SOLD_OUT
from postpurchase.experiments.results import results
from postpurchase.insights import voc
from postpurchase.insights.figures import figures
from postpurchase.messaging import sink
from postpurchase.models import (
    Brand,
    DeliveryPrediction,
    FulfillmentCentre,
    InboxEvent,
    InboxState,
    InventoryLevel,
    Order,
    OrderLine,
    OutboxMessage,
    Persona,
    Shipment,
    TrackingEvent,
)
from postpurchase.models.enums import ReturnMethod
from postpurchase.models.experiments import Experiment, ExperimentState
from postpurchase.recommendations import for_order
from postpurchase.returns import dropoffs
from postpurchase.returns.exchange import exchange_options
from postpurchase.returns.policy import policy_for
from tests.messaging.conftest import free_port


def no_wait(_seconds: float) -> None:
    """Tests never wait in real time (and under a faked wall clock a real sleep fails outright)."""


def test_demo_brand_is_loaded_through_intake_and_tracked(app) -> None:
    with app.app_context():  # as under the `postpurchase demo` command
        brand_id = load_demo(app, slug="demo", orders=20, seed=3, days=10)
        catch_up_tracking(app, sleep=no_wait)
    with app.app_context(), session_scope(app) as s:
        states = set(s.exec(select(InboxEvent.state)).all())
        orders = s.exec(
            select(func.count()).select_from(Order).where(Order.brand_id == brand_id)
        ).one()
        shipped = s.exec(select(Shipment).where(Shipment.brand_id == brand_id)).all()
        scans = s.exec(select(func.count()).select_from(TrackingEvent)).one()
        messages = s.exec(select(func.count()).select_from(OutboxMessage)).one()
        experiment = s.exec(select(Experiment).where(Experiment.brand_id == brand_id)).one()
        exposed = results(session=s, experiment=experiment, now=utcnow()).exposed
    assert states == {InboxState.processed}
    assert orders == 20
    assert shipped and all(shipment.tracking_number for shipment in shipped)
    assert scans >= len(shipped)
    assert messages > 0
    assert experiment.state == ExperimentState.running and sum(exposed.values()) > 0


def test_demo_is_not_loaded_twice(app) -> None:
    with app.app_context():
        assert load_demo(app, slug="demo", orders=5, seed=3, days=3) is not None
        assert load_demo(app, slug="demo", orders=5, seed=3, days=3) is None


@pytest.mark.slow
def test_demo_tells_a_consistent_story(app) -> None:
    """Scans on the route, pickups near the customer, promises before outcomes, carriers that differ,
    parcels in trouble and stock for exchanges (one load: the checks share it to stay fast; with this
    seed the sandbox loses a parcel)."""
    port = free_port()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)  # as the demo command sets it
    mails, _ = sink.start(sink.mail_dir(app.instance_path), "127.0.0.1", port)
    try:
        with app.app_context():
            brand_id = load_demo(app, slug="demo", orders=60, seed=5, days=30)
            catch_up_tracking(app, sleep=no_wait)
    finally:
        mails.stop()
    with app.app_context(), session_scope(app) as s:
        shipments = s.exec(select(Shipment).where(Shipment.brand_id == brand_id)).all()
        orders = {o.id: o for o in s.exec(select(Order).where(Order.brand_id == brand_id))}
        centres = {fc.id: fc for fc in s.exec(select(FulfillmentCentre))}
        scans = defaultdict(list)
        for event in s.exec(select(TrackingEvent).order_by(TrackingEvent.occurred_at)):
            scans[event.shipment_id].append(event)
        first_prediction = {}
        for p in s.exec(
            select(DeliveryPrediction)
            .where(DeliveryPrediction.shipment_id.is_not(None))
            .order_by(DeliveryPrediction.made_at, DeliveryPrediction.id)
        ):
            first_prediction.setdefault(p.shipment_id, p)
        end = max(s.delivered_at for s in shipments if s.delivered_at).date() + timedelta(days=1)
        methods = figures(
            session=s,
            brand_id=brand_id,
            start=end - timedelta(days=60),
            end=end,
            group_by=("carrier",),
        ).rows
        stock = {level.sku: level.available for level in s.exec(select(InventoryLevel))}
        brand = s.get(Brand, brand_id)
        suggested = {
            order_id: [(r.sku, r.variant) for r in for_order(session=s, brand=brand, order=order)]
            for order_id, order in orders.items()
            if any(x.order_id == order_id and x.status == Status.delivered for x in shipments)
        }
        sizes = defaultdict(set)
        for line in s.exec(select(OrderLine).where(OrderLine.category == "apparel")):
            sizes[line.order_id].add(line.variant)
        voice = voc.voice(session=s, brand_id=brand_id, start=end - timedelta(days=60), end=end)
        message_states = dict(
            s.exec(
                select(OutboxMessage.state, func.count())
                .where(OutboxMessage.brand_id == brand_id)
                .group_by(OutboxMessage.state)
            ).all()
        )
        s.expunge_all()
    assert len(shipments) > 40
    _scans_follow_the_route(shipments, orders, centres, scans)
    _pickup_points_are_in_the_customers_prefecture(shipments, orders, scans)
    _promises_are_made_before_the_outcome(shipments, scans, first_prediction)
    _some_parcels_are_late_and_carriers_differ(methods)
    _some_parcels_are_in_trouble(shipments)
    _most_sizes_are_in_stock_for_exchanges(stock)
    _recommendations_show_for_some_deliveries_and_never_a_sold_out_size(suggested, stock, sizes)
    _customers_comment_on_what_happened_to_their_parcel(voice)
    _messages_went_out_as_their_parcels_moved(message_states)


def _messages_went_out_as_their_parcels_moved(states) -> None:
    """The replay sends what comes due as its weeks pass, so the merchant's log shows messages
    sent when their news was fresh; sent only at the end, nearly all would be stale (unsent)."""
    assert states.get("sent", 0) > 10 * states.get("stale", 0), states


def _prefecture(location: str) -> str:
    return next(p for p in sandbox.REGION_OF if location.startswith(p))


def _scans_follow_the_route(shipments, orders, centres, scans) -> None:
    """Origin centre's prefecture → the lane's hubs → the customer's prefecture, nowhere else."""
    for shipment in shipments:
        order, centre = orders[shipment.order_id], centres[shipment.fc_id]
        lane = sandbox.route(centre.postal_code, order.shipping_postal_code)
        allowed = {centre.region, order.shipping_region} | {hub.prefecture for hub in lane.hubs}
        assert scans[shipment.id], shipment.tracking_number
        for scan in scans[shipment.id]:
            assert _prefecture(scan.location) in allowed, (shipment.tracking_number, scan.location)
            assert scan.location in lane.locations or scan.location.startswith(
                order.shipping_region
            )


def _pickup_points_are_in_the_customers_prefecture(shipments, orders, scans) -> None:
    pickups = [
        (orders[shipment.order_id], scan)
        for shipment in shipments
        for scan in scans[shipment.id]
        if scan.status == Status.available_for_pickup
    ]
    assert pickups
    for order, scan in pickups:
        assert scan.location.startswith(order.shipping_region), (
            order.shipping_region,
            scan.location,
        )


def _promises_are_made_before_the_outcome(shipments, scans, first_prediction) -> None:
    """The promise is the first prediction's, made by the first scan and before the delivery."""
    assert all(shipment.promised_date for shipment in shipments)
    for shipment in shipments:
        first = first_prediction[shipment.id]
        assert first.promise_date == shipment.promised_date
        assert first.made_at <= scans[shipment.id][0].occurred_at, shipment.tracking_number
        if shipment.delivered_at:
            assert first.made_at < shipment.delivered_at


def _some_parcels_are_late_and_carriers_differ(methods) -> None:
    shares = {row.group["carrier"]: row.on_time_share for row in methods}
    assert set(shares) == {"yamato", "sagawa", "japanpost"}
    assert min(shares.values()) < 1
    assert len(set(shares.values())) > 1


def _some_parcels_are_in_trouble(shipments) -> None:
    trouble = {Status.exception, Status.returning_to_sender, Status.returned}
    assert any(shipment.status in trouble for shipment in shipments)


def _most_sizes_are_in_stock_for_exchanges(stock) -> None:
    sized = [p.sku for p in PRODUCTS if p.category == "apparel"]
    assert set(sized) <= set(stock)
    assert all(stock[sku] == 0 for sku in SOLD_OUT)
    assert sum(stock[sku] > 0 for sku in sized) > len(sized) / 2


def _recommendations_show_for_some_deliveries_and_never_a_sold_out_size(
    suggested, stock, sizes
) -> None:
    """Delivered orders get suggestions in stock, in the size bought; a size sold out everywhere
    (SAMUE-AI-L) leaves its buyers of size L with no samue, and some orders with nothing."""
    assert sum(bool(items) for items in suggested.values()) > len(suggested) / 2
    assert any(not items for items in suggested.values())
    for order_id, items in suggested.items():
        for sku, variant in items:
            assert stock[sku] > 0, sku
            if variant is not None:
                assert variant in sizes[order_id], (order_id, sku)
    assert any("L" in sizes[order_id] for order_id in suggested)


def test_demo_offers_convenience_stores_and_another_product_in_exchange(app) -> None:
    """A new user can walk the whole return on the demo: drop-off points are loaded, and a piece of
    clothing can be exchanged for another product that is in stock."""
    with app.app_context():
        brand_id = load_demo(app, slug="demo", orders=30, seed=3, days=10)
    with app.app_context(), session_scope(app) as s:
        brand = s.get(Brand, brand_id)
        stores = dropoffs.nearest_dropoffs(
            session=s,
            brand_id=brand_id,
            kind=ReturnMethod.convenience_store,
            postal_code="150-0001",
            limit=5,
        )
        line = s.exec(
            select(OrderLine).where(
                OrderLine.brand_id == brand_id, OrderLine.sku.startswith("TABI-SOCKS")
            )
        ).first()
        offered = exchange_options(
            session=s,
            brand_id=brand_id,
            line=line,
            currency="JPY",
            rule=policy_for(brand).part.exchange,
            now=utcnow(),
        )
    assert ReturnMethod.convenience_store in policy_for(brand).part.methods
    assert stores
    assert any(not option.sku.startswith("TABI-SOCKS") for option in offered)


def _customers_comment_on_what_happened_to_their_parcel(voice) -> None:
    """The VoC page has topics, and a late complaint is about a parcel that was late."""
    assert sum(row.count > 0 for row in voice.topics) >= 3
    late = next(link for link in voice.links if link.topic == voc.Topic.late)
    # Slot-aware promises leave the demo few late parcels; when one is complained about, the
    # complaint points at it more often than the other comments do.
    assert late.known == 0 or late.share > (late.other_share or 0)


def test_demo_orders_get_unboxing_kits_and_some_are_gifts(app) -> None:
    from postpurchase.models import OrderKit

    with app.app_context():
        brand_id = load_demo(app, slug="demo", orders=20, seed=3, days=10)
    with app.app_context(), session_scope(app) as s:
        kits = s.exec(select(OrderKit).where(OrderKit.brand_id == brand_id)).all()
    assert len(kits) == 20
    assert any("welcome" in k.kits for k in kits)
    assert any(k.gift and "gift" in k.kits for k in kits)


def test_demo_personas_are_fitted_and_call_categories_by_the_shops_names(app) -> None:
    with app.app_context():
        brand_id = load_demo(app, slug="demo", orders=30, seed=3, days=10)
    with app.app_context(), session_scope(app) as s:
        personas = s.exec(select(Persona).where(Persona.brand_id == brand_id)).all()
        words = [(p.description_ja, p.description_en) for p in personas]
    assert words
    codes = {product.category for product in PRODUCTS}
    names = {name for each in DEMO_CATEGORY_NAMES.values() for name in each.values()}
    for ja, en in words:
        assert not any(code in ja for code in codes), ja
        assert any(name in ja for name in names) or ja.startswith("いろいろな商品"), ja
        assert any(name in en for name in names) or "a mix of products" in en, en
