"""Every event type, from the published examples, through HTTP, the inbox and the operations."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from intake_helpers import example, inbox, process, rows
from openapi_spec_validator import validate

from postpurchase.intake.examples import EXAMPLES, STORY
from postpurchase.intake.schemas import EventType
from postpurchase.models import (
    Customer,
    DeliveryOption,
    FulfillmentCentre,
    InboxEvent,
    InboxState,
    InventoryLevel,
    Order,
    OrderLine,
    OrderStatus,
    ReturnLine,
    ReturnRequest,
    ReturnState,
    Shipment,
    TimeSlot,
)


@pytest.fixture
def story(app, post_event):
    """Post the examples in story order up to (and including) a given type, then process."""

    def tell(until: EventType) -> None:
        for event_type in STORY[: STORY.index(until) + 1]:
            assert post_event(EXAMPLES[event_type]).status_code == 202, event_type
        process(app)

    return tell


def test_openapi_document_validates(client) -> None:
    document = client.get("/api/v1/openapi.json").json
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_openapi_document_has_an_example_for_every_event_type(client) -> None:
    document = client.get("/api/v1/openapi.json").json
    examples = document["paths"]["/api/v1/events"]["post"]["requestBody"]["content"][
        "application/json"
    ]["examples"]
    assert set(examples) == {t.value for t in EventType}
    assert examples["shipment.created"]["value"] == EXAMPLES[EventType.shipment_created]


@pytest.mark.parametrize("event_type", list(STORY))
def test_every_example_is_accepted_exactly_as_written_and_processed(app, event_type, story) -> None:
    story(event_type)
    assert [e.state for e in inbox(app)] == [InboxState.processed] * (STORY.index(event_type) + 1)


def test_order_created_stores_order_customer_and_lines(app, story) -> None:
    story(EventType.order_created)
    [order] = rows(app, Order)
    assert (order.external_id, order.number, order.total_amount, order.currency) == (
        "SO-2026-10234",
        "#10234",
        12760,
        "JPY",
    )
    assert order.placed_at == datetime(2026, 11, 20, 12, 14, 5, tzinfo=UTC)
    assert (order.shipping_postal_code, order.shipping_region) == ("150-0001", "東京都")
    [customer] = rows(app, Customer)
    assert (customer.name, customer.email) == ("山田 花子", "hanako.yamada@example.jp")
    assert customer.consent["line"]["marketing"] is True
    assert order.customer_id == customer.id
    assert sorted(line.sku for line in rows(app, OrderLine)) == [
        "CUP-HAGI-WHT",
        "SNACK-YOKAN-1",
        "TEA-SENCHA-100",
    ]


def test_order_updated_replaces_lines_and_totals(app, story) -> None:
    story(EventType.order_updated)
    [order] = rows(app, Order)
    assert order.total_amount == 14740
    assert len(rows(app, OrderLine)) == 4


def test_shipment_created_makes_one_row_per_parcel(app, story) -> None:
    story(EventType.shipment_created)
    parcels = sorted(rows(app, Shipment), key=lambda s: s.parcel_index)
    assert [(p.external_id, p.parcel_index, p.tracking_number) for p in parcels] == [
        ("SH-883201", 0, "4912-3456-7890"),
        ("SH-883201", 1, "4912-3456-7901"),
    ]
    first = parcels[0]
    assert (
        first.carrier_code,
        first.service,
        first.weight_g,
        first.cost_amount,
        first.cost_currency,
    ) == ("yamato", "宅急便", 1450, 930, "JPY")
    assert (first.requested_date, first.time_slot, first.delivery_option) == (
        date(2026, 11, 23),
        TimeSlot.morning,
        DeliveryOption.leave_at_door,
    )
    assert first.lines == [
        {"sku": "TEA-SENCHA-100", "quantity": 2, "line_id": "1"},
        {"sku": "TEA-HOJI-50", "quantity": 1, "line_id": "4"},
    ]
    [order] = rows(app, Order)
    assert {p.order_id for p in parcels} == {order.id}
    [centre] = rows(app, FulfillmentCentre)
    assert (centre.code, centre.name, first.fc_id) == (
        "ICHIKAWA-1",
        "市川第1物流センター",
        centre.id,
    )


def test_shipment_updated_changes_only_the_fields_sent(app, story) -> None:
    story(EventType.shipment_updated)
    for parcel in rows(app, Shipment):
        assert (parcel.requested_date, parcel.time_slot, parcel.delivery_option) == (
            date(2026, 11, 24),
            TimeSlot.h19_21,
            DeliveryOption.door,
        )
        assert parcel.carrier_code == "yamato" and parcel.tracking_number.startswith("4912")


def test_shipment_created_stores_the_centre_address_return_labels_print(app, story) -> None:
    story(EventType.shipment_created)
    [centre] = rows(app, FulfillmentCentre)
    assert (centre.postal_code, centre.city, centre.street, centre.phone) == (
        "272-0002",
        "市川市",
        "二俣新町20-1",
        "047-000-1234",
    )


def test_inventory_updated_stores_levels_per_centre(app, story) -> None:
    story(EventType.inventory_updated)
    levels = {level.sku: level.available for level in rows(app, InventoryLevel)}
    assert levels == {"TEA-SENCHA-100": 148, "CUP-HAGI-WHT": 12, "SNACK-YOKAN-1": 0}


def test_return_received_creates_the_rma_as_received(app, story) -> None:
    story(EventType.return_received)
    [rma] = rows(app, ReturnRequest)
    assert (rma.rma_number, rma.state, rma.return_tracking_number) == (
        "RMA-20261127-0042",
        ReturnState.received,
        "4912-3456-8123",
    )
    assert rma.received_at == datetime(2026, 11, 27, 2, 18, tzinfo=UTC)
    [line] = rows(app, ReturnLine)
    assert (line.sku, line.reason_code, line.condition) == ("CUP-HAGI-WHT", "damaged", "欠けあり")


def test_shipment_cancelled_marks_every_parcel(app, story) -> None:
    story(EventType.shipment_cancelled)
    assert {p.cancelled_at for p in rows(app, Shipment)} == {
        datetime(2026, 11, 22, 1, 11, 30, tzinfo=UTC)
    }


def test_order_cancelled_cancels_the_order(app, story) -> None:
    story(EventType.order_cancelled)
    [order] = rows(app, Order)
    assert order.status == OrderStatus.cancelled


def test_single_tracking_number_is_one_parcel(app, post_event) -> None:
    post_event(EXAMPLES[EventType.order_created])
    shipment = example(
        "shipment.created",
        parcels=None,
        tracking_number="3601-1111-2222",
        weight_g=700,
        cost=880,
        lines=[{"sku": "TEA-SENCHA-100", "quantity": 2}],
        destination=None,
        carrier="sagawa",
        time_slot="14-16",
    )
    del shipment["data"]["parcels"]
    post_event(shipment)
    process(app)
    [parcel] = rows(app, Shipment)
    assert (parcel.tracking_number, parcel.weight_g, parcel.cost_amount, parcel.time_slot) == (
        "3601-1111-2222",
        700,
        880,
        TimeSlot.h14_16,
    )
    assert parcel.destination_postal_code == "150-0001"  # from the order's shipping address


def test_get_order_returns_lines_and_parcels(story, client, brand) -> None:
    story(EventType.shipment_created)
    response = client.get(
        "/api/v1/orders/SO-2026-10234", headers={"Authorization": f"Bearer {brand.api_key}"}
    )
    assert response.status_code == 200
    body = response.json
    assert body["number"] == "#10234" and len(body["lines"]) == 4
    assert [s["tracking_number"] for s in body["shipments"]] == ["4912-3456-7890", "4912-3456-7901"]
    assert body["shipments"][0]["fc_code"] == "ICHIKAWA-1"


def test_a_shipment_reads_the_same_in_its_order_and_from_the_shipments_api(
    story, client, brand
) -> None:
    story(EventType.shipment_created)
    auth = {"Authorization": f"Bearer {brand.api_key}"}
    in_order = client.get("/api/v1/orders/SO-2026-10234", headers=auth).json["shipments"]
    listed = client.get("/api/v1/shipments", headers=auth).json["data"]
    assert len(in_order) == len(listed) == 2
    for shipment, from_list in zip(in_order, listed, strict=True):
        alone = client.get(f"/api/v1/shipments/{shipment['id']}", headers=auth).json
        assert set(alone) == set(shipment) == set(from_list)
        assert alone == shipment == from_list


def test_get_order_of_another_brand_is_404(story, client, make_brand) -> None:
    story(EventType.order_created)
    other = make_brand("other")
    response = client.get(
        "/api/v1/orders/SO-2026-10234", headers={"Authorization": f"Bearer {other.api_key}"}
    )
    assert response.status_code == 404


def test_get_order_needs_an_api_key(client) -> None:
    assert client.get("/api/v1/orders/SO-1").status_code == 401


def test_same_ids_in_two_brands_stay_apart(app, post_event, make_brand) -> None:
    other = make_brand("other")
    post_event(EXAMPLES[EventType.order_created])
    assert post_event(EXAMPLES[EventType.order_created], as_brand=other).status_code == 202
    post_event(EXAMPLES[EventType.shipment_created], as_brand=other)
    process(app)
    orders = {o.brand_id: o.id for o in rows(app, Order)}
    assert len(orders) == 2
    assert {s.order_id for s in rows(app, Shipment)} == {orders[other.brand_id]}
    assert all(e.state == InboxState.processed for e in rows(app, InboxEvent))


def test_order_created_keeps_who_pays_import_duties(app, post_event) -> None:
    envelope = example("order.created")
    envelope["data"]["duties_terms"] = "ddu"
    assert post_event(envelope).status_code == 202
    process(app)
    [order] = rows(app, Order)
    assert order.duties_terms == "ddu"
