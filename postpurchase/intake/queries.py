"""Read models of intake data for the API (brand-scoped)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from postpurchase.intake.operations import find_order
from postpurchase.intake.schemas import (
    AddressIn,
    DestinationIn,
    OrderLinePublic,
    OrderPublic,
    ShipmentPublic,
)
from postpurchase.models import Customer, FulfillmentCentre, OrderLine, Shipment


def order_public(*, session: Session, brand_id: int, external_id: str) -> OrderPublic | None:
    """The order ``external_id`` of this brand with its lines and parcels; None if unknown."""
    order = find_order(session=session, brand_id=brand_id, external_id=external_id)
    if order is None:
        return None
    customer = session.get(Customer, order.customer_id) if order.customer_id else None
    lines = session.exec(
        select(OrderLine).where(OrderLine.order_id == order.id).order_by(col(OrderLine.id))
    )
    rows = session.exec(
        select(Shipment, FulfillmentCentre.code)
        .join(FulfillmentCentre, col(FulfillmentCentre.id) == Shipment.fc_id, isouter=True)
        .where(Shipment.brand_id == brand_id, Shipment.order_id == order.id)
        .order_by(col(Shipment.external_id), col(Shipment.parcel_index))
    )
    return OrderPublic(
        order_id=order.external_id,
        number=order.number,
        status=order.status,
        channel=order.channel,
        placed_at=order.placed_at,
        cancelled_at=order.cancelled_at,
        currency=order.currency,
        total_amount=order.total_amount,
        shipping_amount=order.shipping_amount,
        customer_id=customer.external_id if customer else None,
        shipping_address=AddressIn(
            name=order.shipping_name,
            postal_code=order.shipping_postal_code,
            region=order.shipping_region,
            city=order.shipping_city,
            country=order.shipping_country or "JP",
        ),
        lines=[
            OrderLinePublic(
                line_id=line.line_key,
                sku=line.sku,
                variant=line.variant,
                name=line.name,
                category=line.category,
                quantity=line.quantity,
                unit_price=line.unit_price,
                final_sale=line.final_sale,
            )
            for line in lines
        ],
        shipments=[_shipment_public(shipment, fc_code) for shipment, fc_code in rows],
    )


def _shipment_public(shipment: Shipment, fc_code: str | None) -> ShipmentPublic:
    return ShipmentPublic(
        shipment_id=shipment.external_id,
        parcel_index=shipment.parcel_index,
        carrier=shipment.carrier_code,
        service=shipment.service,
        tracking_number=shipment.tracking_number,
        status=shipment.status,
        fc_code=fc_code,
        shipped_at=shipment.shipped_at,
        delivered_at=shipment.delivered_at,
        cancelled_at=shipment.cancelled_at,
        requested_date=shipment.requested_date,
        time_slot=shipment.time_slot,
        delivery_option=shipment.delivery_option,
        promised_date=shipment.promised_date,
        predicted_date=shipment.predicted_date,
        weight_g=shipment.weight_g,
        cost=shipment.cost_amount,
        currency=shipment.cost_currency,
        lines=shipment.lines,
        destination=DestinationIn(
            postal_code=shipment.destination_postal_code,
            region=shipment.destination_region,
            country=shipment.destination_country or "JP",
        ),
    )
