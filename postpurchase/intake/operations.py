"""Domain operations behind every intake source (generic WMS/OMS events and Shopify).

Each function applies one event's data for one brand, idempotently: applying it twice leaves the
same rows and emits each signal once. They ``flush()`` and never commit. When an event refers to
something that has not arrived yet (a shipment before its order), they raise :class:`Deferred`
naming what they wait for; the inbox keeps the event and applies it when that thing arrives.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from postpurchase import batched, signals
from postpurchase.inbox import Applied, Deferred
from postpurchase.intake.schemas import (
    CustomerIn,
    FulfillmentCentreIn,
    InventoryUpdatedData,
    OrderCancelledData,
    OrderData,
    ParcelIn,
    ReturnReceivedData,
    ShipmentCancelledData,
    ShipmentCreatedData,
    ShipmentFields,
    ShipmentLineIn,
    ShipmentUpdatedData,
)
from postpurchase.lines import load as load_lines
from postpurchase.lines import order_lines
from postpurchase.lines import remember as remember_lines
from postpurchase.models import (
    Brand,
    Customer,
    DeliveryOption,
    FulfillmentCentre,
    InventoryLevel,
    Order,
    OrderLine,
    OrderStatus,
    ReturnLine,
    ReturnRequest,
    ReturnState,
    Shipment,
)
from postpurchase.models.types import id_of, new_row, table_of, upsert
from postpurchase.returns.inspection import ReportedGrade, apply_reported_grades
from postpurchase.returns.operations import ReturnError, record_external
from postpurchase.unitcache import unit_cache

log = logging.getLogger(__name__)


def order_key(external_id: str) -> str:
    return f"order:{external_id}"


def shipment_key(external_id: str) -> str:
    return f"shipment:{external_id}"


def _customer_read(customer_id: int) -> tuple[str, int]:
    """What a new parcel's deferred work names when it reads its order's customer
    (:func:`postpurchase.batched.later`'s ``reads``)."""
    return ("customer", customer_id)


#: ``_known`` kind of customers by (brand id, their id in the events).
_BY_EXTERNAL_ID = "customers_by_external_id"


def _known(session: Session, kind: str) -> dict[Any, Any]:
    """Rows this unit of work already looked up or wrote, by natural key.

    Batches prefetch them (:func:`prefetch`) so that processing one event does not cost a query per
    lookup. Forgotten on any rollback and at the commit (:func:`postpurchase.unitcache.unit_cache`):
    a new centre, inserted with Core and read back, outlived the savepoint that inserted it.
    """
    return unit_cache(session, f"intake_known_{kind}")


#: What :func:`_remembered` answers for a row this unit of work cannot vouch for.
_NOT_KNOWN: Any = object()


def _remembered(session: Session, kind: str, key: Any) -> Any:
    """The row of ``kind`` this unit of work looked up or wrote under ``key`` (None: it knows
    there is none), or :data:`_NOT_KNOWN` when it has not, or the row left the session."""
    known = _known(session, kind)
    found = known.get(key, _NOT_KNOWN)
    if found is None or (found is not _NOT_KNOWN and found in session):
        return found
    return _NOT_KNOWN


def find_order(*, session: Session, brand_id: int, external_id: str) -> Order | None:
    key = (brand_id, external_id)
    cached: Order | None = _remembered(session, "orders", key)
    if cached is not _NOT_KNOWN:
        return cached
    order = session.exec(
        select(Order).where(Order.brand_id == brand_id, Order.external_id == external_id)
    ).first()
    _known(session, "orders")[key] = order
    return order


def prefetch(
    *,
    session: Session,
    brand_id: int,
    order_ids: set[str],
    shipment_ids: set[str],
    customer_ids: Collection[str] = (),
    contacts: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Load the brand, and the orders (with their customers), customers (by their ids in the
    events) and parcels a batch of events refers to, a few queries in all. ``contacts``: the
    contact details of the customers the events carry, for receivers of ``batch_loaded``.

    The session's identity map holds objects only while something references them; keeping them
    in ``session.info`` for the unit of work lets every signal receiver's ``session.get`` (brand,
    customer) find them without a query.
    """
    _known(session, "brands")[brand_id] = session.get(Brand, brand_id)
    found: dict[str, Order] = {}
    read: list[Customer] = []
    if order_ids:
        known = _known(session, "orders")
        found = {
            o.external_id: o
            for o in session.exec(
                select(Order).where(
                    Order.brand_id == brand_id, col(Order.external_id).in_(order_ids)
                )
            )
        }
        known.update({(brand_id, external_id): found.get(external_id) for external_id in order_ids})
        load_lines(session, (id_of(order) for order in found.values()))
        owners = {o.customer_id for o in found.values() if o.customer_id is not None}
        read = (
            list(session.exec(select(Customer).where(col(Customer.id).in_(owners))))
            if owners
            else []
        )
        _known(session, "customers").update((customer.id, customer) for customer in read)
    if order_ids or contacts:
        signals.batch_loaded.send(
            brand_id,
            session=session,
            orders=list(found.values()),
            customers=read,
            contacts=contacts,
        )
    if customer_ids:
        by_external = {
            customer.external_id: customer
            for customer in session.exec(
                select(Customer).where(
                    Customer.brand_id == brand_id, col(Customer.external_id).in_(customer_ids)
                )
            )
        }
        _known(session, _BY_EXTERNAL_ID).update(
            {(brand_id, external_id): by_external.get(external_id) for external_id in customer_ids}
        )
    if shipment_ids:
        parcels: dict[Any, dict[int, Shipment]] = {(brand_id, i): {} for i in shipment_ids}
        for row in session.exec(
            select(Shipment).where(
                Shipment.brand_id == brand_id, col(Shipment.external_id).in_(shipment_ids)
            )
        ):
            parcels[(brand_id, row.external_id)][row.parcel_index] = row
        _known(session, "parcels").update(parcels)


def _require_order(session: Session, brand_id: int, external_id: str) -> Order:
    order = find_order(session=session, brand_id=brand_id, external_id=external_id)
    if order is None:
        raise Deferred(order_key(external_id))
    return order


def _assign(target: Any, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(target, name, value)


def _is_stale(stored: datetime | None, occurred_at: datetime) -> bool:
    return stored is not None and occurred_at < stored


def upsert_customer(
    *, session: Session, brand_id: int, data: CustomerIn, now: datetime
) -> Customer:
    key = (brand_id, data.customer_id)
    customer: Customer | None = _remembered(session, _BY_EXTERNAL_ID, key)
    if customer is _NOT_KNOWN:
        customer = session.exec(
            select(Customer).where(
                Customer.brand_id == brand_id, Customer.external_id == data.customer_id
            )
        ).first()
    if customer is not None:  # a new parcel of the batch may be waiting to write to them
        batched.settle(session, [_customer_read(id_of(customer))])
    given = {
        name: value
        for name in ("email", "phone", "name", "line_user_id", "locale")
        if (value := getattr(data, name)) is not None
    }
    if customer is None:
        customer = new_row(
            Customer,
            brand_id=brand_id,
            external_id=data.customer_id,
            consent=dict(data.consent or {}),
            attributes=dict(data.attributes or {}),
            created_at=now,
            updated_at=now,
            **given,
        )
        session.add(customer)
        _known(session, _BY_EXTERNAL_ID)[key] = customer
    else:
        _assign(customer, given)
        if data.consent:
            customer.consent = {**customer.consent, **data.consent}
        if data.attributes:
            customer.attributes = {**customer.attributes, **data.attributes}
        customer.updated_at = now
    session.flush()
    return customer


#: The fields of an ``order.created`` / ``order.updated`` stored on the order as they come.
_ORDER_FIELDS: set[str] = {
    "number",
    "placed_at",
    "channel",
    "currency",
    "total_amount",
    "shipping_amount",
    "duties_terms",
}


def upsert_order(
    *, session: Session, brand_id: int, data: OrderData, occurred_at: datetime, now: datetime
) -> Applied:
    """``order.created`` / ``order.updated``: the full state, unless newer state is stored.

    Settles the batch's waiting work first, unless the order is new: then only that of parcels
    whose order has the same customer reads what this changes (:func:`upsert_customer`)."""
    order = find_order(session=session, brand_id=brand_id, external_id=data.order_id)
    created = order is None
    if order is not None:
        batched.settle(session)
        if _is_stale(order.source_updated_at, occurred_at):
            return Applied(released=[order_key(data.order_id)], stale=True)
    # the customer first: a new order is then written once, with its customer
    customer = (
        upsert_customer(session=session, brand_id=brand_id, data=data.customer, now=now)
        if data.customer
        else None
    )
    values = data.model_dump(include=_ORDER_FIELDS)
    if customer is not None:
        values.update(customer_id=customer.id, email=customer.email, phone=customer.phone)
    if data.shipping_address is not None:
        values.update(
            {
                f"shipping_{name}": value
                for name, value in data.shipping_address.model_dump().items()
            }
        )
    values.update(source_updated_at=occurred_at, updated_at=now)
    if order is None:
        order = new_row(
            Order,
            brand_id=brand_id,
            external_id=data.order_id,
            attributes=dict(data.attributes or {}),
            created_at=now,
            **values,
        )
        session.add(order)
        _known(session, "orders")[(brand_id, data.order_id)] = order
    else:
        _assign(order, values)
        if data.attributes:
            order.attributes = {**order.attributes, **data.attributes}
    session.flush()
    assert order.id is not None
    _replace_lines(session, brand_id, order.id, data, new=created)
    signals.order_upserted.send(
        brand_id, session=session, order_id=order.id, created=created, now=now
    )
    return Applied(released=[order_key(data.order_id)])


def _replace_lines(
    session: Session, brand_id: int, order_id: int, data: OrderData, *, new: bool
) -> None:
    """The order's lines as ``data`` lists them (a ``new`` order has none yet to read)."""
    existing = {} if new else {line.line_key: line for line in order_lines(session, order_id)}
    kept: list[OrderLine] = []
    seen: set[str] = set()
    for line in data.lines:
        key = line.line_id or (f"{line.sku}:{line.variant}" if line.variant else line.sku)
        if key in seen:
            key = f"{key}#{len(seen)}"
        seen.add(key)
        values = line.model_dump(exclude={"line_id"})
        row = existing.get(key)
        if row is None:
            row = new_row(OrderLine, brand_id=brand_id, order_id=order_id, line_key=key, **values)
        else:
            _assign(row, values)
        session.add(row)
        kept.append(row)
    for key, row in existing.items():
        if key not in seen:
            session.delete(row)
    session.flush()
    remember_lines(session, {order_id: kept})


def cancel_order(
    *,
    session: Session,
    brand_id: int,
    data: OrderCancelledData,
    occurred_at: datetime,
    now: datetime,
) -> Applied:
    """``order.cancelled``; cancelling twice changes nothing and signals once."""
    order = _require_order(session, brand_id, data.order_id)
    if order.status == OrderStatus.cancelled:
        return Applied()
    order.status = OrderStatus.cancelled
    order.cancelled_at = data.cancelled_at or occurred_at
    if data.reason:
        order.attributes = {**order.attributes, "cancel_reason": data.reason}
    order.source_updated_at = max(occurred_at, order.source_updated_at or occurred_at)
    order.updated_at = now
    session.flush()
    signals.order_cancelled.send(brand_id, session=session, order_id=order.id, now=now)
    return Applied()


def ensure_fulfillment_centre(
    *, session: Session, brand_id: int, code: str, details: FulfillmentCentreIn | None = None
) -> int:
    """The id of the brand's centre ``code``, created if unknown; remembered per session."""
    known = _known(session, "centres")
    cached = known.get((brand_id, code))
    if details is None and cached is not None and cached in session:
        return id_of(cached)
    centre = session.exec(
        select(FulfillmentCentre).where(
            FulfillmentCentre.brand_id == brand_id, FulfillmentCentre.code == code
        )
    ).first()
    if centre is None:
        centre = _insert_centre(session, brand_id, code)
    if details is not None:
        for name in ("name", "postal_code", "region", "city", "street", "phone"):
            value = getattr(details, name)
            if value is not None:
                setattr(centre, name, value)
    session.flush()
    assert centre.id is not None
    known[(brand_id, code)] = centre
    return centre.id


def _insert_centre(session: Session, brand_id: int, code: str) -> FulfillmentCentre:
    """Insert the centre unless another unit of work just did, and read it. Two workers on
    PostgreSQL meet a new centre in the same moment (the first shipments from it): a plain INSERT
    made the second one's whole batch fail on the unique key and wait for its retry."""
    values = FulfillmentCentre(brand_id=brand_id, code=code, name=code).model_dump(exclude={"id"})
    session.execute(
        upsert(session, table_of(FulfillmentCentre))
        .values(values)
        .on_conflict_do_nothing(index_elements=["brand_id", "code"])
    )
    return session.exec(
        select(FulfillmentCentre).where(
            FulfillmentCentre.brand_id == brand_id, FulfillmentCentre.code == code
        )
    ).one()


def _shipment_values(
    session: Session, brand_id: int, data: ShipmentFields, fields: set[str]
) -> dict[str, Any]:
    """Column values of every parcel row, from the shipment-level fields that were sent."""
    values: dict[str, Any] = {}
    simple = {
        "carrier": "carrier_code",
        "service": "service",
        "shipped_at": "shipped_at",
        "currency": "cost_currency",
        "requested_date": "requested_date",
        "time_slot": "time_slot",
        "delivery_option": "delivery_option",
    }
    for name, column in simple.items():
        if name in fields:
            values[column] = getattr(data, name)
    code = data.fc_code or (data.fulfillment_centre.code if data.fulfillment_centre else None)
    if code:
        values["fc_id"] = ensure_fulfillment_centre(
            session=session, brand_id=brand_id, code=code, details=data.fulfillment_centre
        )
    if data.destination is not None:
        values["destination_postal_code"] = data.destination.postal_code
        values["destination_region"] = data.destination.region
        values["destination_country"] = data.destination.country
    return values


def _parcel_values(data: ShipmentFields, fields: set[str]) -> list[dict[str, Any]] | None:
    """Per-parcel values by parcel index; None when the event says nothing about parcels.

    The first parcel carries the shipment-level weight, cost and lines that the parcels do not
    state themselves, so sums over a shipment's parcels stay right.
    """
    if data.parcels is not None:
        return [
            _one_parcel(parcel, data if index == 0 else None)
            for index, parcel in enumerate(data.parcels)
        ]
    values: dict[str, Any] = {}
    for name, column in (
        ("tracking_number", "tracking_number"),
        ("weight_g", "weight_g"),
        ("cost", "cost_amount"),
    ):
        if name in fields:
            values[column] = getattr(data, name)
    if "lines" in fields:
        values["lines"] = _dump_lines(data.lines or [])
    return [values] if values else None


def _dump_lines(lines: list[ShipmentLineIn]) -> list[dict[str, Any]]:
    return [line.model_dump(exclude_none=True) for line in lines]


def _one_parcel(parcel: ParcelIn, shipment: ShipmentFields | None) -> dict[str, Any]:
    lines = parcel.lines if parcel.lines is not None else (shipment.lines if shipment else None)
    values: dict[str, Any] = {
        "tracking_number": parcel.tracking_number,
        "weight_g": parcel.weight_g
        if parcel.weight_g is not None
        else (shipment and shipment.weight_g),
        "cost_amount": parcel.cost if parcel.cost is not None else (shipment and shipment.cost),
        "lines": _dump_lines(lines) if lines is not None else None,
    }
    return {k: v for k, v in values.items() if v is not None}


def _parcels_of(session: Session, brand_id: int, external_id: str) -> dict[int, Shipment]:
    known = _known(session, "parcels")
    key = (brand_id, external_id)
    cached = known.get(key)
    if cached is not None and all(row in session for row in cached.values()):
        return dict(cached)
    rows = session.exec(
        select(Shipment).where(Shipment.brand_id == brand_id, Shipment.external_id == external_id)
    )
    known[key] = {row.parcel_index: row for row in rows}
    return dict(known[key])


def _write_parcels(
    session: Session,
    *,
    brand_id: int,
    external_id: str,
    order: Order | None,
    shared: dict[str, Any],
    parcels: list[dict[str, Any]] | None,
    occurred_at: datetime,
    now: datetime,
) -> Applied:
    existing = _parcels_of(session, brand_id, external_id)
    if existing and all(_is_stale(row.source_updated_at, occurred_at) for row in existing.values()):
        return Applied(released=[shipment_key(external_id)], stale=True)
    wanted = parcels if parcels is not None else [{} for _ in existing]
    new_rows: list[Shipment] = []
    for index in sorted(set(existing) | set(range(len(wanted)))):
        row = existing.get(index)
        own = wanted[index] if index < len(wanted) else {}
        values = {**shared, **own, "source_updated_at": occurred_at, "updated_at": now}
        if order is not None:
            values["order_id"] = order.id
        if row is None:
            row = new_row(
                Shipment,
                brand_id=brand_id,
                external_id=external_id,
                parcel_index=index,
                **{
                    "carrier_code": shared.get("carrier_code") or "",
                    "lines": [],
                    "created_at": now,
                    **_default_destination(order),
                    **values,
                },
            )
            new_rows.append(row)
        else:
            for column, value in values.items():
                setattr(row, column, value)
        if row.cost_amount is not None and row.cost_currency is None:
            row.cost_currency = order.currency if order is not None else "JPY"
        session.add(row)
    _known(session, "parcels")[(brand_id, external_id)] = {
        **existing,
        **{row.parcel_index: row for row in new_rows},
    }

    def announce() -> None:
        for row in new_rows:
            signals.shipment_created.send(brand_id, session=session, shipment_id=row.id, now=now)

    reads: list[tuple[str, int]] | None = None  # without its order: may read anything
    if order is not None:
        reads = [] if order.customer_id is None else [_customer_read(order.customer_id)]
    if not batched.later(session, announce, reads=reads):
        session.flush()
        announce()
    return Applied(released=[shipment_key(external_id)])


def _default_destination(order: Order | None) -> dict[str, str | None]:
    """A new parcel goes where its order ships, unless the event says otherwise."""
    if order is None:
        return {}
    return {
        "destination_postal_code": order.shipping_postal_code,
        "destination_region": order.shipping_region,
        "destination_country": order.shipping_country,
    }


def create_shipment(
    *,
    session: Session,
    brand_id: int,
    data: ShipmentCreatedData,
    occurred_at: datetime,
    now: datetime,
) -> Applied:
    """``shipment.created``: one Shipment row per parcel; waits for the order if unknown."""
    order = _require_order(session, brand_id, data.order_id)
    fields = set(type(data).model_fields) - {"shipment_id", "order_id"}
    return _save_shipment(session, brand_id, data, order, fields, True, occurred_at, now)


def _save_shipment(
    session: Session,
    brand_id: int,
    data: ShipmentCreatedData | ShipmentUpdatedData,
    order: Order | None,
    fields: set[str],
    creating: bool,
    occurred_at: datetime,
    now: datetime,
) -> Applied:
    shared = _shipment_values(session, brand_id, data, fields)
    parcels = _parcel_values(data, fields)
    if creating:
        shared["service"] = shared.get("service") or "standard"
        shared["delivery_option"] = shared.get("delivery_option") or DeliveryOption.door
        parcels = parcels or [{}]
    return _write_parcels(
        session,
        brand_id=brand_id,
        external_id=data.shipment_id,
        order=order,
        shared=shared,
        parcels=parcels,
        occurred_at=occurred_at,
        now=now,
    )


def update_shipment(
    *,
    session: Session,
    brand_id: int,
    data: ShipmentUpdatedData,
    occurred_at: datetime,
    now: datetime,
) -> Applied:
    """``shipment.updated``: change only the fields sent; waits for the shipment if unknown."""
    if not _parcels_of(session, brand_id, data.shipment_id):
        raise Deferred(shipment_key(data.shipment_id))
    order = _require_order(session, brand_id, data.order_id) if data.order_id else None
    fields = set(data.model_fields_set) - {"shipment_id", "order_id"}
    return _save_shipment(session, brand_id, data, order, fields, False, occurred_at, now)


def cancel_shipment(
    *,
    session: Session,
    brand_id: int,
    data: ShipmentCancelledData,
    occurred_at: datetime,
    now: datetime,
) -> Applied:
    rows = _parcels_of(session, brand_id, data.shipment_id)
    if not rows:
        raise Deferred(shipment_key(data.shipment_id))
    for row in rows.values():
        if row.cancelled_at is None:
            row.cancelled_at = data.cancelled_at or occurred_at
            row.sub_status = "cancelled"
            row.updated_at = now
    session.flush()
    return Applied()


def update_inventory(
    *,
    session: Session,
    brand_id: int,
    data: InventoryUpdatedData,
    occurred_at: datetime,
    now: datetime,
) -> Applied:
    """``inventory.updated``: the newest snapshot per SKU and centre wins."""
    changed: list[str] = []
    for item in data.items:
        level = session.exec(
            select(InventoryLevel).where(
                InventoryLevel.brand_id == brand_id,
                InventoryLevel.sku == item.sku,
                InventoryLevel.fc_code == data.fc_code,
            )
        ).first()
        if level is None:
            level = InventoryLevel(brand_id=brand_id, sku=item.sku, fc_code=data.fc_code)
        elif occurred_at < level.updated_at:
            continue
        level.variant = item.variant
        level.available = item.available
        level.updated_at = occurred_at
        session.add(level)
        changed.append(item.sku)
    session.flush()
    if changed:
        signals.inventory_updated.send(brand_id, session=session, skus=changed, now=now)
    return Applied()


def record_return(
    *,
    session: Session,
    brand_id: int,
    data: ReturnReceivedData,
    occurred_at: datetime,
    now: datetime,
    state: ReturnState = ReturnState.received,
    refund_amount: int | None = None,
    currency: str | None = None,
) -> Applied:
    """``return.received`` (and Shopify refunds): move the RMA to ``state``, creating it if unknown."""
    order = _require_order(session, brand_id, data.order_id)
    rma = session.exec(
        select(ReturnRequest).where(
            ReturnRequest.brand_id == brand_id, ReturnRequest.rma_number == data.rma_number
        )
    ).first()
    if rma is None:
        # An RMA opened outside the portal (the WMS or platform knew of it first) starts as requested
        # and then takes the reported state through the state machine like any other.
        rma = ReturnRequest(
            brand_id=brand_id,
            order_id=id_of(order),
            rma_number=data.rma_number,
            currency=currency or order.currency,
            created_at=now,
        )
        session.add(rma)
        session.flush()
        for line in data.lines:
            session.add(ReturnLine(brand_id=brand_id, return_id=id_of(rma), **line.model_dump()))
    else:
        apply_reported_grades(
            session=session,
            rma=rma,
            reported=[
                ReportedGrade(sku=line.sku, grade=line.grade, condition=line.condition)
                for line in data.lines
            ],
        )
    if data.carrier:
        rma.return_carrier_code = data.carrier
    if data.tracking_number:
        rma.return_tracking_number = data.tracking_number
    try:
        record_external(
            session=session,
            rma=rma,
            state=state,
            at=data.received_at or occurred_at,
            now=now,
            refund_amount=refund_amount,
        )
    except ReturnError as refused:
        # Authentic, but the RMA is past where this report could take it (e.g. rejected): keep it as is.
        log.warning(
            "return %s is %s: a %s report cannot move it (%s); ignored",
            rma.rma_number,
            rma.state,
            state,
            refused.code,
        )
        return Applied(stale=True)
    return Applied()
