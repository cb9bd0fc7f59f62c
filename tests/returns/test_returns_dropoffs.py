"""Drop-off points: the brand's CSV (validated, idempotent) and the nearest points to a postal code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from postpurchase.models import DropOffPoint
from postpurchase.models.enums import ReturnMethod
from postpurchase.returns import dropoffs
from postpurchase.returns.cli import returns as returns_command
from postpurchase.returns.dropoffs import DropOffFileError, nearest_dropoffs, parse_dropoffs

SAMPLE = dropoffs.SAMPLE_DROPOFFS
HEADER = "code,name,kind,postal_code,address,lat,lon\n"


def test_sample_file_parses() -> None:
    rows = parse_dropoffs(SAMPLE.read_text(encoding="utf-8"))
    assert len(rows) == 8
    assert rows[0].postal_code == "1500001"


def test_bad_cells_are_reported_with_line_and_column() -> None:
    text = HEADER + "A,Shop,supermarket,150-0001,Tokyo,,\nB,,convenience_store,12,Tokyo,95,1\n"
    with pytest.raises(DropOffFileError) as caught:
        parse_dropoffs(text)
    assert caught.value.problems == [
        "line 2, column kind: must be one of carrier_office, convenience_store",
        "line 3, column name: required",
        "line 3, column postal_code: seven digits expected (123-4567)",
        "line 3, column lat: must be between -90 and 90",
    ]


def test_missing_and_unknown_columns_are_reported_on_line_one() -> None:
    with pytest.raises(DropOffFileError) as caught:
        parse_dropoffs("name,kind,postal_code,town\n")
    assert caught.value.problems == [
        "line 1: missing column address",
        "line 1: unknown column town",
    ]


def test_loading_the_same_file_twice_changes_nothing(session: Any, brand: Any) -> None:
    rows = parse_dropoffs(SAMPLE.read_text(encoding="utf-8"))
    first = dropoffs.import_dropoffs(session=session, brand_id=brand.brand_id, rows=rows)
    again = dropoffs.import_dropoffs(session=session, brand_id=brand.brand_id, rows=rows)
    assert (first.added, again.added, again.updated, again.unchanged) == (8, 0, 0, 8)
    assert len(session.exec(select(DropOffPoint)).all()) == 8


def test_nearest_points_are_ranked_by_distance_from_the_postal_code(
    session: Any, brand: Any
) -> None:
    rows = parse_dropoffs(SAMPLE.read_text(encoding="utf-8"))
    dropoffs.import_dropoffs(session=session, brand_id=brand.brand_id, rows=rows)
    near = nearest_dropoffs(
        session=session,
        brand_id=brand.brand_id,
        kind=ReturnMethod.convenience_store,
        postal_code="150-0001",
        limit=3,
    )
    # Both 150-0001 stores come first (the postal code's position is between them), then Shinjuku (2 km north; Ebisu is 3 km south).
    assert {n.point.code for n in near[:2]} == {"FM-SHIBUYA1", "SE-HARAJUKU"}
    assert near[2].point.code == "FM-SHINJUKU"
    assert near[2].distance_km is not None
    assert 1.5 < near[2].distance_km < 3


def test_points_without_coordinates_are_ranked_by_postal_prefix(session: Any, brand: Any) -> None:
    text = HEADER + (
        "A,Far office,carrier_office,900-0001,Naha,,\n"
        "B,Near office,carrier_office,541-0099,Osaka,,\n"
        "C,Nearest office,carrier_office,541-0051,Osaka,,\n"
    )
    dropoffs.import_dropoffs(session=session, brand_id=brand.brand_id, rows=parse_dropoffs(text))
    near = nearest_dropoffs(
        session=session,
        brand_id=brand.brand_id,
        kind=ReturnMethod.carrier_office,
        postal_code="541-0053",
        limit=5,
    )
    assert [n.point.code for n in near] == ["C", "B", "A"]


def test_dropoffs_import_command_loads_and_reports_errors(
    runner: Any, brand: Any, tmp_path: Path
) -> None:
    good = runner.invoke(
        returns_command, ["dropoffs", "import", "--brand", brand.slug, str(SAMPLE)]
    )
    assert good.exit_code == 0, good.output
    assert "added 8, updated 0, unchanged 0" in good.output
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "A,Shop,supermarket,150-0001,Tokyo,,\n", encoding="utf-8")
    failed = runner.invoke(returns_command, ["dropoffs", "import", "--brand", brand.slug, str(bad)])
    assert failed.exit_code == 1
    assert "line 2, column kind" in failed.output
