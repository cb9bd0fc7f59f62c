"""Orders whose one parcel is in each state a customer can see, for page, API and browser tests.

The clock is pinned to Friday 2026-11-20 10:00 in Tokyo, so "tomorrow" is Saturday 21 November.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta
from typing import Any

from PIL import Image, ImageDraw
from sqlmodel import Session

from carriers.status import Status
from postpurchase.branding import logo_file
from postpurchase.models import (
    DeliveryOption,
    DutiesTerms,
    Order,
    OrderLine,
    Shipment,
    TimeSlot,
    TrackingEvent,
)
from tests.conftest import PINNED_NOW

TODAY = date(2026, 11, 20)
TOMORROW = TODAY + timedelta(days=1)


def _logo_png() -> bytes:
    """A small logo, drawn here so the test needs no binary file."""
    image = Image.new("RGB", (120, 32), "white")
    ImageDraw.Draw(image).text((12, 10), "Acme Tea", fill="#0b6e4f")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


LOGO_PNG = _logo_png()
#: Uploaded logos are stored under the hash of their bytes.
LOGO = f"{hashlib.sha256(LOGO_PNG).hexdigest()}.png"

#: A brand that fills in every branding setting (the logo as if uploaded: see :func:`install_logo`).
BRANDING = {
    "color": "#0b6e4f",
    "logo": LOGO,
    "shop_url": "https://shop.acme.example/",
    "contact_url": "https://shop.acme.example/contact",
    "faq_url": "https://shop.acme.example/faq",
    "footer": "Acme Tea · 1-2-3 Jingumae, Shibuya",
}


def install_logo(app: Any, slug: str) -> None:
    """Store :data:`LOGO_PNG` where an upload in the console would have put it."""
    path = logo_file(app.instance_path, slug, LOGO)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(LOGO_PNG)


CARE = {
    "care": {
        "sku": {
            "TEA-01": {
                "ja": {"title": "おいしい淹れ方", "body": "90℃のお湯で30秒蒸らしてください。"},
                "en": {"title": "How to brew", "body": "Steep 30 seconds in water at 90 °C."},
            }
        }
    }
}
BRAND_SETTINGS: dict[str, Any] = {"branding": BRANDING, "messaging": CARE}


@dataclass(frozen=True)
class Scan:
    hours_ago: float
    status: Status
    description: str
    location: str | None = "渋谷センター"


@dataclass(frozen=True)
class ParcelState:
    status: Status
    scans: tuple[Scan, ...] = ()
    carrier: str = "yamato"
    predicted: date | None = None
    promised: date | None = None
    time_slot: TimeSlot | None = None
    option: DeliveryOption = DeliveryOption.door
    sub_status: str | None = None
    signed_by: str | None = None
    delivered_hours_ago: float | None = None
    shipped: bool = True
    #: The order's duty terms (cross-border parcels).
    duties_terms: DutiesTerms | None = None
    #: Headline the page must show, per locale.
    headline: dict[str, str] = field(default_factory=dict)


ON_THE_WAY = (
    Scan(30, Status.in_transit, "荷物受付", "東京ベース"),
    Scan(20, Status.in_transit, "輸送中", "羽田クロノゲートベース"),
)

#: A parcel from Tokyo to New York, past export and now with US customs.
ABROAD = (
    Scan(40, Status.in_transit, "Shipment picked up", "TOKYO - JAPAN"),
    Scan(30, Status.export_cleared, "Customs status updated", "TOKYO - JAPAN"),
    Scan(6, Status.held_at_customs, "Clearance event", "NEW YORK - USA"),
)

STATES: dict[str, ParcelState | None] = {
    "ordered": None,
    "shipped": ParcelState(
        Status.info_received,
        predicted=TODAY + timedelta(days=2),
        time_slot=TimeSlot.h14_16,
        headline={
            "ja": "11月22日(日) 14時〜16時にお届け予定",
            "en": "Arriving Sun, Nov 22, 14:00–16:00",
        },
    ),
    "in_transit": ParcelState(
        Status.in_transit,
        ON_THE_WAY,
        predicted=TOMORROW,
        promised=TOMORROW,
        time_slot=TimeSlot.morning,
        headline={
            "ja": "明日 11月21日(土) 午前中にお届け予定",
            "en": "Arriving tomorrow, Sat, Nov 21, morning (8:00–12:00)",
        },
    ),
    "out_for_delivery": ParcelState(
        Status.out_for_delivery,
        (*ON_THE_WAY, Scan(2, Status.out_for_delivery, "配達中")),
        predicted=TODAY,
        option=DeliveryOption.leave_at_door,
        headline={"ja": "今日 11月20日(金)にお届け予定", "en": "Arriving today, Fri, Nov 20"},
    ),
    "attempt_failed": ParcelState(
        Status.attempt_fail,
        (
            *ON_THE_WAY,
            Scan(6, Status.out_for_delivery, "配達中"),
            Scan(3, Status.attempt_fail, "持戻（ご不在）"),
        ),
        predicted=TOMORROW,
        option=DeliveryOption.leave_at_door,
        sub_status="absent",
        headline={"ja": "お届けできませんでした", "en": "We could not deliver your parcel"},
    ),
    "at_pickup_point": ParcelState(
        Status.available_for_pickup,
        (
            *ON_THE_WAY,
            Scan(
                5,
                Status.available_for_pickup,
                "コンビニ到着(お受け取り可能)",
                "渋谷区 ローソン 渋谷店",
            ),
        ),
        predicted=TOMORROW,
        sub_status="store",
        headline={
            "ja": "渋谷区 ローソン 渋谷店でお受け取りいただけます",
            "en": "Ready for pickup at 渋谷区 ローソン 渋谷店",
        },
    ),
    "delivered_door": ParcelState(
        Status.delivered,
        (
            *ON_THE_WAY,
            Scan(4, Status.out_for_delivery, "配達中"),
            Scan(1, Status.delivered, "配達完了"),
        ),
        predicted=TODAY,
        signed_by="山田",
        delivered_hours_ago=1,
        headline={
            "ja": "今日 11月20日(金) 9:00 に配達しました",
            "en": "Delivered today, Fri, Nov 20 09:00",
        },
    ),
    "delivered_box": ParcelState(
        Status.delivered,
        (
            *ON_THE_WAY,
            Scan(4, Status.out_for_delivery, "配達中"),
            Scan(1, Status.delivered, "配達完了（宅配ボックス）"),
        ),
        predicted=TODAY,
        delivered_hours_ago=1,
        headline={
            "ja": "今日 11月20日(金) 9:00 に配達しました",
            "en": "Delivered today, Fri, Nov 20 09:00",
        },
    ),
    "delivered_safe_place": ParcelState(
        Status.delivered,
        (
            *ON_THE_WAY,
            Scan(4, Status.out_for_delivery, "配達中"),
            Scan(1, Status.delivered, "配達完了（置き配）"),
        ),
        predicted=TODAY,
        option=DeliveryOption.leave_at_door,
        delivered_hours_ago=1,
        headline={
            "ja": "今日 11月20日(金) 9:00 に配達しました",
            "en": "Delivered today, Fri, Nov 20 09:00",
        },
    ),
    "delayed": ParcelState(
        Status.in_transit,
        ON_THE_WAY,
        predicted=TODAY + timedelta(days=3),
        promised=TOMORROW,
        headline={
            "ja": "お届けが遅れています: 11月23日(月)にお届け予定",
            "en": "Running late: now arriving Mon, Nov 23",
        },
    ),
    "at_customs": ParcelState(
        Status.held_at_customs,
        ABROAD,
        carrier="dhl_express",
        predicted=TODAY + timedelta(days=3),
        duties_terms=DutiesTerms.ddu,
        headline={"ja": "11月23日(月)にお届け予定", "en": "Arriving Mon, Nov 23"},
    ),
    "duties_due": ParcelState(
        Status.duties_due,
        (*ABROAD, Scan(2, Status.duties_due, "Duties and taxes due", "NEW YORK - USA")),
        carrier="dhl_express",
        predicted=TODAY + timedelta(days=3),
        duties_terms=DutiesTerms.ddu,
        headline={
            "ja": "関税をお支払いいただくとお届けします",
            "en": "Pay the import duties to receive your parcel",
        },
    ),
    "exception": ParcelState(
        Status.exception,
        (*ON_THE_WAY, Scan(5, Status.exception, "調査中")),
        predicted=TOMORROW,
        headline={"ja": "配送に問題が発生しています", "en": "There is a problem with the delivery"},
    ),
    "returned": ParcelState(
        Status.returned,
        (
            *ON_THE_WAY,
            Scan(10, Status.returning_to_sender, "返品"),
            Scan(2, Status.returned, "差出人に返送済み"),
        ),
        predicted=TOMORROW,
        time_slot=TimeSlot.morning,
        headline={"ja": "ご依頼主に返送されました", "en": "Your parcel was returned to us"},
    ),
}

ORDERED_HEADLINE = {"ja": "ご注文の商品を準備しています", "en": "We are preparing your order"}


def headline(state: str, locale: str) -> str:
    spec = STATES[state]
    return spec.headline[locale] if spec is not None else ORDERED_HEADLINE[locale]


def seed_state(session: Session, brand_id: int, state: str) -> int:
    """An order (number 1001, one tea line) whose parcel is in ``state``; returns its id."""
    spec = STATES[state]
    order = Order(
        brand_id=brand_id,
        external_id=f"o-{state}",
        number="1001",
        email="hanako@example.jp",
        placed_at=PINNED_NOW - timedelta(days=3),
        total_amount=2980,
        shipping_postal_code="150-0001",
        duties_terms=spec.duties_terms if spec is not None else None,
    )
    session.add(order)
    session.flush()
    session.add(
        OrderLine(
            brand_id=brand_id,
            order_id=order.id,
            line_key="1",
            sku="TEA-01",
            name="ほうじ茶 100g",
            category="tea",
            image_url="data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' width='56' height='56'><rect width='56' height='56' fill='%23a0522d'/></svg>",
            quantity=2,
            unit_price=1490,
        )
    )
    if spec is not None:
        shipment = Shipment(
            brand_id=brand_id,
            order_id=order.id,
            external_id=f"s-{state}",
            carrier_code=spec.carrier,
            tracking_number="123456789012",
            status=spec.status,
            sub_status=spec.sub_status,
            shipped_at=PINNED_NOW - timedelta(days=2) if spec.shipped else None,
            predicted_date=spec.predicted,
            promised_date=spec.promised,
            time_slot=spec.time_slot,
            delivery_option=spec.option,
            signed_by=spec.signed_by,
            delivered_at=PINNED_NOW - timedelta(hours=spec.delivered_hours_ago)
            if spec.delivered_hours_ago is not None
            else None,
            lines=[{"sku": "TEA-01", "quantity": 2}],
        )
        session.add(shipment)
        session.flush()
        for scan in spec.scans:
            session.add(
                TrackingEvent(
                    brand_id=brand_id,
                    shipment_id=shipment.id,
                    status=scan.status,
                    occurred_at=(PINNED_NOW - timedelta(hours=scan.hours_ago)).astimezone(UTC),
                    carrier_code=scan.description,
                    description=scan.description,
                    location=scan.location,
                )
            )
    session.flush()
    assert order.id is not None
    return order.id
