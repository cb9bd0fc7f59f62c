"""Triggers: the one list of what the outbox sends, and what each trigger is.

A trigger's value is what ``OutboxMessage.trigger`` stores and what a brand writes under
``Brand.settings["messaging"]["triggers"]``, so a value never changes. Code names a trigger through
:class:`Trigger`; its purpose, defaults, label and freshness live in :data:`CATALOGUE`, and
:mod:`postpurchase.messaging.config` merges a brand's settings over them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from flask_babel.speaklater import LazyString

from postpurchase.i18n import lazy_gettext as _l
from postpurchase.models import Channel

# The enum lives with the other stored vocabularies so that settings can be typed by it below messaging.
from postpurchase.models.enums import Trigger as Trigger


class Purpose(StrEnum):
    """What consent and suppression a message needs: marketing is opt-in, transactional opt-out."""

    transactional = "transactional"
    marketing = "marketing"


#: A purpose in words, as a customer's consent answers are shown to the merchant.
PURPOSE_LABELS: Mapping[str, LazyString] = MappingProxyType(
    {
        Purpose.transactional: _l("Delivery and service messages"),
        Purpose.marketing: _l("Offers and review requests"),
    }
)


@dataclass(frozen=True)
class TriggerSpec:
    """What a customer message trigger is, before a brand's settings change any of it."""

    purpose: Purpose
    #: Needed to receive the parcel or the money: never held by the daily frequency cap
    #: (see README "Messages").
    essential: bool
    #: What merchants read on the message pages.
    label: LazyString
    #: Freshness: how long after the event behind it (the order, the scan; for timers, when the
    #: message was due) the message still helps. An older event (a backfill, a replay) writes it
    #: ``stale``, and a message that could not be sent by then (channel down, held) becomes
    #: ``stale`` instead of arriving late.
    stale_after_hours: float | None
    #: Channels in order of preference; None: the brand-wide default order.
    channels: tuple[Channel, ...] | None = None
    #: Trigger-specific settings with their defaults (timers read them: ``send_at``, ``delay_hours``…).
    options: Mapping[str, Any] = field(default_factory=dict)

    def defaults(self) -> dict[str, Any]:
        """The spec as brand settings, for a brand's own values to be merged over."""
        values: dict[str, Any] = {
            "purpose": self.purpose,
            "essential": self.essential,
            "stale_after_hours": self.stale_after_hours,
            **self.options,
        }
        if self.channels is not None:
            values["channels"] = [str(channel) for channel in self.channels]
        return values


_URGENT = (Channel.line, Channel.line_notification, Channel.email, Channel.sms)
_T, _M = Purpose.transactional, Purpose.marketing

#: Every trigger a customer message comes from, in the order the message pages list them
#: (purpose, essential, label, stale after hours[, channels, options]).
CATALOGUE: Mapping[Trigger, TriggerSpec] = MappingProxyType(
    {
        Trigger.order_confirmed: TriggerSpec(_T, True, _l("Order confirmed"), 24),
        Trigger.shipped: TriggerSpec(_T, True, _l("Shipped"), 48),
        Trigger.delayed: TriggerSpec(_T, True, _l("Delayed"), 24),
        Trigger.arriving_tomorrow: TriggerSpec(
            _T, True, _l("Arriving tomorrow"), 12, _URGENT, {"send_at": "17:00"}
        ),
        Trigger.out_for_delivery: TriggerSpec(_T, True, _l("Out for delivery"), 4, _URGENT),
        Trigger.attempt_fail: TriggerSpec(
            _T,
            True,
            _l("Delivery attempted"),
            24,
            (Channel.line, Channel.line_notification, Channel.sms, Channel.email),
        ),
        Trigger.available_for_pickup: TriggerSpec(_T, True, _l("Ready for pickup"), 72),
        Trigger.delivered: TriggerSpec(_T, False, _l("Delivered"), 72),
        Trigger.unboxing: TriggerSpec(
            _T, False, _l("Unboxing and care"), 72, options={"delay_hours": 24}
        ),
        Trigger.review_request: TriggerSpec(
            _M, False, _l("Review request"), 168, options={"delay_days": 7}
        ),
        Trigger.replenishment: TriggerSpec(
            _M, False, _l("Time to reorder"), 120, options={"lead_days": 5}
        ),
        Trigger.return_update: TriggerSpec(_T, True, _l("Return update"), 72),
        Trigger.customs_hold: TriggerSpec(_T, True, _l("Held at customs"), 48),
        Trigger.duties_due: TriggerSpec(_T, True, _l("Import duties to pay"), 72, _URGENT),
        Trigger.duties_notice: TriggerSpec(_T, True, _l("Duties collected on arrival"), 72),
    }
)

#: Outbox rows that are documents for a machine, not messages to a person: no brand settings,
#: template, consent, quiet hours or cap (see ``triggers.enqueue_document``).
SYSTEM_TRIGGERS = frozenset({Trigger.wms_return, Trigger.kitting})
