"""Drop-off points a brand loads from a CSV file, and the nearest ones to a customer's postal code.

The file has a header row with ``name``, ``kind`` (``convenience_store`` or ``carrier_office``),
``postal_code``, ``address`` and optionally ``code`` (the brand's id of the point; the name when
absent), ``lat`` and ``lon``. Points with coordinates are ranked by distance; the customer's
position is taken from the points that share the longest part of their postal code (there is no
postal-code geocoder offline). Points without coordinates are ranked by that shared prefix.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from postpurchase.models import DropOffPoint
from postpurchase.models.enums import DROPOFF_METHODS, ReturnMethod

REQUIRED_COLUMNS = ("name", "kind", "postal_code", "address")
OPTIONAL_COLUMNS = ("code", "lat", "lon")
#: Fewer shared leading digits than this say nothing about nearness (the first digits are a region).
MIN_SHARED_PREFIX = 3
EARTH_RADIUS_KM = 6371.0
#: A small table of convenience stores and carrier offices in Tokyo (the demo loads it).
SAMPLE_DROPOFFS = Path(__file__).parent / "samples" / "dropoffs.csv"


class DropOffFileError(ValueError):
    """What is wrong in a drop-off file, each problem as ``line N, column C: message``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class DropOffRow:
    code: str
    kind: ReturnMethod
    name: str
    postal_code: str
    address: str
    latitude: float | None
    longitude: float | None


@dataclass(frozen=True)
class ImportResult:
    added: int
    updated: int
    unchanged: int


def normalize_postal_code(value: str) -> str:
    """Digits only (``272-0002`` and ``２７２－０００２`` are ``2720002``)."""
    return "".join(ch for ch in value if ch.isdigit()).translate(
        str.maketrans("０１２３４５６７８９", "0123456789")
    )


def _coordinate(
    raw: str, column: str, limit: float, where: str, problems: list[str]
) -> float | None:
    if not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        problems.append(f"{where}, column {column}: not a number: {raw!r}")
        return None
    if not math.isfinite(value) or abs(value) > limit:
        problems.append(f"{where}, column {column}: must be between -{limit:g} and {limit:g}")
        return None
    return value


def parse_dropoffs(text: str) -> list[DropOffRow]:
    """The rows of a drop-off file; raises :class:`DropOffFileError` listing every bad cell."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if missing or unknown:
        raise DropOffFileError(
            [f"line 1: missing column {c}" for c in missing]
            + [f"line 1: unknown column {c}" for c in unknown]
        )
    reader.fieldnames = header
    problems: list[str] = []
    rows: list[DropOffRow] = []
    seen: dict[tuple[str, str], int] = {}
    kinds = sorted(str(k) for k in DROPOFF_METHODS)
    for raw in reader:
        where = f"line {reader.line_num}"
        cells = {k: (v or "").strip() for k, v in raw.items() if k is not None}
        before = len(problems)
        problems.extend(
            f"{where}, column {column}: required"
            for column in REQUIRED_COLUMNS
            if not cells.get(column)
        )
        kind = cells.get("kind", "")
        if kind and kind not in kinds:
            problems.append(f"{where}, column kind: must be one of {', '.join(kinds)}")
        postal = normalize_postal_code(cells.get("postal_code", ""))
        if cells.get("postal_code") and len(postal) != 7:
            problems.append(f"{where}, column postal_code: seven digits expected (123-4567)")
        lat = _coordinate(cells.get("lat", ""), "lat", 90, where, problems)
        lon = _coordinate(cells.get("lon", ""), "lon", 180, where, problems)
        if (lat is None) != (lon is None) and len(problems) == before:
            problems.append(
                f"{where}, column {'lon' if lon is None else 'lat'}: give both lat and lon or neither"
            )
        code = cells.get("code") or cells.get("name", "")
        if len(problems) > before:
            continue
        key = (kind, code)
        if key in seen:
            problems.append(f"{where}, column code: {code!r} repeats line {seen[key]}")
            continue
        seen[key] = reader.line_num
        rows.append(
            DropOffRow(
                code=code[:128],
                kind=ReturnMethod(kind),
                name=cells["name"][:200],
                postal_code=postal,
                address=cells["address"][:500],
                latitude=lat,
                longitude=lon,
            )
        )
    if problems:
        raise DropOffFileError(problems)
    return rows


def import_dropoffs(*, session: Session, brand_id: int, rows: Sequence[DropOffRow]) -> ImportResult:
    """Add or update the brand's points from ``rows`` (matched by kind and code); loading the same
    file twice changes nothing. Points missing from the file stay (a file may hold one chain)."""
    existing = {
        (point.kind, point.code): point
        for point in session.exec(select(DropOffPoint).where(DropOffPoint.brand_id == brand_id))
    }
    added = updated = unchanged = 0
    for row in rows:
        values: dict[str, Any] = {
            "name": row.name,
            "postal_code": row.postal_code,
            "address": row.address,
            "latitude": row.latitude,
            "longitude": row.longitude,
        }
        point = existing.get((row.kind, row.code))
        if point is None:
            session.add(DropOffPoint(brand_id=brand_id, code=row.code, kind=row.kind, **values))
            added += 1
        elif any(getattr(point, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(point, k, v)
            updated += 1
        else:
            unchanged += 1
    session.flush()
    return ImportResult(added=added, updated=updated, unchanged=unchanged)


def _shared_prefix(a: str, b: str) -> int:
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def _position(points: Sequence[DropOffPoint], postal: str) -> tuple[float, float] | None:
    """Where ``postal`` is: the centre of the located points sharing most of its digits."""
    located = [p for p in points if p.latitude is not None and p.longitude is not None]
    best = max((_shared_prefix(p.postal_code, postal) for p in located), default=0)
    if best < MIN_SHARED_PREFIX:
        return None
    near = [p for p in located if _shared_prefix(p.postal_code, postal) == best]
    return (
        sum(p.latitude or 0.0 for p in near) / len(near),
        sum(p.longitude or 0.0 for p in near) / len(near),
    )


@dataclass(frozen=True)
class NearPoint:
    point: DropOffPoint
    #: Kilometres from the customer's postal code, when both positions are known.
    distance_km: float | None


def nearest_dropoffs(
    *, session: Session, brand_id: int, kind: ReturnMethod, postal_code: str, limit: int
) -> list[NearPoint]:
    """The brand's ``kind`` points nearest to ``postal_code``: by distance where coordinates exist,
    then by the length of the shared postal-code prefix."""
    postal = normalize_postal_code(postal_code)
    points = session.exec(
        select(DropOffPoint).where(DropOffPoint.brand_id == brand_id, DropOffPoint.kind == kind)
    ).all()
    here = _position(points, postal) if postal else None

    def rank(point: DropOffPoint) -> tuple[int, float, int, str]:
        if here is not None and point.latitude is not None and point.longitude is not None:
            return (0, distance_km(here, (point.latitude, point.longitude)), 0, point.name)
        return (1, 0.0, -_shared_prefix(point.postal_code, postal), point.name)

    ranked = sorted(points, key=rank)[:limit]
    return [
        NearPoint(
            point=p,
            distance_km=(
                distance_km(here, (p.latitude, p.longitude))
                if here is not None and p.latitude is not None and p.longitude is not None
                else None
            ),
        )
        for p in ranked
    ]
