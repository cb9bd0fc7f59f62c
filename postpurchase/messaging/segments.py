"""Segments and 1-to-1 rules: what a customer's profile changes in a message.

A :class:`~postpurchase.profiles.Profile` is computed from the customer's own data (orders,
returns, parcels that went wrong). Brand rules (``messaging.rules``) match profiles and choose a
template variant and content blocks.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from postpurchase.lines import order_lines
from postpurchase.profiles import Profile, build_profile, preload

__all__ = ["Profile", "Segment", "build_profile", "choose_segment", "order_lines", "preload"]


@dataclass(frozen=True)
class Segment:
    variant: str | None
    blocks: tuple[str, ...]
    rules: tuple[str, ...]


def _as_set(value: Any) -> set[Any]:
    return set(value) if isinstance(value, list | tuple | set) else {value}


def _named(value: Any, name: str | None) -> bool:
    """Whether ``name`` is one of ``value`` (a name or list of names; shell-style wildcards, so a
    micro-segment rule can say ``p2/*/in_stock``)."""
    return name is not None and any(fnmatch.fnmatchcase(name, str(p)) for p in _as_set(value))


#: The conditions a rule's ``when`` (or an experiment's audience) may name.
CONDITIONS = frozenset(
    {
        "first_order",
        "repeat",
        "min_lifetime_spend",
        "max_lifetime_spend",
        "min_orders",
        "region",
        "category",
        "channel",
        "vip_tier",
        "language",
        "past_return",
        "past_exception",
        "persona",
        "parcel",
        "stock",
        "micro_segment",
    }
)


def condition_holds(key: str, expected: Any, profile: Profile) -> bool:
    """One condition of a rule's ``when``; an unknown key never holds (a typo must not match everyone)."""
    checks = {
        "first_order": lambda: profile.first_order == bool(expected),
        "repeat": lambda: (not profile.first_order) == bool(expected),
        "min_lifetime_spend": lambda: profile.lifetime_spend >= int(expected),
        "max_lifetime_spend": lambda: profile.lifetime_spend <= int(expected),
        "min_orders": lambda: profile.order_count >= int(expected),
        "region": lambda: profile.region in _as_set(expected),
        "category": lambda: bool(profile.categories & _as_set(expected)),
        "channel": lambda: profile.channel in _as_set(expected),
        "vip_tier": lambda: profile.vip_tier in _as_set(expected),
        "language": lambda: profile.language in _as_set(expected),
        "past_return": lambda: profile.past_return == bool(expected),
        "past_exception": lambda: profile.past_exception == bool(expected),
        "persona": lambda: _named(expected, profile.persona),
        "parcel": lambda: profile.parcel in _as_set(expected),
        "stock": lambda: profile.stock in _as_set(expected),
        "micro_segment": lambda: _named(expected, profile.micro_segment),
    }
    check = checks.get(key)
    return bool(check and check())


def rule_holds(rule: dict[str, Any], profile: Profile) -> bool:
    """Whether every condition of a rule's ``when`` holds for ``profile`` (no conditions: always)."""
    return all(condition_holds(k, v, profile) for k, v in (rule.get("when") or {}).items())


def choose_segment(rules: list[dict[str, Any]], profile: Profile, trigger: str) -> Segment:
    """Apply every matching rule in order: the first variant wins, blocks add up."""
    variant: str | None = None
    blocks: list[str] = []
    names: list[str] = []
    for rule in rules:
        if rule.get("triggers") and trigger not in rule["triggers"]:
            continue
        if not rule_holds(rule, profile):
            continue
        names.append(str(rule.get("name", len(names))))
        variant = variant or rule.get("variant")
        blocks.extend(b for b in rule.get("blocks", []) if b not in blocks)
    return Segment(variant, tuple(blocks), tuple(names))
