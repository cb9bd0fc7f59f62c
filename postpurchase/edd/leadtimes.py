"""Cold start: prefecture-to-prefecture lead times for a brand without its own deliveries yet.

A lead-time table says, per origin and destination, how many days after hand-over a carrier
delivers and the earliest slot it can make that day (``1,morning``: next morning; ``1,14-16``:
next day from 14:00, i.e. the parcel reaches the delivering depot after the morning cut-off).
Origins and destinations are JIS prefecture codes (``13`` Tokyo, ``27`` Osaka) or region keys
(``kanto``, ``kansai``): a prefecture pair wins over its regions' pair.

The project default (``data/leadtimes_jp.csv``) is region to region and is a **default for the
brand to override, not carrier data**: a rounded rule of thumb in the shape of the delivery-day
maps Japanese carriers show for their standard parcels (within a region and to the neighbouring
ones, next morning; three steps along the archipelago, next afternoon; further, two days;
Okinawa, two days from Kyushu and three from elsewhere). No carrier table is copied or bundled,
and no figure in it was measured; its ``earliest_slot`` column stands for the depot arrival time
through the slot cut-offs, which are assumptions too (:mod:`carriers.slots`). A brand loads its
own table with ``postpurchase edd leadtimes import --brand SLUG FILE.csv`` (same columns); once it
has one, the default is not read for it at all, and the brand's slot cut-offs
(``edd.slot_cutoffs`` in its settings) replace the default ones.

Blending: the table counts as :data:`TABLE_WEIGHT` parcels. With ``n`` delivered parcels on the
route, the predicted transit is ``(n * model + TABLE_WEIGHT * table) / (n + TABLE_WEIGHT)``
business days (rounded), so the table decides for a new brand, weighs half at 20 parcels and
fades as the brand's own deliveries arrive.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlmodel import Session, col, delete, select

from carriers.slots import SLOT_CODES
from postpurchase.models import LeadTime

#: How many delivered parcels the lead-time table is worth in the blend.
TABLE_WEIGHT = 20
DEFAULT_TABLE = Path(__file__).parent / "data" / "leadtimes_jp.csv"
COLUMNS = ("origin", "destination", "days", "earliest_slot")

#: JIS prefecture code by the first two digits of a Japanese postal code.
PREFECTURE_OF_POSTAL: dict[str, str] = {
    **{f"{n:02d}": "01" for n in (0, *range(4, 10))},
    "01": "05", "02": "03", "03": "02",
    **{f"{n}": "13" for n in range(10, 21)},
    **{f"{n}": "14" for n in range(21, 26)},
    **{f"{n}": "12" for n in range(26, 30)},
    "30": "08", "31": "08", "32": "09",
    **{f"{n}": "11" for n in range(33, 37)},
    "37": "10", "38": "20", "39": "20", "40": "19",
    "41": "22", "42": "22", "43": "22",
    **{f"{n}": "23" for n in range(44, 50)},
    "50": "21", "51": "24", "52": "25",
    **{f"{n}": "27" for n in range(53, 60)},
    "60": "26", "61": "26", "62": "26", "63": "29", "64": "30",
    "65": "28", "66": "28", "67": "28", "68": "31", "69": "32", "70": "33", "71": "33",
    "72": "34", "73": "34", "74": "35", "75": "35", "76": "37", "77": "36", "78": "39",
    "79": "38", "80": "40", "81": "40", "82": "40", "83": "40", "84": "41", "85": "42",
    "86": "43", "87": "44", "88": "45", "89": "46", "90": "47", "91": "18", "92": "17",
    "93": "16", "94": "15", "95": "15", "96": "07", "97": "07", "98": "04", "99": "06",
}  # fmt: skip

#: Carrier regions (as in the carriers' own tables) by JIS prefecture code.
REGION_OF_PREFECTURE: dict[str, str] = {
    "01": "hokkaido",
    **dict.fromkeys(("02", "03", "05"), "kita_tohoku"),
    **dict.fromkeys(("04", "06", "07"), "minami_tohoku"),
    **dict.fromkeys(("08", "09", "10", "11", "12", "13", "14", "19"), "kanto"),
    **dict.fromkeys(("15", "20"), "shinetsu"),
    **dict.fromkeys(("16", "17", "18"), "hokuriku"),
    **dict.fromkeys(("21", "22", "23", "24"), "chubu"),
    **dict.fromkeys(("25", "26", "27", "28", "29", "30"), "kansai"),
    **dict.fromkeys(("31", "32", "33", "34", "35"), "chugoku"),
    **dict.fromkeys(("36", "37", "38", "39"), "shikoku"),
    **dict.fromkeys(("40", "41", "42", "43", "44", "45", "46"), "kyushu"),
    "47": "okinawa",
}
REGIONS = frozenset(REGION_OF_PREFECTURE.values())


class LeadTimeError(ValueError):
    """A lead-time CSV that cannot be read; the message names the line and the column."""


@dataclass(frozen=True, slots=True)
class LeadTimeRow:
    origin: str
    destination: str
    days: int
    earliest_slot: str


def prefecture_of(postal_code: str | None) -> str | None:
    """The JIS prefecture code of a Japanese postal code (by its first two digits), or None."""
    digits = "".join(ch for ch in postal_code or "" if ch.isdigit())
    return PREFECTURE_OF_POSTAL.get(digits[:2]) if len(digits) == 7 else None


def _place(value: str, line: int, column: str) -> str:
    value = value.strip().lower()
    if value.isdigit():
        value = f"{int(value):02d}"
    if value not in REGION_OF_PREFECTURE and value not in REGIONS:
        raise LeadTimeError(
            f"line {line}: {column} {value!r} is neither a JIS prefecture code nor a region"
        )
    return value


def parse_leadtimes(text: str) -> list[LeadTimeRow]:
    """Rows of a lead-time CSV (header ``origin,destination,days,earliest_slot``)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise LeadTimeError(f"missing column(s): {', '.join(missing)}")
    rows = []
    for line, record in enumerate(reader, start=2):
        days_text = (record["days"] or "").strip()
        if not days_text.isdigit() or not 0 <= int(days_text) <= 14:
            raise LeadTimeError(f"line {line}: days {days_text!r} is not a number from 0 to 14")
        slot = (record["earliest_slot"] or "").strip()
        if slot and slot not in SLOT_CODES:
            raise LeadTimeError(f"line {line}: earliest_slot {slot!r} is not a known slot")
        rows.append(
            LeadTimeRow(
                origin=_place(record["origin"] or "", line, "origin"),
                destination=_place(record["destination"] or "", line, "destination"),
                days=int(days_text),
                earliest_slot=slot,
            )
        )
    return rows


def default_table() -> list[LeadTimeRow]:
    return list(_parsed_default())


@cache
def _parsed_default() -> tuple[LeadTimeRow, ...]:
    """The packaged table, parsed once per process (parsing cost ~2 ms, once per prediction)."""
    return tuple(parse_leadtimes(DEFAULT_TABLE.read_text(encoding="utf-8")))


#: ``session.info`` key: the lead-time table of each brand, read once per unit of work.
_BRAND_TABLES = "edd_leadtime_tables"


def import_leadtimes(*, session: Session, brand_id: int, rows: list[LeadTimeRow]) -> int:
    """Replace the brand's lead-time table with ``rows``; returns how many were stored."""
    session.info.get(_BRAND_TABLES, {}).pop(brand_id, None)
    session.execute(delete(LeadTime).where(col(LeadTime.brand_id) == brand_id))
    session.add_all(
        LeadTime(
            brand_id=brand_id,
            origin=r.origin,
            destination=r.destination,
            days=r.days,
            earliest_slot=r.earliest_slot,
        )
        for r in rows
    )
    session.flush()
    return len(rows)


def brand_table(*, session: Session, brand_id: int) -> list[LeadTimeRow]:
    """The brand's own table if it loaded one, else the project default.

    Remembered in the session for the unit of work: a batch of events predicts many parcels of
    the same brand, and :func:`import_leadtimes` forgets it when it replaces the table.
    """
    tables: dict[int, list[LeadTimeRow]] = session.info.setdefault(_BRAND_TABLES, {})
    if brand_id not in tables:
        stored = session.exec(select(LeadTime).where(LeadTime.brand_id == brand_id)).all()
        tables[brand_id] = (
            [LeadTimeRow(r.origin, r.destination, r.days, r.earliest_slot) for r in stored]
            if stored
            else list(_parsed_default())
        )
    return tables[brand_id]


def lookup(
    table: list[LeadTimeRow], origin_postal: str | None, destination_postal: str | None
) -> LeadTimeRow | None:
    """The row for these postal codes: the prefecture pair, else the region pair, else None."""
    origin, destination = prefecture_of(origin_postal), prefecture_of(destination_postal)
    if origin is None or destination is None:
        return None
    pairs = {(r.origin, r.destination): r for r in table}
    regions = (REGION_OF_PREFECTURE[origin], REGION_OF_PREFECTURE[destination])
    return pairs.get((origin, destination)) or pairs.get(regions)


def blend(model_days: int, sample_size: int, table_days: int) -> int:
    """Business days of transit from the model (``sample_size`` parcels) and the table."""
    weight = sample_size + TABLE_WEIGHT
    return round((sample_size * model_days + TABLE_WEIGHT * table_days) / weight)
