"""Recommendations: products that go with what a customer bought, never one they cannot have.

The one home of the rule for every surface (the tracking page, its JSON twin and the messages).
Items come from the brand's catalogue (``messaging.catalog`` in the settings); one is offered when
it goes with the order (the brand lists it as ``accessory_for`` a SKU in it, or it shares a
category with it) and

- it is in stock: ``InventoryLevel.available`` summed over every fulfilment centre is positive;
- a sized item (one with ``variants``) is offered only in the size the customer bought in its
  ``size_category``, and not at all when that size is unknown;
- the customer has not bought it (nor any of its sizes) and did not return what it goes with;
- no return was opened for the order: recommending more to someone sending things back reads as
  not listening.

A catalogue item is ``{"sku", "name", "categories": [...], "accessory_for": [sku],
"variants": {"M": "TEE-M", ...}, "size_category": "apparel", "price": 1980,
"image_url": "https://...", "url": "https://..."}``; only ``sku`` is required. ``price`` is in
minor units of the brand's currency; without ``url`` the item links to the brand's shop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from flask_babel.speaklater import LazyString
from sqlalchemy import func
from sqlmodel import Session, col, select

from postpurchase.i18n import lazy_gettext as _l
from postpurchase.lines import order_lines
from postpurchase.models import (
    Brand,
    Customer,
    InventoryLevel,
    Order,
    OrderLine,
    ReturnRequest,
)
from postpurchase.models.types import id_of
from postpurchase.profiles import Profile, build_profile
from postpurchase.settings.model import settings_for

#: How many items a surface shows at most.
LIMIT = 3


@dataclass(frozen=True)
class Recommendation:
    sku: str
    name: str
    #: The size offered (the customer's own); None for an item without sizes.
    variant: str | None
    #: Minor units of ``currency``; None when the catalogue gives no price.
    price: int | None
    currency: str
    image_url: str | None
    #: The product's page, else the brand's shop; None when the brand has neither.
    url: str | None


def stock_by_sku(*, session: Session, brand_id: int, skus: set[str]) -> dict[str, int]:
    """Available units per SKU over every fulfilment centre (sizes are SKUs of their own)."""
    if not skus:
        return {}
    rows = session.exec(
        select(InventoryLevel.sku, func.sum(InventoryLevel.available))
        .where(InventoryLevel.brand_id == brand_id, col(InventoryLevel.sku).in_(skus))
        .group_by(InventoryLevel.sku)
    ).all()
    return {sku: int(total or 0) for sku, total in rows}


def return_opened(*, session: Session, order_id: int) -> bool:
    """Whether any return was opened for the order (whatever became of it)."""
    found = session.exec(select(ReturnRequest.id).where(ReturnRequest.order_id == order_id))
    return found.first() is not None


def _skus(item: Mapping[str, Any]) -> set[str]:
    return {str(item["sku"]), *(str(s) for s in (item.get("variants") or {}).values())}


def _goes_with(item: Mapping[str, Any], profile: Profile, order_skus: set[str]) -> bool:
    accessory_for = set(item.get("accessory_for") or [])
    return bool(
        (accessory_for & order_skus or set(item.get("categories") or []) & profile.categories)
        and not _skus(item) & (profile.bought_skus | order_skus)
        and not accessory_for & profile.returned_skus
    )


#: Why a catalogue item was left out of a message: counted per trigger (the segments page) so a
#: merchant sees what the stock rule held back.
OUT_OF_STOCK = "recommendation out of stock in the customer's size"
SIZE_UNKNOWN = "recommendation left out: the customer's size is unknown"
#: Those reasons in the reader's language (the values above are stored as counter labels).
LEFT_OUT_LABELS: Mapping[str, LazyString] = MappingProxyType(
    {
        OUT_OF_STOCK: _l("A recommended item is out of stock in the customer's size."),
        SIZE_UNKNOWN: _l("A recommended item was left out: the customer's size is unknown."),
    }
)


def _size_and_sku(
    item: Mapping[str, Any], sizes: Mapping[str, str], stock: Mapping[str, int]
) -> tuple[str | None, str] | str:
    """The variant to offer and its SKU; else why it cannot be offered."""
    variants: Mapping[str, str] | None = item.get("variants")
    if not variants:
        sku = str(item["sku"])
        return (None, sku) if stock.get(sku, 0) > 0 else OUT_OF_STOCK
    size = sizes.get(str(item.get("size_category") or ""))
    sized_sku = variants.get(size) if size is not None else None
    if size is None or sized_sku is None:
        return SIZE_UNKNOWN
    if stock.get(sized_sku, 0) <= 0:
        return OUT_OF_STOCK
    return size, sized_sku


def recommend(
    *,
    session: Session,
    brand: Brand,
    order_id: int,
    profile: Profile,
    lines: Sequence[OrderLine],
    limit: int = LIMIT,
    left_out: Counter[str] | None = None,
) -> list[Recommendation]:
    """Up to ``limit`` catalogue items for the order of ``lines``, by the rules of this module's
    docstring. The size in a category is the one bought in this order, else in an earlier one.
    Items that would have been offered but for their stock or size are counted in ``left_out``
    by reason."""
    settings = settings_for(brand)
    catalog = settings.messaging.catalog
    if not catalog or return_opened(session=session, order_id=order_id):
        return []
    order_skus = {line.sku for line in lines}
    sizes = {
        **profile.sizes,
        **{line.category: line.variant for line in lines if line.category and line.variant},
    }
    candidates = [item for item in catalog if _goes_with(item, profile, order_skus)]
    stock = stock_by_sku(
        session=session,
        brand_id=id_of(brand),
        skus={sku for item in candidates for sku in _skus(item)},
    )
    shop_url = settings.branding.shop_url
    chosen: list[Recommendation] = []
    for item in candidates:
        offer = _size_and_sku(item, sizes, stock)
        if isinstance(offer, str):
            if left_out is not None:
                left_out[offer] += 1
            continue
        size, sku = offer
        price = item.get("price")
        chosen.append(
            Recommendation(
                sku=sku,
                name=str(item.get("name") or item["sku"]),
                variant=size,
                price=int(price) if isinstance(price, int | float) else None,
                currency=brand.currency,
                image_url=item.get("image_url"),
                url=item.get("url") or (str(shop_url) if shop_url else None),
            )
        )
        if len(chosen) == limit:
            break
    return chosen


def shows_recommendations(brand: Brand) -> bool:
    """Whether ``brand`` has a catalogue to recommend from."""
    return bool(settings_for(brand).messaging.catalog)


def for_order(*, session: Session, brand: Brand, order: Order) -> list[Recommendation]:
    """The recommendations to show with ``order`` once it has arrived (the tracking page)."""
    if not shows_recommendations(brand):
        return []
    customer = session.get(Customer, order.customer_id) if order.customer_id else None
    profile = build_profile(session=session, order=order, customer=customer, language=brand.locale)
    return recommend(
        session=session,
        brand=brand,
        order_id=id_of(order),
        profile=profile,
        lines=order_lines(session, id_of(order)),
    )
