"""Statuses, options and reason codes: enums, never free strings.

Stored as their string values (``native_enum=False``) so adding a member needs no type migration.
"""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    open = "open"
    cancelled = "cancelled"
    closed = "closed"


class DutiesTerms(StrEnum):
    """Who pays a cross-border parcel's import duties and taxes (Incoterms)."""

    ddp = "ddp"  # delivered duty paid: the shop paid them, the customer owes nothing
    ddu = "ddu"  # delivered duty unpaid: the carrier collects them from the customer


class TimeSlot(StrEnum):
    """Japanese delivery time-slot requests (時間帯指定)."""

    morning = "morning"  # 午前中
    h14_16 = "14-16"
    h16_18 = "16-18"
    h18_20 = "18-20"
    h19_21 = "19-21"


class DeliveryOption(StrEnum):
    door = "door"
    leave_at_door = "leave_at_door"  # 置き配
    convenience_store = "convenience_store"  # コンビニ受取
    depot_pickup = "depot_pickup"  # 営業所受取
    locker = "locker"


class InboxState(StrEnum):
    pending = "pending"
    processed = "processed"
    deferred = "deferred"  # waiting for an event it depends on (out-of-order arrival)
    failed = "failed"  # processing raised; kept for retry
    rejected = "rejected"  # signature failed; never processed
    ignored = "ignored"  # authentic but nothing to do (e.g. unsupported topic)


class RejectionReason(StrEnum):
    """Why a webhook was refused before anything of it was stored."""

    missing_credentials = "missing_credentials"  # no API key
    invalid_credentials = "invalid_credentials"  # unknown or revoked API key
    missing_signature = "missing_signature"
    malformed_signature = "malformed_signature"
    expired_signature = "expired_signature"
    invalid_signature = "invalid_signature"


class OutboxState(StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    held = "held"  # quiet hours or frequency cap; sent later
    failed = "failed"  # permanent failure on this channel
    suppressed = "suppressed"  # no consent, unsubscribed, bounced, useless
    unknown = "unknown"  # handed to a channel without idempotency; the answer was never recorded
    stale = "stale"  # too late to be useful (the trigger's staleness cap passed); never sent


class Channel(StrEnum):
    email = "email"
    sms = "sms"
    line = "line"
    line_notification = "line_notification"
    webhook = "webhook"


class ReturnState(StrEnum):
    requested = "requested"
    approved = "approved"
    label_issued = "label_issued"
    in_transit = "in_transit"
    received = "received"
    refunded = "refunded"
    exchanged = "exchanged"
    credited = "credited"
    rejected = "rejected"
    cancelled = "cancelled"


class ReturnResolution(StrEnum):
    refund = "refund"
    store_credit = "store_credit"
    exchange = "exchange"


class ExchangeDifference(StrEnum):
    """What a customer gets when the items sent in exchange cost less than those returned."""

    credit = "credit"  # store credit, with the brand's bonus
    refund = "refund"  # back to the original payment


class ConditionGrade(StrEnum):
    """How a returned item came back, as the warehouse or the merchant graded it on inspection."""

    #: New, resellable as is.
    A = "A"
    #: Opened or tried on; resellable after checking.
    B = "B"
    #: Damaged.
    C = "C"
    #: Unsellable.
    D = "D"


class RestockAction(StrEnum):
    """What happens to a returned line after inspection: back into stock at a centre, or written off."""

    restock = "restock"
    write_off = "write_off"


class LabelPayment(StrEnum):
    """Who pays the return parcel: the brand on delivery (着払い) or the customer at hand-over (元払い)."""

    cash_on_delivery = "chakubarai"
    prepaid = "motobarai"


class ReturnMethod(StrEnum):
    """How the customer hands a return parcel over."""

    convenience_store = "convenience_store"  # コンビニ持ち込み
    carrier_office = "carrier_office"  # 営業所持ち込み
    pickup = "pickup"  # 集荷依頼
    post_office = "post_office"  # ゆうパック (郵便局)
    printed_label = "printed_label"  # our own 着払い/元払い label, handed over anywhere
    carrier_label = "carrier_label"  # a label bought through a carrier API (international)


#: The methods that hand the parcel over at a drop-off point from the brand's table.
DROPOFF_METHODS = frozenset({ReturnMethod.convenience_store, ReturnMethod.carrier_office})


class ReportPeriod(StrEnum):
    """How much time one scheduled insights report covers."""

    week = "week"
    month = "month"


class Role(StrEnum):
    """What a merchant user may do in a brand: owners also manage people; read-only users only look."""

    owner = "owner"
    staff = "staff"
    read_only = "read_only"


class LinkPurpose(StrEnum):
    """What a one-time link emailed to a person does."""

    invitation = "invitation"  # join a brand with a role, choosing a password
    password_reset = "password_reset"  # noqa: S105 (a purpose, not a password)


class Trigger(StrEnum):
    """What a message is for: ``OutboxMessage.trigger`` stores the value, and a brand's settings key
    its trigger settings by it (what each trigger is: ``postpurchase.messaging.catalogue``)."""

    order_confirmed = "order_confirmed"
    shipped = "shipped"
    delayed = "delayed"
    arriving_tomorrow = "arriving_tomorrow"
    out_for_delivery = "out_for_delivery"
    attempt_fail = "attempt_fail"
    available_for_pickup = "available_for_pickup"
    delivered = "delivered"
    unboxing = "unboxing"
    review_request = "review_request"
    replenishment = "replenishment"
    return_update = "return_update"
    #: Not a message to a customer: the RMA document posted to the brand's WMS (``returns.wms``).
    wms_return = "wms_return"
    #: Cross-border parcels: customs holds the parcel; the carrier asks for import duties; and,
    #: before arrival of a DDU order, that duties will be collected.
    customs_hold = "customs_hold"
    duties_due = "duties_due"
    duties_notice = "duties_notice"
    #: Not a message to a customer: what to put in an order's box, posted to the brand's WMS
    #: (``postpurchase.kitting``).
    kitting = "kitting_instructions"


class ExecutionKind(StrEnum):
    """Money a received return pays out through the platform."""

    refund = "refund"  # back to the original payment
    store_credit = "store_credit"  # a gift card
    charge = "charge"  # what the customer pays for an exchange that costs more


class ExecutionState(StrEnum):
    pending = "pending"
    #: Claimed and handed to the platform; the answer may never have come back.
    sending = "sending"
    done = "done"
    #: Refused for good (say, the platform has no such order): the merchant settles it by hand.
    failed = "failed"


class ReservationState(StrEnum):
    """Units held for an exchange: held until shipped to the customer, released or expired."""

    held = "held"
    shipped = "shipped"  # the outbound order went to the WMS, which takes the units from stock
    released = "released"  # the RMA was rejected or cancelled
    expired = "expired"  # the RMA stayed open past the hold
