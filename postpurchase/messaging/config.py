"""Per-brand messaging settings (``Brand.settings["messaging"]``) merged over documented defaults.

A brand only writes what it changes, e.g.::

    {"messaging": {
        "triggers": {"unboxing": {"delay_hours": 6, "channels": ["line", "email"]},
                     "review_request": {"enabled": false}},
        "quiet_hours": {"start": "22:00", "end": "07:30"},
        "daily_cap": 3,
        "sender": {"name": "Acme", "email": "hello@acme.example", "address": "東京都…", "contact": "03-…"},
        "rules": [{"name": "vip", "when": {"vip_tier": ["gold"]}, "variant": "vip", "blocks": ["vip_thanks"]}],
        "blocks": {"vip_thanks": {"ja": "いつもありがとうございます。", "en": "Thank you for being a regular."}},
        "care": {"sku": {"KETTLE-1": {...}}, "category": {"coffee": {...}}},
        "catalog": [{"sku": "FILTER-1", "name": "…", "accessory_for": ["KETTLE-1"], "categories": ["coffee"]}],
        "consumables": {"sku": {"BEANS-200": 14}, "category": {"coffee": 20}},
    }}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from pydantic import BaseModel

from postpurchase.messaging.catalogue import CATALOGUE, Trigger
from postpurchase.models import Brand, Channel
from postpurchase.settings.model import TRIGGER_BASE, MessagingPart, settings_for

#: Everything a trigger may set; values a brand leaves out come from here and the trigger's
#: :data:`~postpurchase.messaging.catalogue.CATALOGUE` entry (the typed model and its defaults:
#: :mod:`postpurchase.settings.model`).
BASE_TRIGGER: dict[str, Any] = TRIGGER_BASE


@dataclass(frozen=True)
class TriggerSettings:
    name: Trigger
    enabled: bool
    delay_minutes: int
    channels: tuple[Channel, ...]
    template: str
    #: A :class:`~postpurchase.messaging.catalogue.Purpose` value unless a brand wrote another.
    purpose: str
    essential: bool
    quiet_hours: bool
    #: Too late to send this long after the message was due (None: never).
    stale_after: timedelta | None
    options: dict[str, Any]


def _merged(brand: Brand) -> tuple[dict[str, Any], dict[str, TriggerSettings]]:
    """The brand's messaging settings as a mapping and its trigger settings parsed so far.

    Cached by content, not by identity: brands with equal settings share one mapping (one per
    brand instead of one per message), and a changed setting is a new key.
    """
    part = settings_for(brand).messaging  # one object per distinct settings document
    cached = _MERGED.get(id(part))
    if cached is None or cached[0] is not part:
        if len(_MERGED) > 512:
            _MERGED.clear()
        merged = part.model_dump(mode="json")
        merged["sender"] = part.sender.model_dump(mode="json", exclude_none=True)
        # Triggers is built at import time by create_model, so mypy cannot see it is a model.
        triggers = cast("BaseModel", part.triggers)
        merged["triggers"] = triggers.model_dump(mode="json", exclude_none=True)
        cached = _MERGED[id(part)] = (part, merged, {})
    return cached[1], cached[2]


#: id of a parsed part → (the part, kept alive so its id is not reused; mapping; triggers).
_MERGED: dict[int, tuple[MessagingPart, dict[str, Any], dict[str, TriggerSettings]]] = {}


def brand_settings(brand: Brand) -> dict[str, Any]:
    """The brand's messaging settings with defaults filled in (shared between callers: read only)."""
    return _merged(brand)[0]


def trigger_settings(brand: Brand, trigger: Trigger | str) -> TriggerSettings:
    """A customer message trigger's settings for ``brand`` (``trigger`` may be a stored value)."""
    if trigger not in CATALOGUE:
        raise KeyError(f"unknown trigger {trigger!r}")
    merged, triggers = _merged(brand)
    if trigger not in triggers:
        triggers[trigger] = _trigger_settings(merged, trigger)
    return triggers[trigger]


def _trigger_settings(merged: dict[str, Any], trigger: Trigger | str) -> TriggerSettings:
    trigger = Trigger(trigger)
    values = {
        **BASE_TRIGGER,
        **CATALOGUE[trigger].defaults(),
        **merged["triggers"].get(trigger, {}),
    }
    known = set(BASE_TRIGGER) | {"purpose", "essential"}
    stale_hours = values["stale_after_hours"]
    return TriggerSettings(
        name=trigger,
        enabled=bool(values["enabled"]),
        delay_minutes=int(values["delay_minutes"]),
        channels=tuple(Channel(c) for c in values["channels"]),
        template=str(values["template"] or trigger),
        purpose=str(values["purpose"]),
        essential=bool(values["essential"]),
        quiet_hours=bool(values["quiet_hours"]),
        stale_after=timedelta(hours=float(stale_hours)) if stale_hours is not None else None,
        options={k: v for k, v in values.items() if k not in known},
    )
