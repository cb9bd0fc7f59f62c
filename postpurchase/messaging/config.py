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

import copy
import json
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from postpurchase.messaging.catalogue import CATALOGUE, Trigger
from postpurchase.models import Brand, Channel

#: Everything a trigger may set; values a brand leaves out come from here and the trigger's
#: :data:`~postpurchase.messaging.catalogue.CATALOGUE` entry.
BASE_TRIGGER: dict[str, Any] = {
    "enabled": True,
    "delay_minutes": 0,
    "channels": ["email", "line", "sms"],
    "template": None,
    "quiet_hours": True,
    "stale_after_hours": None,
}

DEFAULTS: dict[str, Any] = {
    "quiet_hours": {"start": "21:00", "end": "08:00"},
    "daily_cap": 2,
    #: Temporary failures (channel down, rate limited) are retried with backoff for this long from
    #: the first attempt, then the message is ``failed`` (``postpurchase messages retry`` resends).
    "retry_max_hours": 24,
    #: An optional cap on attempts as well; None: only the hours above count.
    "max_attempts": None,
    "sender": {},
    "rules": [],
    "blocks": {},
    "care": {"sku": {}, "category": {}},
    "catalog": [],
    "consumables": {"sku": {}, "category": {}},
    "pickup_hold_days": 7,
    #: Outgoing webhook endpoint for the ``webhook`` channel.
    "webhook_url": None,
    #: LINE notification messages (template): ``templateKey`` per trigger; empty = not contracted.
    "line_notification_templates": {},
}


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
    """The brand's merged settings and its trigger settings parsed so far.

    Cached by the content of the brand's own settings, not by the dict's identity: equal settings
    share one merge (one per brand instead of one per message), and a changed dict is a new key.
    """
    return _merge(json.dumps((brand.settings or {}).get("messaging", {}), sort_keys=True))


@lru_cache(maxsize=256)
def _merge(own_json: str) -> tuple[dict[str, Any], dict[str, TriggerSettings]]:
    own = json.loads(own_json)
    merged = copy.deepcopy(DEFAULTS)
    for key, value in own.items():
        if key == "triggers":
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    merged["triggers"] = own.get("triggers", {})
    return merged, {}


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
