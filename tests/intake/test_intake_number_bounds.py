"""Every number an event may carry is bounded by the database column it ends up in."""

from __future__ import annotations

import typing

from annotated_types import Ge, Le
from pydantic import BaseModel
from sqlalchemy import BigInteger, Integer, SmallInteger

from postpurchase.intake.schemas import CustomerIn, EventType, envelope_model
from postpurchase.models import InventoryLevel, Order, OrderLine, ReturnLine, Shipment
from postpurchase.schemas import AddressIn

#: (schema, field) → the column it is stored in. A new numeric field fails the test until it is
#: listed here, with bounds that fit its column.
COLUMNS = {
    ("OrderLineIn", "quantity"): OrderLine.__table__.c.quantity,
    ("OrderLineIn", "unit_price"): OrderLine.__table__.c.unit_price,
    ("OrderData", "total_amount"): Order.__table__.c.total_amount,
    ("OrderData", "shipping_amount"): Order.__table__.c.shipping_amount,
    ("ShipmentLineIn", "quantity"): OrderLine.__table__.c.quantity,
    ("ParcelIn", "weight_g"): Shipment.__table__.c.weight_g,
    ("ParcelIn", "cost"): Shipment.__table__.c.cost_amount,
    ("ShipmentFields", "weight_g"): Shipment.__table__.c.weight_g,
    ("ShipmentFields", "cost"): Shipment.__table__.c.cost_amount,
    ("ShipmentCreatedData", "weight_g"): Shipment.__table__.c.weight_g,
    ("ShipmentCreatedData", "cost"): Shipment.__table__.c.cost_amount,
    ("ShipmentUpdatedData", "weight_g"): Shipment.__table__.c.weight_g,
    ("ShipmentUpdatedData", "cost"): Shipment.__table__.c.cost_amount,
    ("InventoryItemIn", "available"): InventoryLevel.__table__.c.available,
    ("ReturnLineIn", "quantity"): ReturnLine.__table__.c.quantity,
}


def _column_range(column) -> tuple[int, int]:
    bits = {SmallInteger: 16, BigInteger: 64, Integer: 32}
    for kind, width in bits.items():
        if isinstance(column.type, kind):
            return -(2 ** (width - 1)), 2 ** (width - 1) - 1
    raise AssertionError(f"{column} is not an integer column")


def _models() -> set[type[BaseModel]]:
    """Every model reachable from the event envelopes."""
    seen: set[type[BaseModel]] = set()
    stack: list[typing.Any] = [envelope_model(t) for t in EventType] + [CustomerIn, AddressIn]
    while stack:
        item = stack.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            if item in seen:
                continue
            seen.add(item)
            stack.extend(field.annotation for field in item.model_fields.values())
        else:
            stack.extend(typing.get_args(item))
    return seen


def _numeric_fields() -> list[tuple[type[BaseModel], str]]:
    numeric = []
    for model in _models():
        for name, field in model.model_fields.items():
            kinds = {field.annotation, *typing.get_args(field.annotation)}
            if int in kinds or float in kinds:
                numeric.append((model, name))
    return numeric


def test_the_walk_finds_the_numeric_fields() -> None:
    names = {(model.__name__, name) for model, name in _numeric_fields()}
    assert ("OrderData", "total_amount") in names and ("InventoryItemIn", "available") in names


def test_every_numeric_field_has_bounds_its_column_can_hold() -> None:
    for model, name in _numeric_fields():
        column = COLUMNS.get((model.__name__, name))
        assert column is not None, f"{model.__name__}.{name}: list its column in COLUMNS"
        low, high = _column_range(column)
        metadata = model.model_fields[name].metadata
        ge = [m.ge for m in metadata if isinstance(m, Ge)]
        le = [m.le for m in metadata if isinstance(m, Le)]
        assert ge and le, f"{model.__name__}.{name} has no lower and upper bound"
        assert low <= ge[0] <= le[0] <= high, f"{model.__name__}.{name} exceeds {column}"
