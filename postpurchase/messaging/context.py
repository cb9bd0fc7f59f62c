"""What a message says: the template context for one trigger, customer and parcel.

Contexts hold only JSON values (already formatted for the customer's locale), so the outbox keeps
them for the merchant's log and a fallback channel can be rendered later from the same data.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import force_locale
from sqlalchemy import or_
from sqlmodel import Session, col, select

from carriers.status import Status
from postpurchase.aftercare import care_content
from postpurchase.branding import branding_for
from postpurchase.customer_view import Stage
from postpurchase.edd.service import BrandEdd
from postpurchase.edd.slots import next_slots
from postpurchase.i18n import format_day, format_money, time_slot_label, to_local
from postpurchase.lookup import order_link_path, order_token, return_link_path
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.config import TriggerSettings, brand_settings
from postpurchase.messaging.reasons import Reason, Why, because
from postpurchase.messaging.segments import (
    Profile,
    build_profile,
    choose_segment,
    order_lines,
)
from postpurchase.messaging.settings import MessagingSettings
from postpurchase.models import (
    Brand,
    Customer,
    Feedback,
    Order,
    OrderLine,
    ReturnLine,
    ReturnRequest,
    ReturnState,
    Shipment,
)
from postpurchase.models.types import id_of
from postpurchase.readmodels import ShipmentView, line_views, shipment_views
from postpurchase.recommendations import recommend
from postpurchase.tokens import make_token
from postpurchase.web.customer_words import slot_move_phrase


@dataclass(frozen=True)
class Built:
    context: dict[str, Any]
    variant: str | None
    rules: tuple[str, ...]
    #: Why the message would be useless (None when it is worth sending).
    useless: Reason | None = None


def message_locale(brand: Brand, customer: Customer | None) -> str:
    wanted = ((customer.locale if customer else None) or brand.locale or "ja")[:2]
    return wanted if wanted in ("ja", "en") else "en"


def display_name(name: str | None, locale: str) -> str:
    """``山田 花子 様`` in Japanese; the plain name (or ``customer``) in English."""
    if locale == "ja":
        return f"{name} 様" if name else "お客様"
    return name or "customer"


def e164(phone: str | None, country: str = "JP") -> str | None:
    """``090-1234-5678`` → ``+819012345678`` (Japanese numbers); other numbers must already be E.164."""
    if not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit() or ch == "+")
    if digits.startswith("+"):
        return digits
    if country == "JP" and digits.startswith("0"):
        return "+81" + digits[1:]
    return None


def hashed_phone(phone: str | None) -> str | None:
    """LINE notification messages address a user by the SHA-256 of the E.164 phone number."""
    number = e164(phone)
    return hashlib.sha256(number.encode()).hexdigest() if number else None


def _day(value: date | None, locale: str) -> str | None:
    return format_day(value, locale) if value else None


def _held_for_redelivery(shipment: ShipmentView) -> bool:
    """The carrier holds the parcel after a missed attempt (不在, 保管中): a new slot is wanted."""
    stage = shipment.customer.stage if shipment.customer else None
    return stage == Stage.attempt_failed or (
        stage == Stage.ready_for_pickup and shipment.sub_status == "depot"
    )


def next_slot_offers(
    brand: Brand, shipment: ShipmentView, locale: str, now: datetime
) -> list[dict[str, str]]:
    """The next slots the carrier can still make for a parcel it holds, on the brand's clock and
    calendar, in the customer's words (``[{"date", "slot", "label"}]``); empty for carriers
    without slots or parcels not waiting for a redelivery."""
    if not _held_for_redelivery(shipment):
        return []
    edd = BrandEdd.of(brand)
    calendar = edd.calendar.for_destination(shipment.destination.country)
    joiner = " " if locale == "ja" else ", "
    offers = []
    for day, slot in next_slots(
        shipment.carrier, to_local(now, brand.timezone), calendar, cutoffs=edd.slot_cutoffs
    ):
        words = (_day(day, locale) or "", time_slot_label(slot.code, locale))
        offers.append({"date": day.isoformat(), "slot": slot.code, "label": joiner.join(words)})
    return offers


def _date_note(shipment: ShipmentView, locale: str) -> str | None:
    """Why the expected day moved (the requested slot's cut-off), in the customer's locale."""
    if shipment.customer is None:
        return None
    with force_locale(locale):
        return slot_move_phrase(shipment.customer, locale)


def _shipment_context(
    brand: Brand, shipment: ShipmentView, locale: str, settings: dict[str, Any], now: datetime
) -> dict[str, Any]:
    pickup = shipment.latest_event
    held = shipment.customer.pickup if shipment.customer else None
    pickup_until = None
    if held is not None and held.until is not None:
        pickup_until = _day(held.until, locale)  # the carrier's own deadline when it gives one
    elif pickup is not None and shipment.status == Status.available_for_pickup:
        hold = timedelta(days=int(settings["pickup_hold_days"]))
        pickup_until = _day(to_local(pickup.occurred_at + hold, brand.timezone).date(), locale)
    window = None
    if shipment.window:
        # "between A and B" in English: the wave dash is Japanese punctuation.
        joiner = "〜" if locale == "ja" else " and "
        window = f"{_day(shipment.window[0], locale)}{joiner}{_day(shipment.window[1], locale)}"
    return {
        **asdict(shipment.links),
        "tracking_number": shipment.tracking_number,
        "predicted_day": _day(shipment.predicted_date, locale),
        "predicted_date": shipment.predicted_date.isoformat() if shipment.predicted_date else None,
        "window": window,
        "promised_day": _day(shipment.promised_date, locale),
        "time_slot": time_slot_label(shipment.time_slot, locale),
        "date_note": _date_note(shipment, locale),
        "delivery_option": str(shipment.delivery_option),
        "pickup_location": (held.location if held else None)
        or (pickup.location if pickup is not None else None),
        "pickup_address": held.address if held else None,
        "pickup_until": pickup_until,
        "next_slots": next_slot_offers(brand, shipment, locale, now),
        "status": str(shipment.status),
        # What the parcel's state means for the customer; the day only while one is worth showing.
        "stage": str(shipment.customer.stage) if shipment.customer else None,
        "expected_day": _day(shipment.customer.expected, locale) if shipment.customer else None,
        "duties_terms": str(shipment.duties_terms) if shipment.duties_terms else None,
    }


def usage_days(settings: dict[str, Any], line: OrderLine) -> int | None:
    """Days one unit of a consumable lasts, from the SKU or its category; None: not a consumable."""
    consumables = settings["consumables"]
    days = consumables.get("sku", {}).get(line.sku) or consumables.get("category", {}).get(
        line.category or ""
    )
    return int(days) if days else None


def replenishment_plan(
    settings: dict[str, Any], lines: list[OrderLine], delivered_on: date
) -> tuple[date, list[OrderLine]] | None:
    """When the first consumable of the order runs out (quantity × usage days after delivery)."""
    runouts = [
        (delivered_on + timedelta(days=line.quantity * days), line)
        for line in lines
        if (days := usage_days(settings, line))
    ]
    if not runouts:
        return None
    first = min(day for day, _ in runouts)
    return first, [line for day, line in runouts if day == first]


def _answered(session: Session, order_id: int | None) -> bool:
    return (
        session.exec(select(Feedback.id).where(Feedback.order_id == order_id)).first() is not None
    )


#: Triggers whose worth depends on the order's data; :func:`useless_reason` decides it at enqueue.
JUDGED = (Trigger.unboxing, Trigger.review_request, Trigger.replenishment)
#: Return states in which the customer is still sending something back (not yet settled).
OPEN_RETURN = (
    ReturnState.requested,
    ReturnState.approved,
    ReturnState.label_issued,
    ReturnState.in_transit,
    ReturnState.received,
)
#: An NPS answer at or below this is a complaint (a detractor, 0–6).
COMPLAINT_SCORE = 6


def customer_reason(
    *, session: Session, trigger: Trigger | str, order: Order, lines: list[OrderLine]
) -> Reason | None:
    """Why the customer's own history makes ``trigger`` unwelcome whatever the order says: no
    review request after a complaint (their latest score is a detractor's) or while a return of
    theirs is open; no replenishment reminder for an item they sent back, in any order."""
    if order.customer_id is None or trigger not in (Trigger.review_request, Trigger.replenishment):
        return None
    orders = select(Order.id).where(Order.customer_id == order.customer_id)
    if trigger == Trigger.review_request:
        latest = session.exec(
            select(Feedback.nps_score)
            .where(
                or_(
                    col(Feedback.customer_id) == order.customer_id,
                    col(Feedback.order_id).in_(orders),
                ),
                col(Feedback.nps_score).is_not(None),
            )
            .order_by(col(Feedback.created_at).desc(), col(Feedback.id).desc())
        ).first()
        if latest is not None and latest <= COMPLAINT_SCORE:
            return because(Why.complained, score=latest)
        opened = session.exec(
            select(ReturnRequest.rma_number).where(
                col(ReturnRequest.order_id).in_(orders),
                col(ReturnRequest.state).in_(OPEN_RETURN),
            )
        ).first()
        return because(Why.open_return, rma=opened) if opened else None
    skus = {line.sku for line in lines}
    returned = session.exec(
        select(ReturnLine.sku)
        .join(ReturnRequest, col(ReturnRequest.id) == ReturnLine.return_id)
        .where(col(ReturnRequest.order_id).in_(orders), col(ReturnLine.sku).in_(skus))
        .order_by(col(ReturnLine.sku))
    ).first()
    return because(Why.returned_before, sku=returned) if returned else None


def useless_reason(
    *,
    session: Session,
    brand: Brand,
    trigger: Trigger | str,
    order: Order | None,
    shipment: Shipment | None,
) -> Reason | None:
    """Why the data at trigger time makes ``trigger`` useless (no care content, already answered, no
    consumables), or None. No query for the other triggers (the ones events cause)."""
    if trigger not in JUDGED or order is None:
        return None
    if trigger == Trigger.review_request:
        if _answered(session, order.id):
            return because(Why.already_answered)
        return customer_reason(session=session, trigger=trigger, order=order, lines=[])
    settings = brand_settings(brand)
    lines = order_lines(session, id_of(order))
    if trigger == Trigger.replenishment and (
        reason := customer_reason(session=session, trigger=trigger, order=order, lines=lines)
    ):
        return reason
    if trigger == Trigger.unboxing:
        return None if care_content(settings["care"], lines, "ja") else because(Why.no_care_content)
    if (
        shipment is not None
        and shipment.delivered_at is not None
        and replenishment_plan(
            settings, lines, to_local(shipment.delivered_at, brand.timezone).date()
        )
        is None
    ):
        return because(Why.no_consumables)
    return None


def brand_context(brand: Brand, base_url: str) -> dict[str, Any]:
    """The brand as templates see it: name, slug, accent colour (and the text colour on it), logo
    (absolute, under ``base_url``) and footer."""
    look = branding_for(brand, base_url=base_url)
    return {
        "name": brand.name,
        "slug": brand.slug,
        "color": look.color,
        "on_color": look.on_color,
        "logo_url": look.logo_url,
        "footer": look.footer,
    }


def sender_context(brand: Brand) -> dict[str, Any]:
    """Who the message is from (the brand unless its settings name a sender)."""
    sender = brand_settings(brand)["sender"]
    return {
        "name": branding_for(brand).sender_name,
        "email": sender.get("email"),
        "address": sender.get("address"),
        "contact": sender.get("contact"),
    }


def feedback_links(url: str) -> dict[str, Any]:
    """The survey page and one link per score 0–10: a click in the email records the score."""
    return {"url": url, "scores": [{"score": n, "url": f"{url}?score={n}"} for n in range(11)]}


def build(
    *,
    session: Session,
    messaging: MessagingSettings,
    brand: Brand,
    trigger: TriggerSettings,
    order: Order | None,
    shipment: Shipment | None,
    customer: Customer | None,
    locale: str,
    extra: dict[str, Any] | None = None,
    now: datetime,
) -> Built:
    """The context of one message, the rules that shaped it, and whether it is worth sending."""
    settings = brand_settings(brand)
    context: dict[str, Any] = {
        "trigger": trigger.name,
        "locale": locale,
        "marketing": trigger.purpose == "marketing",
        "brand": brand_context(brand, messaging.base_url),
        "sender": sender_context(brand),
        "customer_name": display_name(
            customer.name if customer else (order.shipping_name if order else None), locale
        ),
        **(extra or {}),
    }
    profile: Profile | None = None
    lines: list[OrderLine] = []
    if order is not None:
        lines = order_lines(session, id_of(order))
        context["order"] = {
            "number": order.number,
            "total": format_money(order.total_amount, order.currency, locale),
            "placed_day": _day(to_local(order.placed_at, brand.timezone).date(), locale),
            "items": [
                {"name": line.title, "quantity": line.quantity, "variant": line.variant}
                for line in line_views(lines)
            ],
        }
        context["tracking_page_url"] = messaging.public_url(
            order_link_path(messaging.secret_key, brand.slug, id_of(brand), id_of(order))
        )
        context["returns_url"] = messaging.public_url(
            f"/{brand.slug}/returns/order/"
            f"{order_token(messaging.secret_key, id_of(brand), id_of(order))}"
        )
        profile = build_profile(session=session, order=order, customer=customer, language=locale)
    if shipment is not None:
        [view] = shipment_views(session=session, shipments=[shipment], now=now)
        context["shipment"] = _shipment_context(brand, view, locale, settings, now)
    segment = choose_segment(settings["rules"], profile, trigger.name) if profile else None
    blocks = settings["blocks"]
    context["blocks"] = [
        (blocks[name].get(locale) or blocks[name].get("ja", ""))
        for name in (segment.blocks if segment else ())
        if name in blocks
    ]
    useless = None
    if trigger.name == Trigger.unboxing:
        context["care"] = care_content(settings["care"], lines, locale)
        useless = None if context["care"] else because(Why.no_care_content)
    if (
        trigger.name in (Trigger.unboxing, Trigger.delivered, Trigger.review_request)
        and profile is not None
        and order is not None
    ):
        left_out: Counter[str] = Counter()
        context["recommendations"] = [
            asdict(item)
            for item in recommend(
                session=session,
                brand=brand,
                order_id=id_of(order),
                profile=profile,
                lines=lines,
                left_out=left_out,
            )
        ]
        context["left_out"] = dict(left_out)
    if trigger.name == Trigger.review_request and order is not None:
        useless = (
            because(Why.already_answered)
            if _answered(session, order.id)
            else customer_reason(session=session, trigger=trigger.name, order=order, lines=lines)
        )
        token = make_token(
            messaging.secret_key,
            "feedback",
            {
                "b": brand.id,
                "o": order.id,
                "s": shipment.id if shipment else None,
                "c": customer.id if customer else None,
            },
        )
        context["feedback"] = feedback_links(
            messaging.public_url(f"/{brand.slug}/feedback/{token}")
        )
    if (
        trigger.name == Trigger.replenishment
        and order is not None
        and shipment is not None
        and shipment.delivered_at
    ):
        plan = replenishment_plan(
            settings, lines, to_local(shipment.delivered_at, brand.timezone).date()
        )
        if plan is None:
            useless = because(Why.no_consumables)
        else:
            runout, due_lines = plan
            context["replenishment"] = {
                "runout_day": _day(runout, locale),
                "items": [{"name": line.name or line.sku, "sku": line.sku} for line in due_lines],
                "reorder_url": settings.get("reorder_url") or context.get("tracking_page_url"),
            }
            useless = customer_reason(
                session=session, trigger=trigger.name, order=order, lines=lines
            )
    if trigger.name == Trigger.return_update and extra and extra.get("return_id"):
        rma = session.get(ReturnRequest, extra["return_id"])
        if rma is not None:
            context["return"] = {
                "rma_number": rma.rma_number,
                "state": str(
                    extra.get("return_state") or rma.state
                ),  # the state that caused the message
                "resolution": str(rma.resolution),
                "refund": format_money(rma.refund_amount, rma.currency, locale)
                if rma.refund_amount
                else None,
                "credit": format_money(rma.credit_amount, rma.currency, locale)
                if rma.credit_amount
                else None,
                # The return's own status page (state, label, deadline, refund timing).
                "status_url": messaging.public_url(
                    return_link_path(messaging.secret_key, brand.slug, id_of(brand), id_of(rma))
                ),
            }
    return Built(
        context, segment.variant if segment else None, segment.rules if segment else (), useless
    )
