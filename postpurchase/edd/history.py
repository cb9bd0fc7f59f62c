"""Delivered-shipment history: the CSV format other tools exchange, parsed into typed rows.

Header row; ISO-8601 timestamps with or without offset (naive values are local time of the
history's timezone); an empty cell means unknown.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

REQUIRED_COLUMNS: tuple[str, ...] = (
    "shipment_id",
    "carrier",
    "service",
    "origin_postal_code",
    "origin_region",
    "destination_postal_code",
    "destination_region",
    "destination_country",
    "ordered_at",
    "shipped_at",
    "delivered_at",
    "promised_at",
    "cost",
    "currency",
)
OPTIONAL_COLUMNS: tuple[str, ...] = ("items", "weight_g", "order_value", "category")
TIMESTAMP_COLUMNS = ("ordered_at", "shipped_at", "delivered_at", "promised_at")
NUMBER_COLUMNS = ("cost", "items", "weight_g", "order_value")

#: Where naive timestamps are read when the caller does not say (the country's main zone).
COUNTRY_TIMEZONES: dict[str, str] = {
    "JP": "Asia/Tokyo",
    "BR": "America/Sao_Paulo",
    "US": "America/New_York",
    "GB": "Europe/London",
    "DE": "Europe/Berlin",
    "FR": "Europe/Paris",
    "KR": "Asia/Seoul",
    "TW": "Asia/Taipei",
    "CN": "Asia/Shanghai",
    "AU": "Australia/Sydney",
}


def timezone_for(country: str) -> str:
    return COUNTRY_TIMEZONES.get(country.upper(), "UTC")


class HistoryError(ValueError):
    """A history file that cannot be used; the message names the line and column."""


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One shipment of the history (delivered or not)."""

    shipment_id: str
    carrier: str
    service: str
    origin_postal_code: str
    origin_region: str
    destination_postal_code: str
    destination_region: str
    destination_country: str
    ordered_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    promised_at: datetime | None
    cost: float | None = None
    currency: str = ""
    items: float | None = None
    weight_g: float | None = None
    order_value: float | None = None
    category: str = ""


def parse_timestamp(value: str, zone: ZoneInfo) -> datetime | None:
    """ISO-8601 with or without offset (``T`` or space); naive values are local to ``zone``."""
    value = value.strip()
    if not value:
        return None
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def read_history(source: str | Path | IO[str], *, timezone: str = "UTC") -> list[HistoryRow]:
    """Parse a history CSV; raise :class:`HistoryError` naming the first bad line."""
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                return _read(handle, ZoneInfo(timezone), str(path))
        except OSError as exc:
            raise HistoryError(f"{path}: cannot read: {exc.strerror}") from None
    return _read(source, ZoneInfo(timezone), getattr(source, "name", "<history>"))


def _read(handle: IO[str], zone: ZoneInfo, name: str) -> list[HistoryRow]:
    reader = csv.DictReader(handle)
    if reader.fieldnames is None:
        raise HistoryError(f"{name}: empty file; expected a header row")
    header = [f.strip() for f in reader.fieldnames]
    reader.fieldnames = header
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise HistoryError(f"{name}: missing column(s): {', '.join(missing)}")
    rows = []
    for line, record in enumerate(reader, start=2):
        rows.append(_row(record, zone, f"{name}: line {line}"))
    return rows


def _row(record: dict[str, str | None], zone: ZoneInfo, where: str) -> HistoryRow:
    def text(column: str) -> str:
        return (record.get(column) or "").strip()

    values: dict[str, object] = {}
    for column in TIMESTAMP_COLUMNS:
        try:
            values[column] = parse_timestamp(text(column), zone)
        except ValueError:
            raise HistoryError(
                f"{where}: column {column}: not an ISO-8601 timestamp: {text(column)!r}"
            ) from None
    for column in NUMBER_COLUMNS:
        raw = text(column)
        try:
            values[column] = float(raw) if raw else None
        except ValueError:
            raise HistoryError(f"{where}: column {column}: not a number: {raw!r}") from None
    if not text("shipment_id"):
        raise HistoryError(f"{where}: column shipment_id is empty")
    return HistoryRow(
        shipment_id=text("shipment_id"),
        carrier=text("carrier"),
        service=text("service"),
        origin_postal_code=text("origin_postal_code"),
        origin_region=text("origin_region"),
        destination_postal_code=text("destination_postal_code"),
        destination_region=text("destination_region"),
        destination_country=text("destination_country").upper(),
        currency=text("currency"),
        category=text("category"),
        # the numeric columns, parsed above by name: mypy cannot match a dict to keyword types
        **values,  # type: ignore[arg-type]
    )


def write_history(rows: Iterable[HistoryRow], handle: IO[str]) -> None:
    """Write rows in the history CSV format (timestamps as ISO-8601 with offset)."""
    columns = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    writer = csv.writer(handle)
    writer.writerow(columns)
    for row in rows:
        cells = []
        for column in columns:
            value = getattr(row, column)
            if isinstance(value, datetime):
                cells.append(value.isoformat())
            elif value is None:
                cells.append("")
            elif isinstance(value, float) and value.is_integer():
                cells.append(str(int(value)))
            else:
                cells.append(str(value))
        writer.writerow(cells)
