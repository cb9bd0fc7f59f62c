"""Changing settings: validated, stored as the difference from the defaults, recorded, undone."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlmodel import Session, col, select

from postpurchase.brands import NewBrand
from postpurchase.models import AuditEntry, Brand
from postpurchase.returns.policy import policy_for
from postpurchase.settings import operations
from postpurchase.settings.model import SettingsInvalid, settings_for


def _brand(session: Session, brand: NewBrand) -> Brand:
    found = session.get(Brand, brand.brand_id)
    assert found is not None
    return found


def test_a_change_stores_only_what_differs_from_the_defaults(
    session: Session, brand: NewBrand
) -> None:
    acme = _brand(session, brand)
    operations.update(
        session=session, brand=acme, patch={"returns": {"window_days": 45}}, actor="cli"
    )
    assert acme.settings == {"returns": {"window_days": 45}}
    assert policy_for(acme).window_days == 45


def test_each_changed_value_is_one_audit_entry_with_before_and_after(
    session: Session, brand: NewBrand
) -> None:
    acme = _brand(session, brand)
    entries = operations.update(
        session=session,
        brand=acme,
        patch={"returns": {"window_days": 45, "auto_approve": True}, "insights": {"weekly_to": []}},
        actor="user:ops@acme.example",
    )
    assert [(e.subject, e.before, e.after, e.actor) for e in entries] == [
        ("returns.window_days", 30, 45, "user:ops@acme.example")
    ]


def test_an_invalid_value_changes_nothing_and_names_the_field(
    session: Session, brand: NewBrand
) -> None:
    acme = _brand(session, brand)
    with pytest.raises(SettingsInvalid) as raised:
        operations.update(
            session=session,
            brand=acme,
            patch={"returns": {"window_days": 45, "categories": [{"returnable": False}]}},
            actor="cli",
        )
    assert [e["loc"] for e in raised.value.errors] == ["returns.categories[0].category"]
    assert acme.settings == {}
    assert session.exec(select(AuditEntry)).all() == []


def test_undo_puts_back_the_value_the_change_replaced(session: Session, brand: NewBrand) -> None:
    acme = _brand(session, brand)
    operations.update(
        session=session, brand=acme, patch={"returns": {"window_days": 45}}, actor="a"
    )
    (change,) = operations.update(
        session=session, brand=acme, patch={"returns": {"window_days": 60}}, actor="a"
    )
    (undone,) = operations.undo(session=session, brand=acme, audit_entry_id=change.id, actor="b")  # type: ignore[arg-type]
    assert settings_for(acme).returns.window_days == 45
    assert (undone.action, undone.before, undone.after) == (operations.UNDO, 60, 45)


def test_another_brands_change_cannot_be_undone(
    session: Session, make_brand: Any, brand: NewBrand
) -> None:
    other = session.get(Brand, make_brand("other").brand_id)
    (change,) = operations.update(
        session=session, brand=other, patch={"returns": {"window_days": 9}}, actor="a"
    )
    with pytest.raises(operations.EntryNotFound):
        operations.undo(
            session=session,
            brand=_brand(session, brand),
            audit_entry_id=change.id,
            actor="b",  # type: ignore[arg-type]
        )


def test_a_patch_replaces_a_mapping_setting_whole(session: Session, brand: NewBrand) -> None:
    acme = _brand(session, brand)
    reasons = {"fit": {"ja": "合わない", "en": "Did not fit"}}
    operations.update(
        session=session, brand=acme, patch={"returns": {"reasons": reasons}}, actor="a"
    )
    assert settings_for(acme).returns.reasons == reasons


def test_stored_values_written_before_validation_are_read_without_the_bad_ones(
    session: Session, brand: NewBrand
) -> None:
    acme = _brand(session, brand)
    acme.settings = {"returns": {"window_days": "soon", "auto_approve": False}, "typo": 1}
    assert settings_for(acme).returns.window_days == 30
    assert settings_for(acme).returns.auto_approve is False


def test_nul_in_any_string_is_refused(session: Session, brand: NewBrand) -> None:
    with pytest.raises(SettingsInvalid) as raised:
        operations.update(
            session=session,
            brand=_brand(session, brand),
            patch={"returns": {"address": ["Tokyo", "x\x00"]}},
            actor="a",
        )
    assert raised.value.errors[0]["loc"] == "returns.address[1]"


def test_history_lists_only_settings_changes_newest_first(
    session: Session, brand: NewBrand
) -> None:
    acme = _brand(session, brand)
    operations.update(
        session=session, brand=acme, patch={"returns": {"window_days": 45}}, actor="a"
    )
    operations.update(
        session=session, brand=acme, patch={"insights": {"weekly_to": ["a@b.example"]}}, actor="a"
    )
    session.add(AuditEntry(brand_id=acme.id, actor="a", action="user.invite", at=acme.created_at))  # type: ignore[call-arg]
    session.flush()
    rows = operations.history(session=session, brand_id=acme.id)  # type: ignore[arg-type]
    assert [r.subject for r in rows] == ["insights.weekly_to", "returns.window_days"]
    assert json.dumps([r.after for r in rows]) == '[["a@b.example"], 45]'
    assert session.exec(select(AuditEntry).where(col(AuditEntry.action) == "user.invite")).one()
