"""A brand's settings as one typed model: every default in one place, every value validated.

``Brand.settings`` stores only what a brand changed (:func:`stored`): a default improved later
reaches every brand that never chose otherwise. Each feature reads its part through
:func:`settings_for` (``settings_for(brand).returns.window_days``); nobody reads the raw JSON.

Errors name the field as a dotted path (``returns.window_days``), the same path the console, the
API (``details[].loc``) and the command line (``settings set returns.window_days 45``) use.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import date
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from carriers.slots import SLOT_CODES
from postpurchase.models import Brand
from postpurchase.models.enums import (
    Channel,
    ExchangeDifference,
    LabelPayment,
    ReturnMethod,
    ReturnResolution,
    TimeSlot,
    Trigger,
)

log = logging.getLogger(__name__)

#: ``HH:MM`` in the brand's time zone.
Clock = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
Url = Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=2000)]
Colour = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")]
#: A slot code of any carrier's grid (``carriers.slots``): ``morning``, ``14-16``, ...
SlotCode = StrEnum(  # type: ignore[misc]  # members read from the carriers' slot grids
    "SlotCode", {f"slot_{code.replace('-', '_')}": code for code in sorted(SLOT_CODES)}
)


class Part(BaseModel):
    """A part of the settings: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)


# Messaging ------------------------------------------------------------------------------------


class QuietHours(Part):
    start: Clock = "21:00"
    end: Clock = "08:00"


class Sender(Part):
    """Who messages come from; the address and a contact are the legal minimum for marketing."""

    name: str | None = Field(default=None, max_length=200)
    email: Email | None = None
    address: str | None = Field(default=None, max_length=500)
    contact: str | None = Field(default=None, max_length=200)


class TriggerPart(Part):
    """A brand's choices for one trigger; None keeps the trigger's default (its catalogue entry,
    then :data:`TRIGGER_BASE`)."""

    enabled: bool | None = None
    delay_minutes: int | None = Field(default=None, ge=0, le=60 * 24 * 90)
    channels: list[Channel] | None = Field(default=None, min_length=1)
    #: Template name (files under ``emails/<locale>/``); None: the trigger's own name.
    template: str | None = Field(default=None, pattern=r"^[a-z0-9_]{1,64}$")
    quiet_hours: bool | None = None
    stale_after_hours: float | None = Field(default=None, gt=0, le=24 * 90)


class ArrivingTomorrowPart(TriggerPart):
    send_at: Clock | None = None


class UnboxingPart(TriggerPart):
    delay_hours: float | None = Field(default=None, ge=0, le=24 * 60)


class ReviewRequestPart(TriggerPart):
    delay_days: int | None = Field(default=None, ge=0, le=365)


class ReplenishmentPart(TriggerPart):
    lead_days: int | None = Field(default=None, ge=0, le=365)


#: What a trigger sends unless its catalogue entry or the brand says otherwise.
TRIGGER_BASE: dict[str, Any] = {
    "enabled": True,
    "delay_minutes": 0,
    "channels": ["email", "line", "sms"],
    "template": None,
    "quiet_hours": True,
    "stale_after_hours": None,
}

_TRIGGER_PARTS: dict[Trigger, type[TriggerPart]] = {
    Trigger.arriving_tomorrow: ArrivingTomorrowPart,
    Trigger.unboxing: UnboxingPart,
    Trigger.review_request: ReviewRequestPart,
    Trigger.replenishment: ReplenishmentPart,
}

#: Customer message triggers (the WMS documents have no settings of their own).
CUSTOMER_TRIGGERS = tuple(t for t in Trigger if t not in (Trigger.wms_return, Trigger.kitting))

#: One field per customer trigger, keyed by its stored value.
# create_model's typed overloads cannot check fields passed as a ** dictionary.
Triggers: type[Part] = create_model(  # type: ignore[call-overload]
    "Triggers",
    __base__=Part,
    **{
        str(t): (
            _TRIGGER_PARTS.get(t, TriggerPart),
            Field(default_factory=_TRIGGER_PARTS.get(t, TriggerPart)),
        )
        for t in CUSTOMER_TRIGGERS
    },
)


class MessagingPart(Part):
    # Triggers is a class made at import time; mypy takes only class statements as types.
    triggers: Triggers = Field(default_factory=Triggers)  # type: ignore[valid-type]
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    #: Messages a customer gets a day at most (essential ones are never held).
    daily_cap: int = Field(default=2, ge=0, le=50)
    #: Temporary failures are retried with backoff for this long from the first attempt.
    retry_max_hours: float = Field(default=24, gt=0, le=24 * 14)
    #: An optional cap on attempts as well; None: only the hours above count.
    max_attempts: int | None = Field(default=None, ge=1, le=100)
    sender: Sender = Field(default_factory=Sender)
    #: Segments: ``[{"name", "when": {...}, "variant", "blocks": [...]}]``.
    rules: list[dict[str, Any]] = Field(default_factory=list)
    #: Content blocks by name, per locale.
    blocks: dict[str, dict[str, str]] = Field(default_factory=dict)
    #: Care instructions by ``sku`` and by ``category``.
    care: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: dict[str, dict[str, Any]](sku={}, category={})
    )
    #: Items recommended after a purchase: ``[{"sku", "name", "accessory_for", "categories"}]``
    #: and optionally sizes, price, image and link (:mod:`postpurchase.recommendations`).
    catalog: list[dict[str, Any]] = Field(default_factory=list)
    #: Days a consumable lasts, by ``sku`` and by ``category``.
    consumables: dict[str, dict[str, int]] = Field(
        default_factory=lambda: dict[str, dict[str, int]](sku={}, category={})
    )
    pickup_hold_days: int = Field(default=7, ge=1, le=60)
    #: Outgoing webhook endpoint for the ``webhook`` channel.
    webhook_url: Url | None = None
    #: LINE notification messages: ``templateKey`` per trigger; empty = not contracted.
    line_notification_templates: dict[str, Any] = Field(default_factory=dict)
    #: Where a replenishment message sends the customer; None: the tracking page.
    reorder_url: Url | None = None


# Returns --------------------------------------------------------------------------------------

#: Reason codes a customer picks from, with their words in each language.
DEFAULT_REASONS: dict[str, dict[str, str]] = {
    "size_too_small": {"ja": "サイズが小さい", "en": "Too small"},
    "size_too_large": {"ja": "サイズが大きい", "en": "Too large"},
    "damaged": {"ja": "破損・汚れがある", "en": "Arrived damaged"},
    "wrong_item": {"ja": "注文と違う商品が届いた", "en": "Wrong item sent"},
    "not_as_described": {"ja": "説明と異なる", "en": "Not as described"},
    "changed_mind": {"ja": "イメージと違った・不要になった", "en": "Changed my mind"},
    "other": {"ja": "その他", "en": "Other"},
}

#: Reasons about fit: offered only for the categories that list them (clothing, shoes).
SIZE_REASONS = ["size_too_small", "size_too_large"]
#: Reasons offered for a category that lists none of its own.
GENERAL_REASONS = ["damaged", "wrong_item", "not_as_described", "changed_mind", "other"]


class CategoryRule(Part):
    """How the policy treats the order lines of one category (matched without regard to case)."""

    category: str = Field(min_length=1, max_length=100)
    returnable: bool = True
    #: Days to return this category's items; None: the brand's ``window_days``.
    window_days: int | None = Field(default=None, ge=0, le=3650)
    #: Every item of this category is final sale (as if each line said so).
    final_sale: bool = False
    #: Personal care once opened: only a fault of the brand's (:data:`AT_FAULT_REASONS`) is a reason.
    hygiene: bool = False
    #: Food and drink: not returnable unless ``food_returnable``; only for the brand's faults then.
    food: bool = False
    #: Reason codes offered for this category, in order; None: :attr:`ReturnsPart.general_reasons`.
    reasons: list[str] | None = None


#: Reasons where the brand is at fault: the only ones hygiene and food items may be returned for.
AT_FAULT_REASONS = ("damaged", "wrong_item", "late")


class TierRule(Part):
    """Longer returns for a customer tier (the customer's attribute ``ReturnsPart.tier_attribute``)."""

    tier: str = Field(min_length=1, max_length=100)
    extra_days: int = Field(default=0, ge=0, le=3650)


class FeeRule(Part):
    """A fee per returned line: ``flat`` minor units of the order's currency plus ``percent`` of its value."""

    flat: int = Field(default=0, ge=0)
    percent: float = Field(default=0, ge=0, le=100)


class ExchangeRule(Part):
    """What a returned line may be exchanged for, how long the new item is held, and when it ships.

    Another size of the same item (``TEE-M`` → ``TEE-L``) is always offered. With ``other_products``
    the portal also offers other in-stock products the brand has sold (their name, category and price
    are those of their latest order line in the order's currency): of the returned line's category
    when ``same_category``, priced within ± ``price_band_percent`` % of the returned unit's price.
    """

    other_products: bool = False
    same_category: bool = True
    #: None: any price (the customer pays or gets back the difference).
    price_band_percent: float | None = Field(default=20, ge=0, le=1000)
    #: Days a unit stays reserved for an open RMA (counting from the request) before it goes back
    #: to stock; the ``returns.reservations`` job releases it.
    hold_days: int = Field(default=21, ge=1, le=365)
    #: The outbound order goes to the WMS when the returned goods are received; for customers of
    #: these tiers ("trusted") as soon as the return is approved.
    ship_early_tiers: list[str] = Field(default_factory=list)
    #: When the new items cost more, hold the outbound order until the customer has paid the
    #: difference (Shopify's ``orders/paid`` for the order its invoice became).
    ship_after_payment: bool = False
    #: What the customer gets when the new items cost less: ``credit`` (store credit, with the bonus)
    #: or ``refund`` (the difference back to the original payment; the bonus only lowers a payment).
    difference_back: ExchangeDifference = ExchangeDifference.credit


def _default_categories() -> list[CategoryRule]:
    clothing = [*SIZE_REASONS, *GENERAL_REASONS]
    return [
        CategoryRule(category="apparel", reasons=clothing),
        CategoryRule(category="clothing", reasons=clothing),
        CategoryRule(category="shoes", reasons=clothing),
        CategoryRule(category="food", food=True),
    ]


class ReturnsPart(Part):
    #: Days from the last delivery of the order's parcels.
    window_days: int = Field(default=30, ge=0, le=3650)
    auto_approve: bool = True
    final_sale_returnable: bool = False
    #: Whether items of ``food`` categories may come back at all (then only for the brand's faults).
    food_returnable: bool = False
    categories: list[CategoryRule] = Field(default_factory=_default_categories)
    #: The customer attribute that names their tier (``{"vip_tier": "gold"}``).
    tier_attribute: str = Field(default="vip_tier", min_length=1, max_length=100)
    tiers: list[TierRule] = Field(default_factory=list)
    resolutions: list[ReturnResolution] = Field(
        default_factory=lambda: list(ReturnResolution), min_length=1
    )
    #: Every reason code with its words per language; categories pick from these.
    reasons: dict[str, dict[str, str]] = Field(
        default_factory=lambda: dict(DEFAULT_REASONS), min_length=1
    )
    #: Reasons offered for items of a category without a list of its own.
    general_reasons: list[str] = Field(default_factory=lambda: list(GENERAL_REASONS), min_length=1)
    #: A question asked after a reason, per language (``{"damaged": {"ja": "…", "en": "…"}}``);
    #: the answer is optional text.
    questions: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {
            "damaged": {
                "ja": "どこがどのように破損していましたか？",
                "en": "What is damaged, and how?",
            },
            "not_as_described": {
                "ja": "説明とどこが異なりましたか？",
                "en": "What differs from the description?",
            },
            "other": {"ja": "理由を教えてください。", "en": "Please tell us why."},
        }
    )
    #: Reasons where the customer adds a photo of the problem.
    photo_reasons: list[str] = Field(
        default_factory=lambda: ["damaged", "not_as_described", "wrong_item"]
    )
    #: Reason code (or ``*`` for any other) → fee; the brand's faults never carry one.
    fees: dict[str, FeeRule] = Field(default_factory=dict)
    #: Percentage added for store credit and exchange (``10`` = +10 %).
    credit_bonus_percent: float = Field(default=0, ge=0, le=100)
    #: Goods worth less than this (minor units) stay with the customer; 0: never.
    keep_item_below: int = Field(default=0, ge=0)
    #: What a return parcel costs the brand (minor units); goods worth less stay; 0: not counted.
    return_shipping_cost: int = Field(default=0, ge=0)
    #: Refunds of goods worth less than this are paid without collecting them ("green"); 0: never.
    green_refund_below: int = Field(default=0, ge=0)
    #: At most this many returns per customer within ``limit_days``; None: no limit.
    limit_returns: int | None = Field(default=None, ge=1, le=1000)
    limit_days: int = Field(default=365, ge=1, le=3650)
    #: Who pays the return parcel.
    label_payment: LabelPayment = LabelPayment.cash_on_delivery
    #: Days from the label's issue to hand the parcel over.
    handover_days: int = Field(default=14, ge=1, le=365)
    #: Days after the goods arrive within which the money is paid (what the status page promises).
    payout_days: int = Field(default=3, ge=0, le=90)
    #: Lines of the return address; empty: the brand's first fulfilment centre.
    address: list[str] = Field(default_factory=list, max_length=8)
    #: Where each RMA state change is posted (the WMS document); None: nowhere.
    wms_webhook_url: Url | None = None
    #: Exchanges for another size or another product (:class:`ExchangeRule`).
    exchange: ExchangeRule = Field(default_factory=ExchangeRule)
    #: How customers may hand a return over; ``carrier_label`` is offered for international returns only.
    methods: list[ReturnMethod] = Field(
        default_factory=lambda: [ReturnMethod.printed_label], min_length=1
    )
    #: The pickup carrier's time-slot grid offered for ``pickup``.
    pickup_slots: list[TimeSlot] = Field(default_factory=lambda: list(TimeSlot), min_length=1)
    #: Pickup dates offered: this many business days, starting the business day after today.
    pickup_days: int = Field(default=7, ge=1, le=30)
    #: Carrier (``carriers/`` code with label buying, e.g. ``easypost``) for ``carrier_label``.
    label_carrier: str | None = Field(default=None, max_length=32)
    #: The carrier's service bought for ``carrier_label`` (e.g. EasyPost's carrier and service).
    label_service: dict[str, str] = Field(default_factory=dict)
    #: Drop-off points listed to the customer, nearest first.
    nearest_dropoffs: int = Field(default=5, ge=1, le=20)


# Delivery dates -------------------------------------------------------------------------------


class CalendarPart(Part):
    workdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4]
    )
    #: Names from ``edd.calendar.NAMED_CLOSURES`` or ``{"name", "start": "MM-DD", "end": "MM-DD"}``.
    closures: list[str | dict[str, str]] = Field(default_factory=list)
    holidays: bool = True
    closed_dates: list[date] = Field(default_factory=list)


class DeliveryPart(Part):
    #: How sure the promised date is: the share of parcels that arrive by it.
    promise_level: float = Field(default=0.90, ge=0.5, le=0.99)
    #: Quantiles of the window shown to customers.
    window: tuple[float, float] = (0.1, 0.9)
    calendar: CalendarPart = Field(default_factory=CalendarPart)
    #: Business days assumed before any parcel of the brand was delivered; None: the model's.
    default_business_days: int | None = Field(default=None, ge=0, le=30)
    default_carrier: str = Field(default="", max_length=64)
    default_service: str = Field(default="standard", max_length=64)
    #: Overrides of the model's tuning (``edd.model.ModelParams``); for experts.
    model: dict[str, float] = Field(default_factory=dict)
    #: The brand's own depot cut-offs by slot code (``{"morning": "06:30"}``), over the assumed
    #: defaults of ``carriers.slots``.
    slot_cutoffs: dict[SlotCode, Clock] = Field(default_factory=dict)


# Insights, carriers, branding -----------------------------------------------------------------


class ExceptionsPart(Part):
    """When the console's exception queue calls a silent parcel stalled or suspected lost.

    A part of its own rather than within ``edd``: these decide what staff chase, not what customers
    are promised. The days are the brand's carrier business days (``edd.calendar``). How long a
    pickup point holds a parcel is ``messaging.pickup_hold_days``, the deadline customers are told.
    """

    #: No scan for this many business days: stalled.
    stalled_business_days: int = Field(default=3, ge=1, le=30)
    #: No scan for this many business days: suspected lost (wins over stalled).
    lost_business_days: int = Field(default=10, ge=1, le=60)


class InsightsPart(Part):
    #: Who gets the weekly report (PDF) on Mondays.
    weekly_to: list[Email] = Field(default_factory=list, max_length=20)
    #: Who gets the previous calendar month's report (PDF) early each month.
    monthly_to: list[Email] = Field(default_factory=list, max_length=20)
    #: The redelivery rate the brand compares itself with (0–1), shown beside the measured one;
    #: the ministry's surveys put Japan's national figure at 0.08–0.10.
    redelivery_reference: float | None = Field(default=None, ge=0, le=1)


class BrandingPart(Part):
    color: Colour = "#1f4f8b"
    #: The stored logo's file name (set by an upload; served by the console's logo route).
    logo: Annotated[str, Field(pattern=r"^[0-9a-f]{64}\.(png|jpg|gif|webp)$")] | None = None
    footer: str | None = Field(default=None, max_length=1000)
    shop_url: Url | None = None
    contact_url: Url | None = None
    faq_url: Url | None = None


# Unboxing kitting -----------------------------------------------------------------------------


class KitRule(Part):
    """One kit: what the warehouse puts in the box of an order that matches every condition given.

    Conditions left empty match every order. Every matching rule applies, in order: inserts and
    samples add up; the first gift wrap and the first message card win (:mod:`postpurchase.kitting`).
    """

    #: The kit's name, as the WMS, the console and the insights show it.
    name: str = Field(min_length=1, max_length=64)
    #: Names of segment rules (``messaging.rules``) of which at least one must hold for the customer.
    segments: list[str] = Field(default_factory=list)
    #: True: only a customer's first order; False: only repeat orders; None: both.
    first_order: bool | None = None
    #: True: only gift orders (the order's ``attributes.gift``); False: only others; None: both.
    gift: bool | None = None
    #: Product categories of which the order must have at least one (without regard to case).
    categories: list[str] = Field(default_factory=list)
    #: Printed inserts (leaflets, cards) by the warehouse's item code.
    inserts: list[str] = Field(default_factory=list)
    #: Samples by SKU.
    samples: list[str] = Field(default_factory=list)
    #: The wrapping the warehouse knows by this code (e.g. ``ribbon``, ``noshi``); None: none.
    gift_wrap: str | None = Field(default=None, max_length=64)
    #: Message card text per language (``ja``, ``en``); ``{name}`` is the customer's name.
    card: dict[str, Annotated[str, Field(max_length=500)]] = Field(default_factory=dict)
    #: Whether ``{name}`` may be the customer's own name; a gift's card never names the buyer
    #: (someone else opens the box), and ``{name}`` then reads "お客様" / "customer".
    use_name: bool = True


class KittingPart(Part):
    #: Kits, in order; see :class:`KitRule`.
    rules: list[KitRule] = Field(default_factory=list, max_length=50)
    #: Where ``order.kitting_instructions`` is posted; None: ``returns.wms_webhook_url``.
    webhook_url: Url | None = None


CarrierCode = Annotated[str, Field(pattern=r"^(\*|[a-z0-9_\-]{1,40})$")]
AdapterCode = Annotated[str, Field(pattern=r"^[a-z0-9_\-]{1,40}$")]


#: A product category as order lines carry it (``tea``), or its name in one language.
CategoryWord = Annotated[str, Field(min_length=1, max_length=100)]
#: A language code (``ja``, ``en``).
Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]


def category_name(names: dict[str, dict[str, str]], category: str, locale: str) -> str:
    """What people read for ``category`` (matched without regard to case, as the return policy
    matches it): its name in ``locale``, else in another language the brand named it in, else the
    code itself with ``_`` and ``-`` as spaces (``home_fragrance`` → ``home fragrance``)."""
    wanted = category.strip().lower()
    words = next((w for code, w in names.items() if code.strip().lower() == wanted), {})
    return (
        words.get(locale)
        or next((w for w in words.values() if w), "")
        or " ".join(category.replace("_", " ").replace("-", " ").split())
        or category
    )


class BrandSettings(Part):
    """Everything a brand configures. Keys are those of ``Brand.settings``."""

    messaging: MessagingPart = Field(default_factory=MessagingPart)
    returns: ReturnsPart = Field(default_factory=ReturnsPart)
    #: Delivery dates (EDD): promise level, calendar, model.
    edd: DeliveryPart = Field(default_factory=DeliveryPart)
    insights: InsightsPart = Field(default_factory=InsightsPart)
    #: The console's exception queue.
    exceptions: ExceptionsPart = Field(default_factory=ExceptionsPart)
    #: Carrier code (or ``*`` for all others) → the adapter that answers for it (an aggregator).
    #: Accounts (credentials) come from the configuration, never from here.
    carrier_routes: dict[CarrierCode, AdapterCode] = Field(default_factory=dict)
    branding: BrandingPart = Field(default_factory=BrandingPart)
    #: Unboxing kits: inserts, samples, gift wrap and message card per order, sent to the WMS.
    kitting: KittingPart = Field(default_factory=KittingPart)
    #: What product categories are called, per language (``{"tea": {"ja": "お茶", "en": "tea"}}``),
    #: read inside sentences ("Buys tea again and again"): written as in running text.
    category_names: dict[CategoryWord, dict[Language, CategoryWord]] = Field(default_factory=dict)

    def category_name(self, category: str, locale: str) -> str:
        """:func:`category_name` with this brand's names."""
        return category_name(self.category_names, category, locale)


#: The parts, in the order the console lists them.
PARTS: tuple[str, ...] = tuple(BrandSettings.model_fields)


class SettingsInvalid(ValueError):
    """Settings that do not validate; ``errors`` are ``[{"loc": "returns.window_days", "msg"}]``,
    with pydantic's ``type`` and ``ctx`` where pydantic found the error (the words of each reader's
    language come from them: :mod:`postpurchase.settings.errors`)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{e['loc']}: {e['msg']}" for e in errors))
        self.errors = errors


def dotted(loc: tuple[int | str, ...]) -> str:
    """Pydantic's ``("returns", "categories", 0, "category")`` → ``returns.categories[0].category``."""
    text = ""
    for item in loc:
        text += f"[{item}]" if isinstance(item, int) else (f".{item}" if text else str(item))
    return text


def validate(document: Any) -> BrandSettings:
    """The settings in ``document`` (a mapping as stored or sent), or :class:`SettingsInvalid`."""
    if nul := _nul_at(document, ()):
        # PostgreSQL's JSON cannot store U+0000: refuse it here rather than fail on commit.
        raise SettingsInvalid([{"loc": dotted(nul), "msg": "Must not contain NUL (U+0000)."}])
    try:
        return BrandSettings.model_validate(document or {})
    except ValidationError as exc:
        raise SettingsInvalid(
            [
                {
                    "loc": dotted(e["loc"]),
                    "msg": e["msg"],
                    "type": e["type"],
                    "ctx": {k: _plain(v) for k, v in (e.get("ctx") or {}).items()},
                }
                for e in exc.errors()
            ]
        ) from None


def _plain(value: Any) -> Any:
    """A ``ctx`` value as JSON can hold it (pydantic puts exceptions and patterns there too)."""
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def _nul_at(value: Any, loc: tuple[int | str, ...]) -> tuple[int | str, ...] | None:
    if isinstance(value, str):
        return loc if "\x00" in value else None
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return (*loc, key)
        if found := _nul_at(item, (*loc, key)):
            return found
    return None


def stored(settings: BrandSettings) -> dict[str, Any]:
    """What ``Brand.settings`` keeps: only the values that differ from the defaults."""
    return settings.model_dump(mode="json", exclude_defaults=True)


def settings_for(brand: Brand) -> BrandSettings:
    """The brand's settings with defaults filled in (shared between callers: never mutate)."""
    return _parse(json.dumps(brand.settings or {}, sort_keys=True, default=str))


@lru_cache(maxsize=256)
def _parse(document_json: str) -> BrandSettings:
    document = json.loads(document_json)
    # Settings written before they were validated: drop each invalid value (it reads as its
    # default), so one bad value does not switch off every other choice the brand made.
    for _ in range(20):
        try:
            return BrandSettings.model_validate(document)
        except ValidationError as exc:
            log.warning("stored brand settings are invalid, ignoring: %s", exc.errors()[0]["loc"])
            for error in reversed(exc.errors()):
                _drop(document, error["loc"])
    return BrandSettings()


def _drop(document: Any, loc: tuple[int | str, ...]) -> None:
    """Remove the value at ``loc`` (the nearest existing container's entry) from ``document``."""
    node = document
    for key in loc[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(node, dict):
        node.pop(loc[-1], None)
    elif isinstance(node, list) and isinstance(loc[-1], int) and loc[-1] < len(node):
        del node[loc[-1]]


# Leaves ---------------------------------------------------------------------------------------


def leaves(model: type[BaseModel] = BrandSettings, prefix: str = "") -> Iterator[str]:
    """Every settable path: ``returns.window_days``, ``messaging.triggers.shipped.enabled``…

    A nested part is walked; any other value (lists, mappings, numbers) is one leaf."""
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from leaves(annotation, path + ".")
        else:
            yield path


def get_path(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for key in path.split("."):
        value = value[key]
    return value


def with_path(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``document`` with ``path`` set to ``value`` (missing levels created)."""
    result: dict[str, Any] = json.loads(json.dumps(document))
    keys = path.split(".")
    node = result
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return result


def is_leaf(path: str) -> bool:
    return path in _leaf_set()


@lru_cache(maxsize=1)
def _leaf_set() -> frozenset[str]:
    return frozenset(leaves())
