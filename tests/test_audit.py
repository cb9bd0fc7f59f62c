from __future__ import annotations

from typing import Any

from sqlmodel import Session

from postpurchase import audit
from tests.conftest import PINNED_NOW


def test_entries_are_listed_newest_first_and_page_by_cursor(session: Session, brand: Any) -> None:
    for n in range(3):
        audit.record(
            session=session,
            brand_id=brand.brand_id,
            actor="user:a@example.com",
            action="settings.update",
            subject="returns.window_days",
            before=n,
            after=n + 1,
        )
    session.commit()
    first = audit.entries(session=session, brand_id=brand.brand_id, limit=2)
    assert [e.after for e in first] == [3, 2]
    assert first[0].at == PINNED_NOW
    rest = audit.entries(session=session, brand_id=brand.brand_id, before_id=first[-1].id)
    assert [e.after for e in rest] == [1]
