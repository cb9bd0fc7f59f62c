"""Two workers' units of work at the same time on PostgreSQL (disjoint events, shared rows)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text
from sqlmodel import select

from postpurchase.db import get_db
from postpurchase.intake.operations import ensure_fulfillment_centre
from postpurchase.models import FulfillmentCentre
from tests.conftest import PG_URL


@pytest.mark.skipif(not PG_URL, reason="two units of work at once need PostgreSQL")
def test_two_units_of_work_meeting_a_new_centre_share_it(app, brand) -> None:
    """The second waits for the first one's commit on the centre's unique key, then uses that
    centre instead of failing its whole batch."""
    database = get_db(app)
    first, second = database.session(), database.session()
    outcome: dict[str, object] = {}

    def other_worker() -> None:
        try:
            outcome["id"] = ensure_fulfillment_centre(
                session=second, brand_id=brand.brand_id, code="NEW-FC"
            )
            second.commit()
        except Exception as error:  # reported by the assertion below
            outcome["error"] = error

    try:
        mine = ensure_fulfillment_centre(session=first, brand_id=brand.brand_id, code="NEW-FC")
        thread = threading.Thread(target=other_worker)
        thread.start()
        with database.engine.connect() as watcher:  # until the other insert waits for ours
            waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted"
            for _ in range(3000):
                if not thread.is_alive() or watcher.execute(text(waiting)).scalar():
                    break
                watcher.rollback()
                time.sleep(0.01)
        first.commit()
        thread.join(30)
    finally:
        first.close()
        second.close()
    assert "error" not in outcome, outcome.get("error")
    assert outcome["id"] == mine
    with database.session() as session:
        centres = session.exec(select(FulfillmentCentre).where(FulfillmentCentre.code == "NEW-FC"))
        assert len(centres.all()) == 1


def test_a_new_centre_has_the_models_defaults(app, brand) -> None:
    """Inserted as a statement, not an ORM object: the defaults must still be the model's."""
    database = get_db(app)
    with database.session() as session:
        made = ensure_fulfillment_centre(session=session, brand_id=brand.brand_id, code="FC-9")
        again = ensure_fulfillment_centre(session=session, brand_id=brand.brand_id, code="FC-9")
        session.commit()
        centre = session.get(FulfillmentCentre, made)
    assert again == made
    assert centre is not None
    assert (centre.name, centre.country, centre.timezone, centre.cutoff_time) == (
        "FC-9",
        "JP",
        "Asia/Tokyo",
        "15:00",
    )
    assert centre.handling_days == 0
