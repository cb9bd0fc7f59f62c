"""The console's pages and queries: dashboard, search, parcel detail, exception queue, pagination."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from sqlmodel import select

from postpurchase.console import queries
from postpurchase.console.problems import Problem
from postpurchase.db import get_db
from postpurchase.messaging.catalogue import Trigger
from postpurchase.models import (
    AuditEntry,
    Brand,
    Channel,
    DeliveryPrediction,
    ExceptionCase,
    InternalNote,
    OutboxMessage,
    OutboxState,
    Shipment,
)
from tests.conftest import PINNED_NOW
from tests.console.conftest import TODAY, Merchant, Shop
from tests.sql import query_plan, recorded


def _found(merchant: Merchant, **query: str) -> set[str]:
    html = merchant.client.get("/merchant/shipments", query_string=query).get_data(as_text=True)
    return set(re.findall(r">(4000-[A-Z]+)</a>", html))


def test_search_finds_a_parcel_by_its_tracking_number_with_or_without_hyphens(
    merchant: Merchant,
) -> None:
    assert _found(merchant, q="4000-LATE") == {"4000-LATE"}
    assert _found(merchant, q="4000LATE") == {"4000-LATE"}


def test_search_finds_every_parcel_of_an_order_by_its_number_with_or_without_the_hash(
    merchant: Merchant,
) -> None:
    assert len(_found(merchant, q="1001")) == 6
    assert len(_found(merchant, q="#1001")) == 6


def test_search_finds_parcels_by_customer_email_in_any_case_and_by_phone_without_hyphens(
    merchant: Merchant,
) -> None:
    assert len(_found(merchant, q="hanako@example.jp")) == 6
    assert len(_found(merchant, q="09012345678")) == 6
    assert _found(merchant, q="someone@else.jp") == set()


def test_search_filters_by_status_and_by_a_scan_in_the_dates(merchant: Merchant) -> None:
    assert _found(merchant, status="attempt_fail") == {"4000-FAILED"}
    day = TODAY.isoformat()
    assert _found(merchant, scan="exception", **{"from": day, "to": day}) == {"4000-EXCEPTION"}


def test_search_pages_by_cursor_without_repeating_or_skipping(app: Flask, shop: Shop) -> None:
    with app.app_context():
        s = get_db(app).session()
        brand = s.get(Brand, shop.brand.brand_id)
        seen: list[str] = []
        cursor = None
        while True:
            page = queries.search_shipments(
                session=s, brand=brand, filters=queries.SearchFilters(), cursor=cursor, limit=4
            )
            seen += [row.shipment.tracking_number for row in page.rows]
            cursor = page.next_cursor
            if cursor is None:
                break
        s.close()
    assert len(seen) == len(set(seen)) == 6


def test_the_newest_parcels_page_reads_an_index_instead_of_sorting_every_parcel(
    app: Flask, shop: Shop
) -> None:
    """Each page of the merchant's list, on either database, walks the brand's parcels in list
    order and stops at the page's end; sorting them all grew with the brand (32 ms per page at
    18,000 parcels on SQLite)."""
    with app.app_context():
        s = get_db(app).session()
        brand = s.get(Brand, shop.brand.brand_id)
        engine = s.get_bind()
        first = queries.search_shipments(
            session=s, brand=brand, filters=queries.SearchFilters(), limit=2
        )
        with recorded(engine, starting="SELECT", containing="FROM shipment") as seen:
            queries.search_shipments(
                session=s,
                brand=brand,
                filters=queries.SearchFilters(),
                cursor=first.next_cursor,
                limit=2,
            )
        listing = next(
            statement for statement in seen if "ORDER BY shipment.created_at" in statement.sql
        )
        if engine.dialect.name == "postgresql":
            # Six rows are cheapest read whole and sorted, whatever the indexes: with sorting and
            # whole-table reads priced out, the plan uses an index that gives the order if any.
            for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
                s.connection().exec_driver_sql(f"SET LOCAL {setting} = off")
        plan = query_plan(s.connection(), listing)
        s.close()
    assert "ix_shipment_brand_created" in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


def test_the_carriers_of_a_brand_are_found_one_index_probe_each(
    app: Flask, shop: Shop, make_brand
) -> None:
    """Not by reading every parcel of the brand (20 ms at 56,000 parcels); another brand's
    carriers are not its own."""
    other = make_brand("other", name="Other")
    with app.app_context():
        s = get_db(app).session()
        for brand_id, code, name in [
            (shop.brand.brand_id, "sagawa", "x1"),
            (shop.brand.brand_id, "sagawa", "x2"),
            (other.brand_id, "dhl", "y1"),
        ]:
            s.add(Shipment(brand_id=brand_id, external_id=name, carrier_code=code))
        s.commit()
        with recorded(s.get_bind(), starting="SELECT", containing="FROM shipment") as seen:
            found = queries.carriers_in_use(session=s, brand_id=shop.brand.brand_id)
        plans = [query_plan(s.connection(), statement) for statement in seen]
        s.close()
    assert found == ["sagawa", "yamato"]
    assert len(seen) == 3
    if get_db(app).is_sqlite:
        assert all("COVERING INDEX ix_shipment_brand_carrier" in plan for plan in plans), plans


def test_a_forged_cursor_is_a_400_naming_the_field(merchant: Merchant) -> None:
    response = merchant.client.get("/merchant/shipments?cursor=bm90LWEtY3Vyc29y")
    assert response.status_code == 400 and b"cursor" in response.data


def test_the_message_log_pages_past_its_first_rows(
    app: Flask, shop: Shop, merchant: Merchant
) -> None:
    with app.app_context():
        s = get_db(app).session()
        for number in range(60):
            s.add(
                OutboxMessage(
                    brand_id=shop.brand.brand_id,
                    idempotency_key=f"k{number}",
                    trigger=Trigger.shipped,
                    channel=Channel.email,
                    state=OutboxState.sent,
                    recipient=f"r{number}@example.jp",
                    subject=f"message {number}",
                    created_at=PINNED_NOW - timedelta(minutes=number),
                )
            )
        s.commit()
        s.close()
    first = merchant.client.get("/merchant/messages/").get_data(as_text=True)
    next_link = re.search(r'rel="next" href="\?([^"]+)"', first).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    second = merchant.client.get("/merchant/messages/?" + next_link).get_data(as_text=True)
    shown = re.findall(r"r(\d+)@example\.jp", first + second)
    assert sorted(map(int, shown)) == list(range(60))


def test_the_dashboard_counts_the_period_and_links_each_figure_to_its_list(
    merchant: Merchant,
) -> None:
    html = merchant.client.get("/merchant/?period=7").get_data(as_text=True)
    assert 'href="/merchant/exceptions?problem=late"' in html
    assert "/merchant/shipments?scan=attempt_fail" in html
    assert "/merchant/messages/?state=failed" in html


def test_dashboard_figures_compare_the_period_with_the_previous_one(app: Flask, shop: Shop) -> None:
    with app.app_context():
        s = get_db(app).session()
        brand = s.get(Brand, shop.brand.brand_id)
        period = queries.Period(TODAY - timedelta(days=6), TODAY, "Asia/Tokyo")
        board = queries.dashboard(session=s, brand=brand, period=period, today=TODAY)
        s.close()
    assert board.current.shipments == 5 and board.previous.shipments == 1
    assert (board.current.delivered_with_promise, board.current.delivered_on_time) == (1, 1)
    assert board.current.failed_attempts == 1 and board.current.exceptions == 1
    assert board.late_now == 1 and board.stalled_now == 1


def test_a_periods_figures_read_the_period_not_the_brands_whole_history(
    app: Flask, shop: Shop
) -> None:
    """Each count of the dashboard read every parcel or message the brand ever had (173 ms of CPU
    for the dashboard at 56,000 parcels)."""
    with app.app_context():
        s = get_db(app).session()
        period = queries.Period(TODAY - timedelta(days=6), TODAY, "Asia/Tokyo")
        with recorded(s.get_bind(), starting="SELECT") as seen:
            queries.period_figures(session=s, brand_id=shop.brand.brand_id, period=period)
        plans = {
            index: query_plan(s.connection(), statement)
            for statement in seen
            for table, column, index in [
                ("shipment", "shipped_at", "ix_shipment_brand_shipped"),
                ("shipment", "delivered_at", "ix_shipment_brand_delivered"),
                ("outboxmessage", "created_at", "ix_outboxmessage_brand_created"),
            ]
            if f"FROM {table} " in statement.sql and f"{table}.{column} >=" in statement.sql
        }
        s.close()
    assert len(plans) == 3, plans
    if get_db(app).is_sqlite:
        for index, plan in plans.items():
            assert index in plan and "SCAN" not in plan, plan


def test_the_parcel_page_shows_the_order_timeline_and_prediction_history(
    app: Flask, shop: Shop, merchant: Merchant
) -> None:
    with app.app_context():
        s = get_db(app).session()
        from_history = {  # what a prediction from the brand's history stores
            "sample_size": 12,
            "typical_business_days": 2,
            "recent_sample_size": 3,
            "recent_days": 60,
            "route": {"origin": "TOKYO", "region": "大阪府"},
        }
        for trigger, basis in (("handover", {"route": "13→27"}), ("status", from_history)):
            s.add(
                DeliveryPrediction(
                    brand_id=shop.brand.brand_id,
                    shipment_id=shop.parcels["failed"],
                    trigger=trigger,
                    predicted_date=TODAY,
                    window_start=TODAY,
                    window_end=TODAY + timedelta(days=1),
                    promise_date=TODAY + timedelta(days=1),
                    basis=basis,
                )
            )
        s.commit()
        s.close()
    html = merchant.client.get(
        f"/merchant/shipments/{shop.parcels['failed']}", headers={"Accept-Language": "ja"}
    ).get_data(as_text=True)
    assert "#1001" in html and "不在持戻" in html and "13→27" in html
    assert (
        "配送業者への引き渡し" in html and "配送業者の新しいスキャン" in html
    )  # why each was made
    assert "TOKYOから大阪府までは通常2営業日です(12件の配送実績" in html  # written for the reader
    assert f"/{shop.brand.slug}/track/" in html  # the customer's own signed link


def test_an_empty_note_is_refused_with_the_message_next_to_the_field(
    merchant: Merchant, shop: Shop
) -> None:
    response = merchant.client.post(
        f"/merchant/shipments/{shop.parcels['late']}/notes",
        data={"csrf_token": merchant.csrf_token, "body": "  "},
    )
    assert response.status_code == 400
    assert re.search(
        r'aria-describedby="body-error".*id="body-error"', response.get_data(as_text=True), re.S
    )


def test_a_note_is_kept_on_the_order_and_recorded_in_the_audit_log(
    app: Flask, merchant: Merchant, shop: Shop
) -> None:
    merchant.client.post(
        f"/merchant/shipments/{shop.parcels['late']}/notes",
        data={"csrf_token": merchant.csrf_token, "body": "Customer called"},
    )
    with app.app_context():
        s = get_db(app).session()
        note = s.exec(select(InternalNote)).one()
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "note.add")).one()
        s.close()
    assert note.order_id == shop.order_id and entry.actor == "user:ops@acme.example"


def test_a_form_without_its_token_is_refused(merchant: Merchant, shop: Shop) -> None:
    response = merchant.client.post(
        f"/merchant/exceptions/{shop.parcels['late']}/resolve",
        data={"problem": "late", "resolution": "customer_contacted"},
    )
    assert response.status_code == 400


def _queue(merchant: Merchant) -> set[str]:
    html = merchant.client.get("/merchant/exceptions").get_data(as_text=True)
    return set(re.findall(r">(4000-[A-Z]+)</a>", html))


def test_the_queue_lists_every_parcel_in_trouble_and_nothing_else(merchant: Merchant) -> None:
    assert _queue(merchant) == {"4000-LATE", "4000-FAILED", "4000-STALLED", "4000-EXCEPTION"}


def test_a_resolved_parcel_leaves_the_queue_and_the_resolution_is_audited(
    app: Flask, merchant: Merchant, shop: Shop
) -> None:
    response = merchant.client.post(
        f"/merchant/exceptions/{shop.parcels['late']}/resolve",
        data={
            "csrf_token": merchant.csrf_token,
            "problem": "late",
            "resolution": "customer_contacted",
            "next": "queue",
        },
    )
    assert response.status_code == 303
    assert "4000-LATE" not in _queue(merchant)
    with app.app_context():
        s = get_db(app).session()
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "exception.resolve")).one()
        s.close()
    assert (entry.before, entry.after) == ("late", "customer_contacted")


def test_a_resolved_parcel_comes_back_when_it_gets_into_other_trouble(
    app: Flask, shop: Shop
) -> None:
    with app.app_context():
        s = get_db(app).session()
        brand = s.get(Brand, shop.brand.brand_id)
        s.add(
            ExceptionCase(
                brand_id=brand.id,
                shipment_id=shop.parcels["exception"],
                resolved_at=PINNED_NOW,
                resolved_kind=Problem.late.value,
            )
        )
        s.commit()
        items = queries.exception_queue(session=s, brand=brand, today=TODAY)
        s.close()
    assert shop.parcels["exception"] in {item.shipment.id for item in items}


def test_a_snoozed_parcel_is_hidden_until_its_date(merchant: Merchant, shop: Shop) -> None:
    merchant.client.post(
        f"/merchant/exceptions/{shop.parcels['stalled']}/snooze",
        data={"csrf_token": merchant.csrf_token, "until": (TODAY + timedelta(days=2)).isoformat()},
    )
    assert "4000-STALLED" not in _queue(merchant)


def test_snoozing_until_a_past_date_is_refused_next_to_the_field(
    merchant: Merchant, shop: Shop
) -> None:
    response = merchant.client.post(
        f"/merchant/exceptions/{shop.parcels['stalled']}/snooze",
        data={"csrf_token": merchant.csrf_token, "until": TODAY.isoformat()},
    )
    assert response.status_code == 400 and 'id="until-error-' in response.get_data(as_text=True)


def test_the_queue_counts_parcels_per_carrier(merchant: Merchant) -> None:
    html = merchant.client.get("/merchant/exceptions", headers={"Accept-Language": "en"})
    assert re.search(r"Yamato[^<]*: 4</a>", html.get_data(as_text=True))


def test_assigning_to_someone_of_another_brand_is_refused(
    app: Flask, merchant: Merchant, shop: Shop, make_brand
) -> None:
    from postpurchase.web.merchant import add_merchant_user

    other = make_brand("other")
    with app.app_context():
        s = get_db(app).session()
        stranger = add_merchant_user(
            session=s, brand_id=other.brand_id, email="x@other.example", password="pw"
        )
        s.commit()
        stranger_id = stranger.id
        s.close()
    response = merchant.client.post(
        f"/merchant/exceptions/{shop.parcels['late']}/assign",
        data={"csrf_token": merchant.csrf_token, "assignee": str(stranger_id)},
    )
    assert response.status_code == 400
