"""Shopify webhooks mapped onto the same domain operations as the generic schema.

Shopify bodies are translated into the generic ``data`` models (:mod:`postpurchase.intake.schemas`)
and applied by :mod:`postpurchase.intake.operations`, so both sources behave the same. Money
strings become minor units of their currency (``"398.00"`` USD → 39800, ``"1980"`` JPY → 1980).
Ids: the exact digits of ``admin_graphql_api_id`` are preferred over the numeric ``id``, which a
JavaScript round-trip may have rounded (see the conformance README).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_precision
from pydantic import AwareDatetime as _AwareDatetime
from pydantic import TypeAdapter, ValidationError
from sqlmodel import Session

from postpurchase.inbox import Applied, jsonbody
from postpurchase.intake import operations
from postpurchase.intake.generic import validation_details
from postpurchase.intake.schemas import (
    INT_MAX,
    CustomerIn,
    OrderCancelledData,
    OrderData,
    OrderLineIn,
    ParcelIn,
    ReturnLineIn,
    ReturnReceivedData,
    ShipmentCancelledData,
    ShipmentCreatedData,
    ShipmentLineIn,
)
from postpurchase.models import InboxEvent, ReturnState
from postpurchase.returns.execution import charge_paid
from postpurchase.returns.shopify_admin import charge_key_of
from postpurchase.schemas import AddressIn, DestinationIn

SOURCE = "shopify"
HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
#: Headers kept with the stored event (never the HMAC secret, which is not sent).
HEADERS_OF_INTEREST = (
    TOPIC_HEADER,
    "X-Shopify-Shop-Domain",
    WEBHOOK_ID_HEADER,
    "X-Shopify-API-Version",
    "X-Shopify-Triggered-At",
    "X-Shopify-Event-Id",
    HMAC_HEADER,
)

#: Shopify's ``tracking_company`` names (lower case, without "(EN)"/"(JA)") → our carrier codes.
#: Names not listed become a slug of the name.
CARRIER_CODES = {
    "yamato": "yamato",
    "yamato transport": "yamato",
    "ヤマト運輸": "yamato",
    "sagawa": "sagawa",
    "sagawa express": "sagawa",
    "佐川急便": "sagawa",
    "japan post": "japanpost",
    "日本郵便": "japanpost",
    "dhl express": "dhl",
    "dhl ecommerce": "dhl",
    "fedex": "fedex",
    "ups": "ups",
    "usps": "usps",
}

_datetime = TypeAdapter(_AwareDatetime)


def exact_id(resource: dict[str, Any]) -> str:
    """The resource id as a string, from its GID when present (exact even after float rounding)."""
    gid = resource.get("admin_graphql_api_id")
    if isinstance(gid, str) and "/" in gid:
        return gid.rsplit("/", 1)[1]
    return str(resource["id"])


#: Larger amounts are refused before they are turned into an integer (``"1e999999999"`` would
#: take minutes); the schemas then bound what is left to what the database holds.
_MAX_AMOUNT = Decimal(10) ** 15


def minor_units(amount: str | int | float | None, currency: str) -> int:
    """``"398.00"`` USD → 39800; JPY has no minor unit."""
    if amount in (None, ""):
        return 0
    value = Decimal(str(amount))
    if not value.is_finite() or abs(value) >= _MAX_AMOUNT:
        raise ValueError(f"amount {str(amount)[:40]!r} is out of range")
    return int(value.scaleb(get_currency_precision(currency)).to_integral_value())


def _money(price_set: dict[str, Any] | None, fallback: Any, currency: str) -> int:
    shop = (price_set or {}).get("shop_money") or {}
    return minor_units(shop.get("amount", fallback), shop.get("currency_code", currency))


def carrier_code(tracking_company: str | None) -> str:
    if not tracking_company:
        return "other"
    name = re.sub(r"\s*\((?:en|ja)\)\s*$", "", tracking_company.strip().lower())
    code = CARRIER_CODES.get(name) or re.sub(r"[^a-z0-9]+", "_", name).strip("_")[:32]
    return code if len(code) >= 2 else "other"


def _when(value: Any, fallback: datetime) -> datetime:
    return _datetime.validate_python(value) if value else fallback


def order_data(order: dict[str, Any], occurred_at: datetime) -> OrderData:
    currency = order.get("currency") or "JPY"
    customer = order.get("customer") or None
    address = order.get("shipping_address") or None
    lines = [
        OrderLineIn(
            line_id=exact_id(item),
            sku=item.get("sku") or str(item.get("variant_id") or exact_id(item)),
            variant=item.get("variant_title") or None,
            name=item.get("name") or item.get("title") or "",
            category=item.get("product_type") or None,
            quantity=item["quantity"],
            unit_price=_money(item.get("price_set"), item.get("price"), currency),
        )
        for item in order.get("line_items", [])
        if item.get("quantity", 0) >= 1
    ]
    return OrderData(
        order_id=exact_id(order),
        number=str(order.get("name") or order.get("order_number") or exact_id(order)),
        placed_at=_when(order.get("processed_at") or order.get("created_at"), occurred_at),
        channel=order.get("source_name") or "online",
        currency=currency,
        total_amount=_money(order.get("total_price_set"), order.get("total_price"), currency),
        shipping_amount=_money(order.get("total_shipping_price_set"), 0, currency),
        customer=_customer(customer, order) if customer else None,
        shipping_address=AddressIn(
            name=address.get("name"),
            postal_code=address.get("zip"),
            region=address.get("province"),
            city=address.get("city"),
            country=address.get("country_code") or "JP",
        )
        if address
        else None,
        lines=lines,
        attributes={"shopify_id": str(order["id"]), "source": "shopify"},
    )


def _customer(customer: dict[str, Any], order: dict[str, Any]) -> CustomerIn:
    name = " ".join(
        part for part in (customer.get("last_name"), customer.get("first_name")) if part
    )
    consent = (customer.get("email_marketing_consent") or {}).get("state")
    return CustomerIn(
        customer_id=exact_id(customer),
        email=customer.get("email") or order.get("email") or None,
        phone=customer.get("phone") or None,
        name=name or None,
        locale=order.get("customer_locale") or None,
        consent={"email": {"marketing": consent == "subscribed"}} if consent else {},
    )


def cancel_data(order: dict[str, Any], occurred_at: datetime) -> OrderCancelledData | None:
    """The cancellation a cancelled order carries, if any."""
    if not order.get("cancelled_at"):
        return None
    return OrderCancelledData(
        order_id=exact_id(order),
        cancelled_at=_when(order["cancelled_at"], occurred_at),
        reason=order.get("cancel_reason"),
    )


def _apply_order(
    session: Session, brand_id: int, order: dict[str, Any], occurred_at: datetime, now: datetime
) -> Applied:
    applied = operations.upsert_order(
        session=session,
        brand_id=brand_id,
        data=order_data(order, occurred_at),
        occurred_at=occurred_at,
        now=now,
    )
    cancelled = cancel_data(order, occurred_at)
    if cancelled is not None:
        operations.cancel_order(
            session=session, brand_id=brand_id, now=now, occurred_at=occurred_at, data=cancelled
        )
    return applied


def shipment_id(fulfillment: dict[str, Any]) -> str:
    return f"shopify-{exact_id(fulfillment)}"


def shipment_data(fulfillment: dict[str, Any], occurred_at: datetime) -> ShipmentCreatedData:
    numbers = [n for n in fulfillment.get("tracking_numbers") or [] if n] or (
        [fulfillment["tracking_number"]] if fulfillment.get("tracking_number") else []
    )
    destination = fulfillment.get("destination") or None
    return ShipmentCreatedData(
        shipment_id=shipment_id(fulfillment),
        order_id=str(fulfillment["order_id"]),
        carrier=carrier_code(fulfillment.get("tracking_company")),
        service=fulfillment.get("service") or None,
        parcels=[ParcelIn(tracking_number=n) for n in numbers] or None,
        shipped_at=_when(fulfillment.get("created_at"), occurred_at),
        lines=[
            ShipmentLineIn(
                sku=item.get("sku") or str(item.get("variant_id") or exact_id(item)),
                quantity=item["quantity"],
                line_id=exact_id(item),
            )
            for item in fulfillment.get("line_items", [])
            if item.get("quantity", 0) >= 1
        ],
        destination=DestinationIn(
            postal_code=destination.get("zip"),
            region=destination.get("province"),
            country=destination.get("country_code") or "JP",
        )
        if destination
        else None,
    )


def _apply_fulfillment(
    session: Session,
    brand_id: int,
    fulfillment: dict[str, Any],
    occurred_at: datetime,
    now: datetime,
) -> Applied:
    data = shipment_data(fulfillment, occurred_at)
    applied = operations.create_shipment(
        session=session, brand_id=brand_id, data=data, occurred_at=occurred_at, now=now
    )
    if fulfillment.get("status") in ("cancelled", "error", "failure"):
        operations.cancel_shipment(
            session=session,
            brand_id=brand_id,
            occurred_at=occurred_at,
            now=now,
            data=ShipmentCancelledData(shipment_id=data.shipment_id),
        )
    return applied


def refund_data(
    refund: dict[str, Any], occurred_at: datetime
) -> tuple[ReturnReceivedData, int, str]:
    """A refund as a return in state ``refunded``: (data, refunded amount, currency)."""
    items = refund.get("refund_line_items", [])
    currency = "JPY"
    amount = 0
    for item in items:
        shop = ((item.get("subtotal_set") or {}).get("shop_money")) or {}
        currency = shop.get("currency_code", currency)
        amount += minor_units(shop.get("amount", item.get("subtotal")), currency)
    refunds = [
        t
        for t in refund.get("transactions", [])
        if t.get("kind") == "refund" and t.get("status") == "success"
    ]
    if refunds:
        currency = refunds[0].get("currency") or currency
        amount = sum(minor_units(t.get("amount"), currency) for t in refunds)
    data = ReturnReceivedData(
        rma_number=f"shopify-refund-{exact_id(refund)}",
        order_id=str(refund["order_id"]),
        received_at=_when(refund.get("processed_at") or refund.get("created_at"), occurred_at),
        lines=[
            ReturnLineIn(
                sku=(item.get("line_item") or {}).get("sku") or str(item["line_item_id"]),
                quantity=max(1, item.get("quantity", 1)),
                comment=refund.get("note"),
            )
            for item in items
        ],
    )
    return data, amount, currency


def _apply_refund(
    session: Session, brand_id: int, refund: dict[str, Any], occurred_at: datetime, now: datetime
) -> Applied:
    data, amount, currency = refund_data(refund, occurred_at)
    return operations.record_return(
        session=session,
        brand_id=brand_id,
        data=data,
        occurred_at=occurred_at,
        now=now,
        state=ReturnState.refunded,
        refund_amount=amount,
        currency=currency,
    )


def _apply_paid(
    session: Session, brand_id: int, order: dict[str, Any], occurred_at: datetime, now: datetime
) -> Applied:
    """An order paid: when it is the invoice of an exchange charge, the held outbound order goes;
    any other order is updated like ``orders/updated``."""
    key = charge_key_of(order)
    if key is None:
        return _apply_order(session, brand_id, order, occurred_at, now)
    charge_paid(session=session, brand_id=brand_id, key=key, now=now)
    return Applied()


#: Topic → mapper; other topics are stored and marked ignored.
TOPICS: dict[str, Callable[[Session, int, dict[str, Any], datetime, datetime], Applied]] = {
    "orders/create": _apply_order,
    "orders/updated": _apply_order,
    "orders/cancelled": _apply_order,
    "orders/paid": _apply_paid,
    "fulfillments/create": _apply_fulfillment,
    "fulfillments/update": _apply_fulfillment,
    "refunds/create": _apply_refund,
}


def _map_order(order: dict[str, Any], occurred_at: datetime) -> None:
    order_data(order, occurred_at)
    cancel_data(order, occurred_at)


def _map_refund(refund: dict[str, Any], occurred_at: datetime) -> None:
    _, amount, _ = refund_data(refund, occurred_at)
    if not 0 <= amount <= INT_MAX:
        raise ValueError(f"refunded amount {amount} is out of range")


#: Topic → the pure part of its mapper: what :func:`check_payload` runs at the door.
_MAPPINGS: dict[str, Callable[[dict[str, Any], datetime], object]] = {
    "orders/create": _map_order,
    "orders/updated": _map_order,
    "orders/cancelled": _map_order,
    "orders/paid": _map_order,
    "fulfillments/create": shipment_data,
    "fulfillments/update": shipment_data,
    "refunds/create": _map_refund,
}


class InvalidPayload(ValueError):
    """A verified body that processing could never apply: 400 (not a JSON object) or 422."""

    def __init__(self, status: int, code: str, message: str, details: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def check_payload(raw: bytes, topic: str, headers: dict[str, str], *, now: datetime) -> None:
    """Refuse at the door what would fail in processing, so nothing accepted gets stuck.

    The body must be a JSON object of bounded depth, and a known topic's resource must map onto
    the generic schemas (ids present, amounts and quantities within what the database holds).
    """
    try:
        payload = jsonbody.loads(raw)
    except jsonbody.BadJson as exc:
        raise InvalidPayload(
            400, exc.code, exc.message, [{"loc": "body", "msg": exc.message}]
        ) from None
    if not isinstance(payload, dict):
        message = "The body must be a JSON object (a Shopify resource)."
        raise InvalidPayload(400, "malformed_body", message, [{"loc": "body", "msg": message}])
    mapping = _MAPPINGS.get(topic)
    if mapping is None:
        return
    try:
        mapping(payload, occurred_at_of(payload, headers, now))
    except ValidationError as exc:
        raise InvalidPayload(
            422,
            "invalid_resource",
            f"The {topic} resource has values we cannot store.",
            validation_details(exc),
        ) from None
    except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        loc = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else "body"
        message = f"The {topic} resource cannot be read: {type(exc).__name__}: {exc}"[:300]
        raise InvalidPayload(
            422, "invalid_resource", message, [{"loc": loc, "msg": message}]
        ) from None


def occurred_at_of(
    payload: dict[str, Any], headers: dict[str, Any], received_at: datetime
) -> datetime:
    """When the change happened: the resource's ``updated_at``, else Shopify's trigger time."""
    value = payload.get("updated_at") or headers.get("X-Shopify-Triggered-At")
    try:
        return _when(value, received_at)
    except ValueError:
        return received_at


def apply_event(
    *, session: Session, event: InboxEvent, payload: dict[str, Any], now: datetime
) -> Applied:
    """Inbox handler for source ``shopify``."""
    assert event.brand_id is not None
    occurred_at = event.occurred_at or occurred_at_of(payload, event.headers, event.received_at)
    return TOPICS[event.event_type](session, event.brand_id, payload, occurred_at, now)
