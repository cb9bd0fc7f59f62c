"""Why a message was held, not sent, or failed: one code per meaning, said in the reader's language.

The outbox stores a :class:`Reason` twice: as ``OutboxMessage.reason`` (its code and arguments,
for the merchant's pages, which say it in the merchant's language with :func:`describe`) and as
``OutboxMessage.error`` (the same sentence in English with the arguments as stored, for the CLI,
logs and rows written before reasons had codes). Arguments that are codes of a vocabulary
(channels, purposes, parcel statuses, suppression causes) are said in words too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from flask_babel.speaklater import LazyString

from postpurchase.i18n import gettext
from postpurchase.i18n import lazy_gettext as _l
from postpurchase.messaging.catalogue import PURPOSE_LABELS
from postpurchase.web.wording import CHANNEL_LABELS, STATUS_LABELS


class Why(StrEnum):
    """A reason's code, as stored: a value never changes."""

    no_address = "no_address"
    no_consent = "no_consent"
    suppressed = "suppressed"
    backfill = "backfill"
    too_late = "too_late"
    sender_incomplete = "sender_incomplete"
    parcel_already = "parcel_already"
    prediction_changed = "prediction_changed"
    delivery_day_reached = "delivery_day_reached"
    back_on_time = "back_on_time"
    order_returning = "order_returning"
    quiet_hours = "quiet_hours"
    daily_cap = "daily_cap"
    already_answered = "already_answered"
    complained = "complained"
    open_return = "open_return"
    returned_before = "returned_before"
    no_care_content = "no_care_content"
    no_consumables = "no_consumables"
    experiment_holdout = "experiment_holdout"
    outcome_unknown = "outcome_unknown"
    no_credentials = "no_credentials"
    database_busy = "database_busy"
    render_failed = "render_failed"
    channel_error = "channel_error"
    gave_up = "gave_up"


def N_(msgid: str) -> str:  # noqa: N802 (the name Babel extracts by default)
    """Mark ``msgid`` for the catalogs; it is translated when read (:func:`describe`)."""
    return msgid


#: The sentence of each reason (a msgid). ``%(name)s`` are the reason's arguments.
SENTENCES: Mapping[Why, str] = MappingProxyType(
    {
        Why.no_address: N_("No address on any of the message's channels."),
        Why.no_consent: N_('No consent to "%(purpose)s" on %(channel)s.'),
        Why.suppressed: N_("%(channel)s is suppressed for this address: %(cause)s."),
        Why.backfill: N_(
            "The event was %(hours)s h old when it arrived, past the %(limit)s h this message "
            "is useful for (send such events with notify_late)."
        ),
        Why.too_late: N_("Not sent within %(limit)s h of being due: too late to be useful."),
        Why.sender_incomplete: N_(
            "Marketing email needs the sender's name, address and contact "
            "(Act on Specified Electronic Mail, 特定電子メール法)."
        ),
        Why.parcel_already: N_("The parcel is already at the next step: %(status)s."),
        Why.prediction_changed: N_("The predicted delivery date changed."),
        Why.delivery_day_reached: N_("The delivery day has already come."),
        Why.back_on_time: N_("The parcel is back on time."),
        Why.order_returning: N_("The customer is returning this order."),
        Why.quiet_hours: N_("Quiet hours: it goes out when they end."),
        Why.daily_cap: N_(
            "The customer's daily limit of messages is reached: it goes out tomorrow."
        ),
        Why.already_answered: N_("The customer has already answered."),
        Why.complained: N_("The customer complained (last NPS score %(score)s)."),
        Why.open_return: N_("The customer has an open return (%(rma)s)."),
        Why.returned_before: N_("The customer returned %(sku)s before."),
        Why.no_care_content: N_("No use-and-care content for these products."),
        Why.no_consumables: N_("No consumables in this order."),
        Why.experiment_holdout: N_("Held out by an experiment (variant %(variant)s)."),
        Why.outcome_unknown: N_(
            "The sender stopped after handing this message to the channel and before recording "
            "the answer; the channel has no idempotency key, so it may or may not have arrived."
        ),
        Why.no_credentials: N_("No credentials for %(channel)s are configured for this brand."),
        Why.database_busy: N_("The database was busy, so it was not handed over: %(detail)s"),
        Why.render_failed: N_("The message could not be rendered: %(detail)s"),
        Why.channel_error: N_("The channel refused it: %(detail)s"),
        Why.gave_up: N_("Gave up retrying: %(detail)s"),
    }
)

#: Why an address is suppressed (``Suppression.reason``), in words.
SUPPRESSION_CAUSES: Mapping[str, LazyString] = MappingProxyType(
    {
        "unsubscribe": _l("the customer unsubscribed"),
        "hard_bounce": _l("mail to it bounced"),
    }
)


#: How an argument that is a code is said in words; other arguments are shown as stored.
_WORDS: Mapping[str, Callable[[str], Any]] = MappingProxyType(
    {
        "channel": lambda value: CHANNEL_LABELS.get(value, value),  # type: ignore[call-overload]
        "purpose": lambda value: PURPOSE_LABELS.get(value, value),
        "status": lambda value: STATUS_LABELS.get(value, value),  # type: ignore[call-overload]
        "cause": lambda value: SUPPRESSION_CAUSES.get(value, value),
    }
)


@dataclass(frozen=True)
class Reason:
    """A code and its arguments (strings), as stored."""

    why: Why
    args: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        """The English sentence with the arguments as stored: ``OutboxMessage.error``."""
        return SENTENCES[self.why] % dict(self.args)

    def stored(self) -> dict[str, Any]:
        """``OutboxMessage.reason``."""
        return {"why": self.why.value, "args": dict(self.args)}


def because(why: Why, **args: object) -> Reason:
    """A :class:`Reason`; arguments are stored as strings (a number as it was written)."""
    return Reason(
        why,
        {
            name: f"{value:g}" if isinstance(value, float) else str(value)
            for name, value in args.items()
        },
    )


def reason_columns(reason: Reason | None) -> dict[str, Any]:
    """The outbox columns that say ``reason`` (both None: no reason)."""
    if reason is None:
        return {"error": None, "reason": None}
    return {"error": str(reason)[:2000], "reason": reason.stored()}


def describe(stored: Mapping[str, Any] | None, error: str | None) -> str:
    """What the merchant reads: the stored reason in the current language; a row without one (or
    with a code or arguments this version does not know) shows its ``error`` as written."""
    stored = stored or {}
    if stored.get("why") not in SENTENCES:
        return error or ""
    args = {
        name: str(_WORDS[name](value)) if name in _WORDS else value
        for name, value in stored.get("args", {}).items()
    }
    try:
        return gettext(SENTENCES[Why(stored["why"])]) % args
    except (KeyError, ValueError, TypeError):
        return error or ""
