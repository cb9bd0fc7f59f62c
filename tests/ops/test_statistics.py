"""SQLite's planner statistics, gathered as the file grows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import insert
from sqlmodel import Session

from postpurchase.db import get_db
from postpurchase.inbox import receive
from postpurchase.lookup import find_order
from postpurchase.models import Order
from postpurchase.ops import statistics
from tests.conftest import PG_URL, PINNED_NOW
from tests.sql import Statement, query_plan, recorded

pytestmark = pytest.mark.skipif(bool(PG_URL), reason="PostgreSQL's autovacuum analyzes tables")


@pytest.fixture(autouse=True)
def _no_statistics_gathered_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statistics, "_last", {})


def _orders(app: Flask, brand_id: int, count: int, start: int = 0) -> None:
    with app.app_context(), get_db(app).engine.begin() as connection:
        connection.execute(
            insert(Order),
            [
                {
                    "brand_id": brand_id,
                    "external_id": f"SO-{i:06d}",
                    "number": f"#{i}",
                    "placed_at": PINNED_NOW,
                    "email": f"c{i}@example.jp",
                    "total_amount": 5940,
                    "attributes": {},
                    "created_at": PINNED_NOW,
                    "updated_at": PINNED_NOW,
                }
                for i in range(start, start + count)
            ],
        )


def test_once_gathered_an_order_number_is_looked_up_by_number_not_by_walking_the_brand(
    app: Flask, brand, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without statistics SQLite walked every order of the brand for the tracking page's lookup
    (10 ms per lookup at 32,000 orders). A connection opened before the job ran sees the
    statistics at its next read."""
    monkeypatch.setattr(statistics, "FIRST_PAGES", 1)
    _orders(app, brand.brand_id, 2_000)
    engine = get_db(app).engine
    with app.app_context(), engine.connect() as held:
        with recorded(engine, starting="SELECT", containing='FROM "order"') as seen:
            found = find_order(
                session=Session(bind=held),
                brand_id=brand.brand_id,
                number="#1234",
                email_or_postal="c1234@example.jp",
            )
        assert found is not None and found.external_id == "SO-001234"
        before = query_plan(held, seen[0])
        held.rollback()

        assert statistics.refresh_sqlite_statistics(app, now=PINNED_NOW)  # on another connection

        held.exec_driver_sql("SELECT id FROM brand LIMIT 1").all()
        # A statement of its own: the driver keeps prepared statements, and a prepared query is
        # prepared again when the schema version changed, but an EXPLAIN never checks it.
        after = query_plan(held, Statement(seen[0].sql + " ", seen[0].parameters))
    assert "ix_order_brand" in before, before
    assert "ix_order_number" in after, after


def test_gathered_again_when_the_file_doubled_or_a_day_passed(
    app: Flask, brand, monkeypatch: pytest.MonkeyPatch
) -> None:
    def gathered(now=PINNED_NOW) -> bool:  # type: ignore[no-untyped-def]
        return statistics.refresh_sqlite_statistics(app, now=now)

    def pages() -> int:
        with app.app_context(), get_db(app).engine.connect() as connection:
            return int(connection.exec_driver_sql("PRAGMA page_count").scalar_one())

    monkeypatch.setattr(statistics, "FIRST_PAGES", pages() + 1)
    assert not gathered()  # a small file: every plan is cheap
    monkeypatch.setattr(statistics, "FIRST_PAGES", pages())
    assert gathered()
    assert not gathered()
    assert not gathered(PINNED_NOW + timedelta(hours=23))
    assert gathered(PINNED_NOW + timedelta(days=1))
    with app.app_context(), get_db(app).session() as session:
        for index in range(pages()):  # about a page of body each: the file doubles
            receive(
                session=session,
                brand_id=brand.brand_id,
                source="wms",
                external_id=f"evt-{index}",
                raw_body=f'{{"type": "order.created", "n": {index}, "pad": "{"x" * 4096}"}}'.encode(),
                event_type="order.created",
                now=PINNED_NOW,
            )
        session.commit()
    assert gathered(PINNED_NOW + timedelta(days=1, minutes=1))
