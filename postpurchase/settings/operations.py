"""Reading, changing and undoing a brand's settings; every door (console, API, CLI) calls these.

Each changed leaf (``returns.window_days``) is one audit entry with its value before and after, so
the history names what changed and an undo puts back exactly that value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from postpurchase import audit
from postpurchase.models import AuditEntry, Brand
from postpurchase.settings.model import (
    BrandSettings,
    SettingsInvalid,
    get_path,
    is_leaf,
    leaves,
    settings_for,
    stored,
    validate,
    with_path,
)

#: The audit action of a settings change.
UPDATE = "settings.update"
#: The audit action of an undone change (its ``subject`` is the path, as for an update).
UNDO = "settings.undo"


#: Changes on one page of the history.
HISTORY_PAGE = 50


class EntryNotFound(LookupError):
    """No settings change with that id for that brand (another brand's entry is unknown too)."""


def document(brand: Brand) -> dict[str, Any]:
    """The brand's whole settings document, defaults filled in (what ``export`` and GET show)."""
    return settings_for(brand).model_dump(mode="json")


def merged(current: dict[str, Any], patch: Any, prefix: str = "") -> Any:
    """``patch`` over ``current``: parts are merged key by key, a leaf (even a list or a
    mapping such as ``returns.reasons``) is replaced whole. Not a mapping: returned as is, for
    validation to name."""
    if not isinstance(patch, dict):
        return patch
    result = dict(current)
    for key, value in patch.items():
        path = f"{prefix}{key}"
        inner = current.get(key)
        if isinstance(value, dict) and isinstance(inner, dict) and not is_leaf(path):
            result[key] = merged(inner, value, path + ".")
        else:
            result[key] = value
    return result


def update(
    *,
    session: Session,
    brand: Brand,
    patch: dict[str, Any],
    actor: str,
    action: str = UPDATE,
) -> list[AuditEntry]:
    """Apply a partial (or whole) document; raises :class:`SettingsInvalid` and changes nothing
    when any value is wrong. Returns one audit entry per changed leaf (none: nothing changed)."""
    before = document(brand)
    after = validate(merged(before, patch))
    return _store(
        session=session, brand=brand, before=before, after=after, actor=actor, action=action
    )


def replace(*, session: Session, brand: Brand, new: dict[str, Any], actor: str) -> list[AuditEntry]:
    """Make ``new`` the whole settings (what it leaves out returns to the default); an import."""
    return _store(
        session=session,
        brand=brand,
        before=document(brand),
        after=validate(new),
        actor=actor,
        action=UPDATE,
    )


def set_value(
    *, session: Session, brand: Brand, path: str, value: Any, actor: str
) -> list[AuditEntry]:
    """Set one leaf, e.g. ``returns.window_days`` to 45."""
    if not is_leaf(path):
        raise SettingsInvalid([{"loc": path, "msg": "No such setting."}])
    return update(session=session, brand=brand, patch=with_path({}, path, value), actor=actor)


def undo(*, session: Session, brand: Brand, audit_entry_id: int, actor: str) -> list[AuditEntry]:
    """Put back the value a settings change replaced (itself recorded as a change, so an undo
    can be undone). Raises :class:`EntryNotFound`, or :class:`SettingsInvalid` if the old value
    is no longer valid."""
    entry = session.get(AuditEntry, audit_entry_id)
    if (
        entry is None
        or entry.brand_id != brand.id
        or entry.action not in (UPDATE, UNDO)
        or not is_leaf(entry.subject)
    ):
        raise EntryNotFound(audit_entry_id)
    return update(
        session=session,
        brand=brand,
        patch=with_path({}, entry.subject, entry.before),
        actor=actor,
        action=UNDO,
    )


def history(
    *, session: Session, brand_id: int, before_id: int | None = None
) -> Sequence[AuditEntry]:
    """The brand's settings changes (templates too), newest first; ``before_id`` continues a page."""
    query = select(AuditEntry).where(
        AuditEntry.brand_id == brand_id, col(AuditEntry.action).startswith("settings.")
    )
    if before_id is not None:
        query = query.where(col(AuditEntry.id) < before_id)
    return session.exec(query.order_by(col(AuditEntry.id).desc()).limit(HISTORY_PAGE)).all()


def _store(
    *,
    session: Session,
    brand: Brand,
    before: dict[str, Any],
    after: BrandSettings,
    actor: str,
    action: str,
) -> list[AuditEntry]:
    new = after.model_dump(mode="json")
    changes = [
        (path, get_path(before, path), get_path(new, path))
        for path in leaves()
        if _canonical(get_path(before, path)) != _canonical(get_path(new, path))
    ]
    if not changes:
        return []
    brand.settings = stored(after)
    session.add(brand)
    return [
        audit.record(
            session=session,
            brand_id=brand.id,
            actor=actor,
            action=action,
            subject=path,
            before=old,
            after=value,
        )
        for path, old, value in changes
    ]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
