"""The customer's return label: a signed link to it, and the PDF (WeasyPrint) with a QR code of the RMA."""

from __future__ import annotations

from dataclasses import dataclass

import segno
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from markupsafe import Markup
from sqlmodel import Session, col, select

from postpurchase.lookup import TOKEN_MAX_AGE_SECONDS
from postpurchase.models import (
    Brand,
    FulfillmentCentre,
    Order,
    OrderLine,
    ReturnLine,
    ReturnRequest,
)
from postpurchase.returns.policy import policy_for

TOKEN_SALT = "postpurchase.return-link"  # noqa: S105 (a signing namespace, not a key)


def return_token(secret_key: str, brand_id: int, return_id: int) -> str:
    """A signed, expiring token granting the return's confirmation page and label (never a bare id)."""
    return URLSafeTimedSerializer(secret_key, salt=TOKEN_SALT).dumps([brand_id, return_id])


def return_from_token(
    secret_key: str, token: str, brand_id: int, max_age: int = TOKEN_MAX_AGE_SECONDS
) -> int | None:
    """The return id a token grants for this brand; None when forged, expired or for another brand."""
    try:
        token_brand, return_id = URLSafeTimedSerializer(secret_key, salt=TOKEN_SALT).loads(
            token, max_age=max_age
        )
    except (BadSignature, SignatureExpired, ValueError, TypeError):
        return None
    return int(return_id) if token_brand == brand_id else None


def qr_svg(text: str) -> Markup:
    """An inline SVG QR code of ``text`` (so the PDF needs no image fetching)."""
    return Markup(  # noqa: S704 (segno's own SVG of our text, no user markup)
        segno.make(text, error="m").svg_inline(scale=4, border=2)
    )


@dataclass(frozen=True)
class LabelLine:
    name: str
    sku: str
    quantity: int
    reason_code: str


@dataclass(frozen=True)
class ReturnView:
    rma: ReturnRequest
    order: Order
    lines: list[LabelLine]
    #: Where the parcel goes: the policy's address lines, else the brand's first fulfilment centre.
    address: tuple[str, ...]
    centre: FulfillmentCentre | None


def return_view(*, session: Session, brand: Brand, return_id: int) -> ReturnView | None:
    """What the confirmation page and the label show about one of the brand's returns."""
    rma = session.get(ReturnRequest, return_id)
    brand_id = brand.id
    if rma is None or rma.brand_id != brand_id:
        return None
    order = session.get(Order, rma.order_id)
    names = {
        (line.sku, line.variant): line.name
        for line in session.exec(select(OrderLine).where(OrderLine.order_id == rma.order_id)).all()
    }
    lines = [
        LabelLine(
            name=names.get((line.sku, line.variant)) or line.sku,
            sku=line.sku,
            quantity=line.quantity,
            reason_code=line.reason_code,
        )
        for line in session.exec(
            select(ReturnLine).where(ReturnLine.return_id == rma.id).order_by(col(ReturnLine.id))
        ).all()
    ]
    centre = session.exec(
        select(FulfillmentCentre)
        .where(FulfillmentCentre.brand_id == brand_id)
        .order_by(col(FulfillmentCentre.id))
    ).first()
    return ReturnView(
        rma=rma, order=order, lines=lines, address=policy_for(brand).address, centre=centre
    )  # type: ignore[arg-type]
