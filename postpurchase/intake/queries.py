"""The API's answer about an order: its read model in the public schema (brand-scoped)."""

from __future__ import annotations

from sqlmodel import Session

from postpurchase.intake.operations import find_order
from postpurchase.models import Brand
from postpurchase.models.types import id_of
from postpurchase.readmodels import load_order
from postpurchase.schemas import OrderPublic


def order_public(*, session: Session, brand: Brand, external_id: str) -> OrderPublic | None:
    """The order ``external_id`` of ``brand`` with its lines and parcels; None if unknown."""
    order = find_order(session=session, brand_id=id_of(brand), external_id=external_id)
    if order is None or order.id is None:
        return None
    view = load_order(session=session, brand=brand, order_id=order.id)
    return OrderPublic.of(view) if view is not None else None
