"""History import and the figures API, checked against pandas recomputing every figure from the CSV."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text, update
from sqlmodel import Session, col, func, select

from carriers.status import Status
from postpurchase import signals
from postpurchase.db import get_db
from postpurchase.insights.cli import history, insights
from postpurchase.insights.figures import (
    GROUPS,
    UNATTENDED,
    _offsets,
    figures_by,
    percentile_of_counts,
    refresh_rollup,
)
from postpurchase.insights.figures import figures as figures_of
from postpurchase.insights.history_import import _Statistics, import_history, read_import
from postpurchase.insights.sample import write_sample
from postpurchase.intake.openapi import openapi_document
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.operations import save_feedback
from postpurchase.messaging.settings import messaging_settings
from postpurchase.messaging.triggers import enqueue
from postpurchase.models import (
    Brand,
    Feedback,
    Order,
    OutboxMessage,
    ReturnRequest,
    Shipment,
    ShipmentFigures,
)
from postpurchase.models.types import table_of
from tests.sql import query_plan, recorded

START = datetime(2026, 8, 25, tzinfo=UTC)
PERIOD = {"from": "2026-09-01", "to": "2026-10-15"}
GROUPINGS = (
    "",
    "carrier",
    "carrier,service",
    "destination_region",
    "category",
    "month",
    "week",
    "fc",
    "carrier,destination_region",
    "delivered_to",
    "carrier,delivered_to",
    "segment",
    "time_slot",
    "carrier,time_slot",
)


@pytest.fixture
def history_file(tmp_path: Path) -> Path:
    path = tmp_path / "history.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        write_sample(handle, rows=900, start=START, days=60)
    return path


@pytest.fixture
def import_file(app, runner) -> Callable[..., Any]:
    def run(path: Path, slug: str = "acme") -> Any:
        return runner.invoke(history, ["import", "--brand", slug, str(path)])

    return run


def _headers(brand) -> dict[str, str]:
    return {"Authorization": f"Bearer {brand.api_key}"}


def _expected(
    path: Path, timezone: str, group_by: list[str]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Every figure of the API, computed here with pandas from the CSV alone."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)

    def local_day(column: str) -> pd.Series:
        moments = pd.to_datetime(frame[column].replace("", None), utc=True, format="ISO8601")
        return moments.dt.tz_convert(timezone).dt.tz_localize(None).dt.normalize()

    def number(column: str) -> pd.Series:
        return pd.to_numeric(frame[column].replace("", "0"))

    ordered, shipped = local_day("ordered_at"), local_day("shipped_at")
    delivered_day, promised = local_day("delivered_at"), local_day("promised_at")
    closed = np.array(
        sorted(holidays.country_holidays("JP", years=range(2025, 2028))), dtype="datetime64[D]"
    )

    def business_days(start: pd.Series) -> pd.Series:
        # Days open (Monday to Friday, not a holiday) in (start, delivered]; the sample is all JP.
        known = start.notna() & delivered_day.notna()
        counts = pd.Series(np.nan, index=frame.index)
        counts[known] = np.busday_count(
            (start[known] + pd.Timedelta(days=1)).to_numpy().astype("datetime64[D]"),
            (delivered_day[known] + pd.Timedelta(days=1)).to_numpy().astype("datetime64[D]"),
            holidays=closed,
        )
        return counts

    score = pd.to_numeric(frame["feedback_score"].replace("", None))
    returned_units = number("returned_units")
    on_time = delivered_day.notna() & promised.notna() & (delivered_day <= promised)
    data = pd.DataFrame(
        {
            "carrier": frame["carrier"],
            "service": frame["service"],
            "destination_region": frame["destination_region"],
            "category": frame["category"],
            "fc": None,
            "segment": "first",  # imported orders have no customer
            "time_slot": frame["time_slot"].replace("", None),
            "month": ordered.dt.strftime("%Y-%m"),
            "week": (ordered - pd.to_timedelta(ordered.dt.day_of_week, unit="D")).dt.strftime(
                "%Y-%m-%d"
            ),
            "ordered": ordered,
            "delivered": delivered_day.notna(),
            "order_days": (delivered_day - ordered).dt.days,
            "transit_days": (delivered_day - shipped).dt.days,
            "order_business_days": business_days(ordered),
            "transit_business_days": business_days(shipped),
            "promised": delivered_day.notna() & promised.notna(),
            "on_time": on_time,
            "late": delivered_day.notna() & promised.notna() & ~on_time,
            "complaint": (
                frame["return_reason"].isin(["late", "late_delivery"]) & (returned_units > 0)
            )
            | (score <= 6),
            "cost": number("cost"),
            "order_value": number("order_value"),
            "failed": number("failed_attempts"),
            "returned_units": returned_units,
            "score": score,
            "delivered_to": frame["delivered_to"]
            .where(delivered_day.notna(), "")
            .replace("", None),
        }
    )
    first, last = pd.Timestamp(PERIOD["from"]), pd.Timestamp(PERIOD["to"])
    data = data[(data["ordered"] >= first) & (data["ordered"] <= last)]
    groups = data.groupby(group_by, dropna=False) if group_by else [((), data)]
    expected = {}
    for key, rows in groups:
        key = key if isinstance(key, tuple) else (key,)
        done = rows[rows["delivered"]]
        scores = rows["score"].dropna()
        promised_rows = rows[rows["promised"]]
        some = len(done) > 0
        late, timely = rows[rows["late"]], rows[rows["on_time"]]
        complaints = rows[rows["complaint"] & rows["promised"]]

        def nps(scores: pd.Series) -> float | None:
            if not len(scores):
                return None
            return 100 * ((scores >= 9).sum() - (scores <= 6).sum()) / len(scores)

        def share(part: pd.Series) -> float | None:
            return part.mean() if len(part) else None

        def over_delivered(value: Callable[[], Any], some: bool = some) -> Any:
            return value() if some else None

        expected[tuple(None if pd.isna(k) else k for k in key)] = {
            "shipments": len(rows),
            "delivered": len(done),
            "cost_total": int(rows["cost"].sum()),
            "cost_avg": rows["cost"].mean(),
            "order_value_avg": rows["order_value"].mean(),
            "order_to_delivery_days_median": over_delivered(
                lambda done=done: np.percentile(done["order_days"], 50)
            ),
            "order_to_delivery_days_p90": over_delivered(
                lambda done=done: np.percentile(done["order_days"], 90)
            ),
            "transit_days_median": over_delivered(
                lambda done=done: np.percentile(done["transit_days"], 50)
            ),
            "transit_days_p90": over_delivered(
                lambda done=done: np.percentile(done["transit_days"], 90)
            ),
            **{
                f"{name}_{label}": over_delivered(
                    lambda done=done, column=column, q=q: np.percentile(done[column], q)
                )
                for name, column in (
                    ("order_to_delivery_business_days", "order_business_days"),
                    ("transit_business_days", "transit_business_days"),
                )
                for label, q in (("median", 50), ("p90", 90))
            },
            "on_time_share": promised_rows["on_time"].mean() if len(promised_rows) else None,
            "first_attempt_share": over_delivered(lambda done=done: (done["failed"] == 0).mean()),
            "redelivery_rate": over_delivered(lambda done=done: done["failed"].sum() / len(done)),
            "return_rate": (rows["returned_units"] > 0).mean(),
            "returned_units": int(rows["returned_units"].sum()),
            "nps": 100 * ((scores >= 9).sum() - (scores <= 6).sum()) / len(scores)
            if len(scores)
            else None,
            "nps_responses": len(scores),
            "response_rate": over_delivered(
                lambda done=done, scores=scores: len(scores) / len(done)
            ),
            "unattended_share": over_delivered(
                lambda done=done: done["delivered_to"].isin(UNATTENDED).sum() / len(done)
            ),
            "late": len(late),
            "late_complaints": int(rows["complaint"].sum()),
            "late_complaints_late_share": share(complaints["late"]),
            "return_rate_late": share(late["returned_units"] > 0),
            "return_rate_on_time": share(timely["returned_units"] > 0),
            "nps_late": nps(late["score"].dropna()),
            "nps_on_time": nps(timely["score"].dropna()),
        }
    return expected


@pytest.mark.parametrize("timezone", ["Asia/Tokyo", "America/New_York"])
def test_every_api_figure_matches_pandas_on_the_imported_csv(
    make_brand, client, import_file, history_file, timezone
) -> None:
    brand = make_brand("acme", timezone=timezone)
    assert import_file(history_file).exit_code == 0
    for grouping in GROUPINGS:
        group_by = [name for name in grouping.split(",") if name]
        answer = client.get(
            "/api/v1/insights/shipments",
            query_string={**PERIOD, "group_by": grouping},
            headers=_headers(brand),
        )
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        assert (body["from"], body["to"], body["currency"]) == ("2026-09-01", "2026-10-15", "JPY")
        expected = _expected(history_file, timezone, group_by)
        got = {tuple(row["group"][name] for name in group_by): row for row in body["rows"]}
        assert got.keys() == expected.keys(), grouping
        for key, figures in expected.items():
            for name, value in figures.items():
                expect = None if value is None else pytest.approx(float(value), rel=1e-12)
                assert got[key][name] == expect, (grouping, key, name)


def test_several_groupings_from_one_scan_equal_each_grouping_alone(
    app, brand, session, import_file, history_file
) -> None:
    assert import_file(history_file).exit_code == 0
    groupings = [(), ("carrier", "service"), ("carrier",), ("fc", "time_slot"), ("week",)]
    period = {"start": date(2026, 9, 1), "end": date(2026, 10, 15)}
    together = figures_by(session=session, brand_id=brand.brand_id, groupings=groupings, **period)
    alone = [
        figures_of(session=session, brand_id=brand.brand_id, group_by=grouping, **period)
        for grouping in groupings
    ]
    assert together == alone
    assert len(together[3].rows) > len(together[2].rows) > 1  # coarse ones are really summed


def test_prefectures_come_in_jis_order(brand, client, import_file, history_file) -> None:
    import_file(history_file)
    rows = client.get(
        "/api/v1/insights/shipments",
        query_string={**PERIOD, "group_by": "destination_region"},
        headers=_headers(brand),
    ).get_json()["rows"]
    regions = [row["group"]["destination_region"] for row in rows]
    assert regions[0] == "北海道"
    assert regions[-1] == "沖縄県"
    assert regions.index("東京都") < regions.index("神奈川県") < regions.index("大阪府")


def test_a_second_import_updates_and_never_duplicates(
    brand, app, session, import_file, tmp_path
) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(_file(cost="900", score="9"), encoding="utf-8")
    second.write_text(_file(cost="1200", score="3"), encoding="utf-8")
    assert import_file(first).exit_code == 0
    result = import_file(second)
    assert result.exit_code == 0
    assert "created 0, updated 1" in result.output
    shipments = session.exec(select(Shipment)).all()
    assert [(s.external_id, s.cost_amount, s.imported) for s in shipments] == [("H1", 1200, True)]
    assert session.exec(select(func.count()).select_from(Order)).one() == 1
    assert [f.nps_score for f in session.exec(select(Feedback)).all()] == [3]
    assert session.exec(select(func.count()).select_from(ReturnRequest)).one() == 1


def test_a_long_import_keeps_the_planners_statistics_current_inside_its_transaction(
    app, brand, session, history_file, monkeypatch
) -> None:
    """Without fresh statistics each batch's rollup refresh walked every row written so far."""
    monkeypatch.setattr(_Statistics, "FIRST", 200)
    rows = read_import(history_file, timezone="Asia/Tokyo", currency="JPY")
    import_history(session=session, brand_id=brand.brand_id, rows=rows, now=START)
    # still inside the import's transaction: the planner already knows the parcels are there
    name = table_of(Shipment).name
    if session.get_bind().dialect.name == "postgresql":
        query = "SELECT reltuples FROM pg_class WHERE relname = :name"
    else:  # sqlite_stat1's first figure of a table's index is its row count
        query = "SELECT max(CAST(stat AS INTEGER)) FROM sqlite_stat1 WHERE tbl = :name"
    planned = session.execute(text(query), {"name": name}).scalar_one()
    assert planned is not None and planned >= 400


def _imported_parcels(session: Session, brand_id: int) -> list[int]:
    return list(
        session.exec(
            select(ShipmentFigures.shipment_id)
            .where(ShipmentFigures.brand_id == brand_id, col(ShipmentFigures.delivered))
            .order_by(col(ShipmentFigures.shipment_id))
        ).all()
    )


def test_refreshing_another_brands_parcel_ids_leaves_its_rollup_alone(
    app, brand, make_brand, session, import_file, history_file
) -> None:
    other = make_brand("other")
    assert import_file(history_file, "other").exit_code == 0
    theirs = _imported_parcels(session, other.brand_id)[0]
    session.execute(
        update(ShipmentFigures)
        .where(col(ShipmentFigures.shipment_id) == theirs)
        .values(order_business_days=99)
    )
    refresh_rollup(session=session, brand_id=brand.brand_id, now=START, shipment_ids=[theirs])
    assert session.get(ShipmentFigures, (other.brand_id, _order_day(session, theirs), theirs))
    kept = session.exec(
        select(ShipmentFigures.order_business_days).where(ShipmentFigures.shipment_id == theirs)
    ).one()
    assert kept == 99


def _order_day(session: Session, shipment_id: int) -> Any:
    return session.exec(
        select(ShipmentFigures.order_day).where(ShipmentFigures.shipment_id == shipment_id)
    ).one()


def test_a_refresh_of_many_parcels_looks_them_up_by_id_without_statistics(
    app, brand, session, import_file, history_file
) -> None:
    """SQLite without statistics read 50+ ids beside ``brand_id = X`` through the key's brand
    prefix: every rollup row of the brand, on every refresh."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's planner without statistics")
    assert import_file(history_file).exit_code == 0
    never_analyzed = text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
    assert session.execute(never_analyzed).scalar_one() == 0
    ids = _imported_parcels(session, brand.brand_id)[:200]
    reads = recorded(session.get_bind(), starting="SELECT", containing="FROM shipmentfigures JOIN")
    with reads as seen:
        refresh_rollup(session=session, brand_id=brand.brand_id, now=START, shipment_ids=ids)
    assert seen
    for read in seen:
        plan = query_plan(session.connection(), read)
        assert "PRIMARY KEY (brand_id=?)" not in plan, plan


def test_a_bad_row_names_its_line_and_column_and_nothing_is_imported(
    brand, session, import_file, tmp_path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        _file(cost="900") + _file(cost="900", shipment_id="H2", failed="lots", header=False),
        encoding="utf-8",
    )
    result = import_file(path)
    assert result.exit_code != 0
    assert "line 3: column failed_attempts" in result.output
    assert "nothing was imported" in result.output
    assert session.exec(select(func.count()).select_from(Shipment)).one() == 0


def test_import_emits_no_domain_signal(brand, import_file, history_file) -> None:
    heard: list[str] = []

    def listen(sender: object, **kwargs: object) -> None:
        heard.append(repr(sender))

    for signal in (
        signals.order_upserted,
        signals.shipment_created,
        signals.shipment_status_changed,
        signals.return_updated,
    ):
        signal.connect(listen)
    try:
        assert import_file(history_file).exit_code == 0
    finally:
        for signal in (
            signals.order_upserted,
            signals.shipment_created,
            signals.shipment_status_changed,
            signals.return_updated,
        ):
            signal.disconnect(listen)
    assert heard == []


def test_no_customer_message_is_ever_enqueued_for_an_imported_parcel(
    app, brand, session, import_file, tmp_path, clock
) -> None:
    path = tmp_path / "one.csv"
    path.write_text(_file(cost="900"), encoding="utf-8")
    import_file(path)
    shipment = session.exec(select(Shipment)).one()
    row = session.get(Brand, brand.brand_id)
    messaging = messaging_settings(app)
    for trigger in Trigger:
        assert (
            enqueue(
                session=session,
                messaging=messaging,
                brand=row,
                trigger=trigger,
                shipment=shipment,
                now=clock.now,
            )
            is None
        ), trigger
    assert session.exec(select(func.count()).select_from(OutboxMessage)).one() == 0


def test_a_failed_attempt_scan_counts_toward_redelivery(app, brand, session, add_parcel) -> None:
    from carriers.base import TrackingEvent, TrackingResult
    from postpurchase.tracking.apply import apply_result

    order_id = add_parcel(brand.brand_id)
    shipment = session.exec(select(Shipment).where(Shipment.order_id == order_id)).one()
    at = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)
    scan = TrackingEvent(at, Status.attempt_fail, "NA", "ご不在")
    answer = TrackingResult("fake", shipment.tracking_number or "1", Status.attempt_fail, (scan,))
    apply_result(session=session, shipment_id=shipment.id, result=answer, source="poll", now=at)
    session.refresh(shipment)
    assert shipment.failed_attempts == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2025-09-01", "to": "2026-10-01"}, "from"),
        ({"from": "2026-10-02", "to": "2026-10-01"}, "from"),
        ({"from": "2026-13-01", "to": "2026-10-01"}, "from"),
        ({**PERIOD, "group_by": "carrier,colour"}, "group_by"),
        ({**PERIOD, "group_by": "carrier,carrier"}, "group_by"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(brand, client, query, field) -> None:
    answer = client.get("/api/v1/insights/shipments", query_string=query, headers=_headers(brand))
    assert answer.status_code == 400
    assert answer.get_json()["error"]["details"][0]["loc"] == f"query.{field}"


def test_another_brands_key_sees_none_of_the_figures(
    brand, make_brand, client, import_file, history_file
) -> None:
    other = make_brand("other")
    import_file(history_file)
    rows = client.get(
        "/api/v1/insights/shipments", query_string=PERIOD, headers=_headers(other)
    ).get_json()["rows"]
    assert [(row["shipments"], row["delivered"]) for row in rows] == [(0, 0)]


def test_the_figures_need_an_api_key(client) -> None:
    assert client.get("/api/v1/insights/shipments", query_string=PERIOD).status_code == 401


def test_the_openapi_document_describes_the_figures(app) -> None:
    operation = openapi_document(app)["paths"]["/api/v1/insights/shipments"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"from", "to", "group_by"}
    assert not any(p["required"] for p in operation["parameters"])
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/InsightsPage"
    }
    assert all(name in operation["parameters"][2]["description"] for name in GROUPS)


def test_percentiles_of_counts_are_numpys_linear_percentiles() -> None:
    rng = np.random.default_rng(3)
    for size in (1, 2, 5, 11, 100):
        values = sorted(int(v) for v in rng.integers(0, 9, size))
        counts = [(v, values.count(v)) for v in sorted(set(values))]
        for share in (0.5, 0.9):
            assert percentile_of_counts(counts, share) == np.percentile(values, 100 * share)


def _file(
    *,
    cost: str,
    score: str = "",
    shipment_id: str = "H1",
    failed: str = "0",
    header: bool = True,
) -> str:
    out = io.StringIO()
    if header:
        out.write(
            "shipment_id,carrier,service,origin_postal_code,origin_region,destination_postal_code,"
            "destination_region,destination_country,ordered_at,shipped_at,delivered_at,promised_at,"
            "cost,currency,category,failed_attempts,returned_units,return_reason,feedback_score,comment\n"
        )
    out.write(
        f"{shipment_id},yamato,takkyubin,273-0012,千葉県,060-0001,北海道,JP,2026-11-01T10:00:00+09:00,"
        "2026-11-01T18:00:00+09:00,2026-11-03T12:00:00+09:00,2026-11-04T00:00:00+09:00,"
        f"{cost},JPY,shoes,{failed},1,late_delivery,{score},遅い\n"
    )
    return out.getvalue()


def _overview(client, brand, start: str = "2026-11-01", end: str = "2026-11-30") -> dict[str, Any]:
    return client.get(
        "/api/v1/insights/shipments",
        query_string={"from": start, "to": end},
        headers=_headers(brand),
    ).get_json()["rows"][0]


@contextmanager
def _unit_of_work(app) -> Iterator[Session]:
    """A session in an app context of its own, committed and closed before the next request."""
    with app.app_context():
        session = get_db(app).session()
        try:
            yield session
            session.commit()
        finally:
            session.close()


def test_a_late_delivery_scan_reaches_the_figures(app, brand, client, add_parcel, clock) -> None:
    order_id = add_parcel(brand.brand_id, shipped_at=datetime(2026, 11, 2, 1, tzinfo=UTC))
    with _unit_of_work(app) as session:
        shipment = session.exec(select(Shipment).where(Shipment.order_id == order_id)).one()
        signals.shipment_created.send(
            brand.brand_id, session=session, shipment_id=shipment.id, now=clock.now
        )
    assert (_overview(client, brand)["shipments"], _overview(client, brand)["delivered"]) == (1, 0)
    with _unit_of_work(app) as session:
        shipment = session.exec(select(Shipment).where(Shipment.order_id == order_id)).one()
        shipment.status = Status.delivered
        shipment.delivered_at = datetime(2026, 11, 4, 3, tzinfo=UTC)
        session.add(shipment)
        signals.shipment_status_changed.send(
            shipment.id,
            session=session,
            brand_id=brand.brand_id,
            previous=Status.in_transit,
            current=Status.delivered,
            occurred_at=shipment.delivered_at,
            now=clock.now,
        )
    overview = _overview(client, brand)
    assert (overview["delivered"], overview["transit_days_median"]) == (1, 2.0)


def test_a_score_given_later_reaches_the_nps(app, brand, client, add_parcel, clock) -> None:
    order_id = add_parcel(brand.brand_id, delivered_at=datetime(2026, 11, 3, 3, tzinfo=UTC))
    with _unit_of_work(app) as session:
        shipment = session.exec(select(Shipment).where(Shipment.order_id == order_id)).one()
        save_feedback(
            session=session,
            data={"b": brand.brand_id, "o": order_id, "s": shipment.id},
            score=3,
            comment="箱が潰れていた",
            now=clock.now,
        )
    overview = _overview(client, brand)
    assert (overview["nps"], overview["nps_responses"]) == (-100.0, 1)


def test_rebuild_fills_the_rollup_of_parcels_stored_before_it_existed(
    app, brand, client, add_parcel
) -> None:
    add_parcel(brand.brand_id, delivered_at=datetime(2026, 11, 3, 3, tzinfo=UTC), cost=800)
    assert _overview(client, brand)["shipments"] == 0
    result = app.test_cli_runner().invoke(insights, ["rebuild", "--brand", "acme"])
    assert result.exit_code == 0, result.output
    assert (_overview(client, brand)["shipments"], _overview(client, brand)["cost_total"]) == (
        1,
        800,
    )


def test_without_dates_the_period_is_the_last_30_local_days(brand, client) -> None:
    body = client.get("/api/v1/insights/shipments", headers=_headers(brand)).get_json()
    assert (body["from"], body["to"]) == ("2026-10-22", "2026-11-20")


def test_a_zones_offsets_are_computed_once_and_reused() -> None:
    # Every processed parcel refreshes its rollup row; recomputing 45 years of offsets each time
    # made the rollup ~80 % of processing a shipment.created.
    span = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2045, 1, 1, tzinfo=UTC))
    assert _offsets(ZoneInfo("Asia/Tokyo"), *span) is _offsets(ZoneInfo("Asia/Tokyo"), *span)
