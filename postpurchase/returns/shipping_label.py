"""The customer's return label: the PDF (WeasyPrint) with the RMA as Code 128
(what handheld warehouse scanners read) and as a QR code (what phones read).

The label is ours, not a carrier's slip: it names where the parcel goes (the brand's return address,
complete with street and phone), who sends it, whether the carrier collects the fee from the brand
on delivery (着払い) or the customer pays at hand-over (元払い), and by when to hand it over.
Code 128 comes from python-barcode (maintained, pure Python, writes SVG that WeasyPrint embeds with
no image fetching, as segno does for the QR code).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import segno
from barcode import Code128
from barcode.writer import SVGWriter
from flask_babel import force_locale
from markupsafe import Markup
from sqlmodel import Session, col, select

from postpurchase.i18n import format_day, to_local
from postpurchase.i18n import gettext as _
from postpurchase.models import (
    Brand,
    FulfillmentCentre,
    Order,
    OrderLine,
    ReturnLine,
    ReturnRequest,
)
from postpurchase.models.enums import LabelPayment
from postpurchase.returns.policy import policy_for


def qr_svg(text: str) -> Markup:
    """An inline SVG QR code of ``text`` (so the PDF needs no image fetching); a full QR code, since
    segno would pick a Micro QR for short text, which most phone readers ignore."""
    # segno's own SVG of our text: no markup from anyone else
    return Markup(segno.make(text, error="m", micro=False).svg_inline(scale=4, border=2))  # noqa: S704


def code128_svg(text: str) -> Markup:
    """An inline SVG Code 128 of ``text``, with its quiet zones, without the human-readable line
    (the label prints the RMA number large next to it)."""
    svg = Code128(text, writer=SVGWriter()).render(
        {"module_width": 0.33, "module_height": 14, "quiet_zone": 4, "write_text": False}
    )
    text_svg = svg.decode()
    # Our own writer's SVG of RMA characters (letters, digits, dashes): nothing to escape.
    return Markup(text_svg[text_svg.index("<svg") :])  # noqa: S704


def handover_deadline(issued_at: datetime, days: int) -> datetime:
    """The last moment to hand the parcel to the carrier."""
    return issued_at + timedelta(days=days)


def label_issued_at(rma: ReturnRequest) -> datetime:
    """When the RMA's label was issued (its last change, for RMAs from before this was recorded)."""
    raw = (rma.attributes or {}).get("label_issued_at")
    return datetime.fromisoformat(raw) if raw else rma.updated_at


#: The steps printed on the label, in every language at once: whoever hands the parcel over, and
#: whoever receives it, reads one of them.
LABEL_LOCALES = ("ja", "en")


def instructions(
    payment: LabelPayment, deadline: datetime, timezone: str
) -> list[tuple[str, str, list[str]]]:
    """(locale, title, steps) for each of :data:`LABEL_LOCALES`, the deadline as a day in ``timezone``."""
    steps = []
    for locale in LABEL_LOCALES:
        with force_locale(locale):
            pay = (
                _("Hand it over as cash on delivery (着払い): the shop pays the carrier.")
                if payment == LabelPayment.cash_on_delivery
                else _("Hand it over prepaid (元払い): you pay the carrier at hand-over.")
            )
            steps.append(
                (
                    locale,
                    _("How to send it back"),
                    [
                        _("Pack the items listed on the label, with this sheet, in the parcel."),
                        _(
                            "Fill in the carrier's slip with the two addresses on the label, or "
                            "stick the label on the parcel."
                        ),
                        pay,
                        _(
                            "Hand the parcel to the carrier by %(date)s.",
                            date=format_day(to_local(deadline, timezone).date(), locale),
                        ),
                    ],
                )
            )
    return steps


@dataclass(frozen=True)
class Party:
    """One address block of the label; blank fields are left as lines to fill in by hand."""

    name: str
    postal_code: str | None
    region: str | None
    city: str | None
    street: str | None
    phone: str | None


@dataclass(frozen=True)
class LabelLine:
    name: str
    sku: str
    quantity: int
    reason_code: str
    #: What is sent instead when the customer exchanges it (name and variant); None otherwise.
    exchange_for: str | None = None


@dataclass(frozen=True)
class ReturnView:
    rma: ReturnRequest
    order: Order
    lines: list[LabelLine]
    #: Where the parcel goes: the policy's address lines, else the brand's first fulfilment centre.
    address: tuple[str, ...]
    centre: FulfillmentCentre | None
    #: Who sends it: the order's recipient (the street is not kept: the customer writes it).
    sender: Party
    #: When the label was issued (the RMA's last change while it is valid) and the hand-over deadline.
    deadline: datetime

    @property
    def recipient(self) -> Party | None:
        """The brand's return address from its centre (None when the policy gives address lines)."""
        if self.address or self.centre is None:
            return None
        return Party(
            name=self.centre.name or self.centre.code,
            postal_code=self.centre.postal_code,
            region=self.centre.region,
            city=self.centre.city,
            street=self.centre.street,
            phone=self.centre.phone,
        )


def return_view(
    *,
    session: Session,
    brand: Brand,
    return_id: int,
) -> ReturnView | None:
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
    returned = session.exec(
        select(ReturnLine).where(ReturnLine.return_id == rma.id).order_by(col(ReturnLine.id))
    ).all()
    sent = _exchange_names(
        session, brand_id, {line.exchange_sku for line in returned if line.exchange_sku}
    )
    lines = [
        LabelLine(
            name=names.get((line.sku, line.variant)) or line.sku,
            sku=line.sku,
            quantity=line.quantity,
            reason_code=line.reason_code,
            exchange_for=sent.get(line.exchange_sku) if line.exchange_sku else None,
        )
        for line in returned
    ]
    centre = session.exec(
        select(FulfillmentCentre)
        .where(FulfillmentCentre.brand_id == brand_id)
        .order_by(col(FulfillmentCentre.id))
    ).first()
    if order is None:
        return None
    sender = Party(
        name=order.shipping_name or "",
        postal_code=order.shipping_postal_code,
        region=order.shipping_region,
        city=order.shipping_city,
        street=None,
        phone=order.phone,
    )
    return ReturnView(
        rma=rma,
        order=order,
        lines=lines,
        address=policy_for(brand).address,
        centre=centre,
        sender=sender,
        deadline=handover_deadline(label_issued_at(rma), policy_for(brand).part.handover_days),
    )


def _exchange_names(session: Session, brand_id: int | None, skus: set[str]) -> dict[str, str]:
    """SKU → the name (and variant) the brand sold it under, for the items sent in exchange."""
    if not skus:
        return {}
    found: dict[str, str] = {}
    for sku, name, variant in session.exec(
        select(OrderLine.sku, OrderLine.name, OrderLine.variant)
        .where(OrderLine.brand_id == brand_id, col(OrderLine.sku).in_(skus))
        .order_by(col(OrderLine.id).desc())
    ).all():
        label = name or sku
        found.setdefault(sku, f"{label} {variant}" if variant and variant not in label else label)
    return found
