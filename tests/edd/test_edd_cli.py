"""``postpurchase edd fit | backtest | report`` on small generated history files."""

from __future__ import annotations

import csv
import dataclasses
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from carriers.status import Status
from postpurchase import create_app
from postpurchase.brands import get_brand
from postpurchase.clock import utcnow
from postpurchase.db import get_db
from postpurchase.edd.backtest import AsOf
from postpurchase.edd.cli import edd
from postpurchase.edd.history import REQUIRED_COLUMNS, write_history
from postpurchase.edd.service import load_model, models_of, predict_for_shipment
from postpurchase.models import Shipment, TransitModelState


def _write(path, rows):
    with path.open("w", newline="") as handle:
        write_history(rows, handle)
    return path


def _split(tmp_path, history):
    rows = history(240, days=lambda rng: rng.choice([1, 2, 2, 3]))
    return (
        _write(tmp_path / "train.csv", rows[:160]),
        _write(tmp_path / "test.csv", rows[160:]),
        rows[160:],
    )


@pytest.mark.parametrize("flags", [[], ["--in-flight"]], ids=["strict", "in-flight"])
def test_backtest_writes_one_prediction_per_test_row(runner, tmp_path, history, flags):
    train, test, test_rows = _split(tmp_path, history)
    out = tmp_path / "pred.csv"
    result = runner.invoke(
        edd,
        [
            "backtest",
            "--train",
            str(train),
            "--test",
            str(test),
            "--as-of",
            "ordered",
            "--promise-level",
            "0.9",
            "--country",
            "JP",
            "--out",
            str(out),
            *flags,
        ],
    )
    assert result.exit_code == 0, result.output
    with out.open() as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == [
            "shipment_id",
            "predicted_date",
            "window_start",
            "window_end",
            "promise_date",
        ]
        rows = list(reader)
    assert sorted(r["shipment_id"] for r in rows) == sorted(r.shipment_id for r in test_rows)
    for row in rows:
        dates = [
            date.fromisoformat(row[c]) for c in ("window_start", "predicted_date", "window_end")
        ]
        assert dates == sorted(dates)
        assert date.fromisoformat(row["promise_date"]) >= dates[1]


def test_backtest_as_of_shipped_accepts_naive_timestamps(runner, tmp_path, history):
    train, test, _ = _split(tmp_path, history)
    naive = tmp_path / "naive.csv"
    naive.write_text(test.read_text().replace("+00:00", ""))
    out = tmp_path / "pred.csv"
    result = runner.invoke(
        edd,
        [
            "backtest",
            "--train",
            str(train),
            "--test",
            str(naive),
            "--as-of",
            "shipped",
            "--country",
            "JP",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 81


def test_backtest_names_missing_columns(runner, tmp_path, history):
    train, _, _ = _split(tmp_path, history)
    bad = tmp_path / "bad.csv"
    bad.write_text("shipment_id,carrier,ordered_at\n1,yamato,2026-01-01T00:00:00\n")
    result = runner.invoke(
        edd,
        ["backtest", "--train", str(train), "--test", str(bad), "--out", str(tmp_path / "p.csv")],
    )
    assert result.exit_code != 0
    assert "missing column(s)" in result.output and "delivered_at" in result.output


def test_backtest_names_the_line_of_a_bad_timestamp(runner, tmp_path, history):
    train, test, _ = _split(tmp_path, history)
    lines = test.read_text().splitlines()
    cells = lines[3].split(",")
    cells[REQUIRED_COLUMNS.index("delivered_at")] = "yesterday"
    lines[3] = ",".join(cells)
    test.write_text("\n".join(lines) + "\n")
    result = runner.invoke(
        edd,
        ["backtest", "--train", str(train), "--test", str(test), "--out", str(tmp_path / "p.csv")],
    )
    assert result.exit_code != 0
    assert (
        "line 4" in result.output
        and "delivered_at" in result.output
        and "yesterday" in result.output
    )


def test_fit_without_brand_writes_the_instance_default_model(runner, app, tmp_path, history):
    path = _write(tmp_path / "h.csv", history(100, days=3))
    result = runner.invoke(edd, ["fit", "--history", str(path)])
    assert result.exit_code == 0, result.output
    assert "100 rows read" in result.output
    assert (tmp_path / "instance" / "edd" / "default-ordered.json").exists()


def test_an_instance_default_model_serves_only_its_own_app(
    runner, app, app_config, tmp_path, history, brand
):
    path = _write(tmp_path / "h.csv", history(100, days=3))
    assert runner.invoke(edd, ["fit", "--history", str(path)]).exit_code == 0
    other = create_app({**app_config, "INSTANCE_PATH": str(tmp_path / "other")})
    with app.app_context():
        session = get_db(app).session()
        acme = get_brand(session=session, slug=brand.slug)
        own, _ = load_model(session=session, brand=acme, mode=AsOf.ordered, models=models_of(app))
        theirs, _ = load_model(
            session=session, brand=acme, mode=AsOf.ordered, models=models_of(other)
        )
        session.close()
    assert own.sample_size == 100
    assert theirs.sample_size == 0


def test_fit_reads_rows_not_delivered_yet_as_parcels_in_flight(runner, app, tmp_path, history):
    now = utcnow()
    usual = history(300, days=lambda rng: rng.choice([1, 2, 2, 3]), start=now - timedelta(days=90))
    waiting = [
        dataclasses.replace(row, delivered_at=None)
        for row in history(40, days=2, prefix="w", start=now - timedelta(days=9))
    ]
    path = _write(tmp_path / "h.csv", usual + waiting)
    result = runner.invoke(edd, ["fit", "--history", str(path)])
    assert result.exit_code == 0, result.output
    model = json.loads((tmp_path / "instance" / "edd" / "default-ordered.json").read_text())
    assert model["calibration"][
        "waiting"
    ]  # the forty undelivered orders count as "still on their way"


def test_fit_for_a_brand_stores_its_models(runner, app, tmp_path, history, brand):
    path = _write(tmp_path / "h.csv", history(100, days=3))
    result = runner.invoke(edd, ["fit", "--history", str(path), "--brand", "acme"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        session = get_db(app).session()
        sizes = {s.as_of: s.sample_size for s in session.exec(select(TransitModelState)).all()}
        session.close()
    assert sizes == {"ordered": 100, "shipped": 100}


def test_fit_for_an_unknown_brand_fails_clearly(runner, tmp_path, history):
    path = _write(tmp_path / "h.csv", history(10))
    result = runner.invoke(edd, ["fit", "--history", str(path), "--brand", "nobody"])
    assert result.exit_code != 0 and "no brand 'nobody'" in result.output


def test_report_prints_accuracy_of_delivered_parcels(runner, app, brand):
    shipped = datetime(2026, 11, 18, 1, tzinfo=UTC)
    with app.app_context():
        session = get_db(app).session()

        shipment = Shipment(
            brand_id=brand.brand_id,
            external_id="s1",
            carrier_code="yamato",
            status=Status.in_transit,
            shipped_at=shipped,
        )
        session.add(shipment)
        session.flush()
        predict_for_shipment(
            session=session,
            models=models_of(app),
            shipment_id=shipment.id,
            now=shipped,
            trigger="handover",
        )
        shipment.status = Status.delivered
        shipment.delivered_at = shipped + timedelta(days=2)
        session.commit()
        session.close()
    result = runner.invoke(edd, ["report"])
    assert result.exit_code == 0, result.output
    assert "acme" in result.output and "handover" in result.output and "100.0%" in result.output


def test_report_without_predictions_says_so(runner, app):
    result = runner.invoke(edd, ["report"])
    assert "no stored predictions" in result.output
