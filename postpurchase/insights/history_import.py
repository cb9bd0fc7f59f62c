"""Past shipments from a history CSV into a brand's data, so its insights start on day one.

The file is the history format of :mod:`postpurchase.edd.history` (``ordered_at`` must be given,
since the order date places a parcel in a period) plus optional columns: ``failed_attempts``,
``returned_units``, ``return_reason``, ``feedback_score`` (0–10) and ``comment``.

Each row becomes a parcel marked ``imported`` with its own order (external id
``history:<shipment_id>``), an order line carrying ``items`` and ``category``, and where the row
says so a return request and a feedback row. Imported parcels are never tracked and never the
subject of a customer message, and nothing here emits a domain signal.

**All or nothing.** The whole file is checked before anything is written: one bad row and no row
is imported; the error lists every bad line with its column. **Idempotent** by ``shipment_id``:
importing again updates the parcels of the earlier import (and replaces their line, return and
feedback), never duplicates them. A ``shipment_id`` that names a live (not imported) parcel of
the brand is left alone and counted as skipped.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision
from sqlalchemy import delete, insert, text, update
from sqlmodel import Session, col, select

from carriers.status import Handover, Status
from postpurchase.edd.history import REQUIRED_COLUMNS, HistoryError, HistoryRow, _row
from postpurchase.insights.figures import refresh_rollup
from postpurchase.lines import forget as forget_lines
from postpurchase.models import (
    Brand,
    Feedback,
    Order,
    OrderLine,
    ReturnLine,
    ReturnRequest,
    Shipment,
    ShipmentFigures,
)
from postpurchase.models.enums import OrderStatus, ReturnResolution, ReturnState, TimeSlot
from postpurchase.models.types import table_of

EXTRA_COLUMNS: tuple[str, ...] = (
    "failed_attempts",
    "returned_units",
    "return_reason",
    "feedback_score",
    "comment",
    "delivered_to",
    "time_slot",
)
#: Rows written per statement: large enough to be fast, small enough for SQLite's variable limit.
BATCH = 500
#: Ids asked for per ``IN (...)``.
LOOKUP_BATCH = 900
PREFIX = "history:"
MAX_ERRORS = 20


@dataclass(frozen=True, slots=True)
class ImportRow:
    history: HistoryRow
    failed_attempts: int
    returned_units: int
    return_reason: str
    feedback_score: int | None
    comment: str
    delivered_to: Handover | None = None
    time_slot: TimeSlot | None = None


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    skipped: int


def read_import(source: str | Path | IO[str], *, timezone: str, currency: str) -> list[ImportRow]:
    """Every row of the file, or :class:`HistoryError` listing each bad line and column."""
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                return _read(handle, ZoneInfo(timezone), currency, str(path))
        except OSError as exc:
            raise HistoryError(f"{path}: cannot read: {exc.strerror}") from None
    return _read(source, ZoneInfo(timezone), currency, getattr(source, "name", "<history>"))


def _read(handle: IO[str], zone: ZoneInfo, currency: str, name: str) -> list[ImportRow]:
    reader = csv.DictReader(handle)
    if reader.fieldnames is None:
        raise HistoryError(f"{name}: empty file; expected a header row")
    reader.fieldnames = [f.strip() for f in reader.fieldnames]
    missing = [c for c in REQUIRED_COLUMNS if c not in reader.fieldnames]
    if missing:
        raise HistoryError(f"{name}: missing column(s): {', '.join(missing)}")
    rows: list[ImportRow] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for line, record in enumerate(reader, start=2):
        where = f"{name}: line {line}"
        try:
            row = _import_row(record, zone, currency, where)
        except HistoryError as exc:
            errors.append(str(exc))
            if len(errors) >= MAX_ERRORS:
                break
            continue
        first = seen.setdefault(row.history.shipment_id, line)
        if first != line:
            errors.append(
                f"{where}: column shipment_id: {row.history.shipment_id!r} repeats line {first}"
            )
            continue
        rows.append(row)
    if errors:
        raise HistoryError("\n".join([*errors, "nothing was imported"]))
    return rows


def _whole(record: dict[str, Any], column: str, where: str, low: int, high: int) -> int | None:
    raw = (record.get(column) or "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise HistoryError(
            f"{where}: column {column}: not a whole number from {low} to {high}: {raw!r}"
        )
    return int(raw)


def _import_row(record: dict[str, Any], zone: ZoneInfo, currency: str, where: str) -> ImportRow:
    history = _row(record, zone, where)
    if history.ordered_at is None:
        raise HistoryError(
            f"{where}: column ordered_at is empty; the order date places the parcel in a period"
        )
    if history.currency and history.currency.upper() != currency:
        raise HistoryError(
            f"{where}: column currency: {history.currency!r} is not the brand's {currency}"
        )
    for column in ("cost", "order_value", "items", "weight_g"):
        value = getattr(history, column)
        if value is not None and value < 0:
            raise HistoryError(f"{where}: column {column}: must not be negative")
    reason = (record.get("return_reason") or "").strip()
    if len(reason) > 64:
        raise HistoryError(f"{where}: column return_reason: longer than 64 characters")
    slot = (record.get("time_slot") or "").strip()
    if slot and slot not in TimeSlot.__members__.values():
        raise HistoryError(
            f"{where}: column time_slot: {slot[:40]!r} is not one of "
            + ", ".join(TimeSlot.__members__.values())
        )
    return ImportRow(
        history=history,
        time_slot=TimeSlot(slot) if slot else None,
        failed_attempts=_whole(record, "failed_attempts", where, 0, 99) or 0,
        returned_units=_whole(record, "returned_units", where, 0, 9999) or 0,
        return_reason=reason,
        feedback_score=_whole(record, "feedback_score", where, 0, 10),
        comment=(record.get("comment") or "").strip(),
        delivered_to=_place(record, where),
    )


def _place(record: dict[str, Any], where: str) -> Handover | None:
    raw = (record.get("delivered_to") or "").strip()
    if not raw:
        return None
    try:
        return Handover(raw)
    except ValueError:
        known = ", ".join(Handover)
        raise HistoryError(f"{where}: column delivered_to: {raw!r} is not one of {known}") from None


def _minor(value: float | None, currency: str) -> int | None:
    if value is None:
        return None
    try:
        return int(Decimal(str(value)).scaleb(get_currency_precision(currency)).to_integral_value())
    except InvalidOperation:
        return None


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def import_history(
    *,
    session: Session,
    brand_id: int,
    rows: Sequence[ImportRow],
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Write ``rows`` as imported parcels of the brand (see the module docstring); flushes, never commits."""
    brand = session.get(Brand, brand_id)
    if brand is None:
        raise LookupError(f"no brand {brand_id}")
    zone = ZoneInfo(brand.timezone)
    existing: dict[str, tuple[int, int | None, bool]] = {}
    for chunk in _chunks([row.history.shipment_id for row in rows], LOOKUP_BATCH):
        for shipment_id, external_id, order_id, imported in session.execute(
            select(Shipment.id, Shipment.external_id, Shipment.order_id, Shipment.imported).where(
                Shipment.brand_id == brand_id,
                Shipment.parcel_index == 0,
                col(Shipment.external_id).in_(chunk),
            )
        ):
            existing[external_id] = (shipment_id, order_id, imported)
    created = updated = skipped = 0
    statistics = _Statistics(session)
    for chunk in _chunks(rows, BATCH):
        fresh = [row for row in chunk if row.history.shipment_id not in existing]
        again = [
            row
            for row in chunk
            if row.history.shipment_id in existing and existing[row.history.shipment_id][2]
        ]
        skipped += len(chunk) - len(fresh) - len(again)
        order_ids = _write_orders(session, brand, fresh, again, existing, now)
        _write_shipments(session, brand, zone, fresh, again, existing, order_ids, now)
        written = _write_children(session, brand, [*fresh, *again], order_ids, existing, now)
        refresh_rollup(session=session, brand_id=brand_id, now=now, shipment_ids=written)
        statistics.written(len(chunk))
        created += len(fresh)
        updated += len(again)
        if progress is not None:
            progress(len(chunk))
    session.flush()
    return ImportResult(created=created, updated=updated, skipped=skipped)


class _Statistics:
    """Keeps the query planner's statistics current while one transaction imports many rows.

    Without it a new brand has no parcels as far as the planner knows until the import ends, so
    a batch's ``brand_id = X AND id IN (…)`` can walk the brand's index over every row written so
    far instead of looking up the batch's ids: quadratic. PostgreSQL took more than 45 minutes for
    a million rows that way; SQLite chose its primary key's brand prefix for the business days'
    read (0.15 s per batch at 300,000 rows). ``ANALYZE`` in the transaction sees its own inserts;
    on a doubling schedule it runs a few times in all, and SQLite's ``analysis_limit`` keeps each
    run to a sample (milliseconds).
    """

    TABLES = (Order, OrderLine, Shipment, ShipmentFigures, Feedback, ReturnRequest, ReturnLine)
    FIRST = 5_000
    SQLITE_SAMPLE = 1_000

    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name
        self.count, self.next = 0, self.FIRST

    def written(self, rows: int) -> None:
        self.count += rows
        if self.count < self.next:
            return
        self.next *= 2
        names = [f'"{table_of(model).name}"' for model in self.TABLES]
        if self.dialect == "postgresql":
            self.session.execute(text(f"ANALYZE {', '.join(names)}"))
        elif self.dialect == "sqlite":
            self.session.execute(text(f"PRAGMA analysis_limit={self.SQLITE_SAMPLE}"))
            for name in names:  # SQLite analyzes one table (or the whole schema) per statement
                self.session.execute(text(f"ANALYZE {name}"))


def _order_values(brand: Brand, row: ImportRow, now: datetime) -> dict[str, Any]:
    history = row.history
    return {
        "brand_id": brand.id,
        "external_id": PREFIX + history.shipment_id,
        "number": history.shipment_id[:64],
        "status": OrderStatus.closed,
        "channel": "history",
        "placed_at": history.ordered_at,
        "currency": brand.currency,
        "total_amount": _minor(history.order_value, brand.currency) or 0,
        "shipping_amount": 0,
        "shipping_postal_code": history.destination_postal_code or None,
        "shipping_region": history.destination_region or None,
        "shipping_country": history.destination_country or None,
        "attributes": {"imported": True},
        "updated_at": now,
    }


def _write_orders(
    session: Session,
    brand: Brand,
    fresh: Sequence[ImportRow],
    again: Sequence[ImportRow],
    existing: dict[str, tuple[int, int | None, bool]],
    now: datetime,
) -> dict[str, int]:
    """Insert or update each row's order; shipment id → order id."""
    order_ids: dict[str, int] = {}
    if fresh:
        # Core statements (not the ORM's bulk path): several times faster for many rows.
        session.execute(
            insert(table_of(Order)),
            [{**_order_values(brand, row, now), "created_at": now} for row in fresh],
        )
        for external_id, order_id in session.execute(
            select(Order.external_id, Order.id).where(
                Order.brand_id == brand.id,
                col(Order.external_id).in_([PREFIX + row.history.shipment_id for row in fresh]),
            )
        ):
            order_ids[external_id.removeprefix(PREFIX)] = order_id
    updates = []
    for row in again:
        order_id = existing[row.history.shipment_id][1]
        if order_id is None:
            continue
        order_ids[row.history.shipment_id] = order_id
        updates.append({"id": order_id, **_order_values(brand, row, now)})
    if updates:
        session.execute(update(Order), updates)
    return order_ids


def _write_shipments(
    session: Session,
    brand: Brand,
    zone: ZoneInfo,
    fresh: Sequence[ImportRow],
    again: Sequence[ImportRow],
    existing: dict[str, tuple[int, int | None, bool]],
    order_ids: dict[str, int],
    now: datetime,
) -> None:
    def values(row: ImportRow) -> dict[str, Any]:
        history = row.history
        delivered = history.delivered_at
        return {
            "brand_id": brand.id,
            "order_id": order_ids.get(history.shipment_id),
            "external_id": history.shipment_id,
            "parcel_index": 0,
            "carrier_code": history.carrier[:32],
            "service": (history.service or "standard")[:64],
            # Nothing will be learned of an undelivered parcel of the past: it is not polled.
            "status": Status.delivered if delivered else Status.expired,
            "status_changed_at": delivered or history.shipped_at,
            "shipped_at": history.shipped_at,
            "delivered_at": delivered,
            "last_event_at": delivered or history.shipped_at,
            "next_poll_at": None,
            "promised_date": history.promised_at.astimezone(zone).date()
            if history.promised_at
            else None,
            "cost_amount": _minor(history.cost, brand.currency),
            "cost_currency": brand.currency if history.cost is not None else None,
            "weight_g": round(history.weight_g) if history.weight_g is not None else None,
            "destination_postal_code": history.destination_postal_code[:16] or None,
            "destination_region": history.destination_region[:64] or None,
            "destination_country": history.destination_country[:2] or None,
            "failed_attempts": row.failed_attempts,
            "delivered_to": row.delivered_to if delivered else None,
            "time_slot": row.time_slot,
            "imported": True,
            "updated_at": now,
        }

    if fresh:
        session.execute(
            insert(table_of(Shipment)),
            [{**values(row), "created_at": now, "lines": [], "poll_failures": 0} for row in fresh],
        )
    if again:
        session.execute(
            update(Shipment),
            [{"id": existing[row.history.shipment_id][0], **values(row)} for row in again],
        )


def _write_children(
    session: Session,
    brand: Brand,
    rows: Sequence[ImportRow],
    order_ids: dict[str, int],
    existing: dict[str, tuple[int, int | None, bool]],
    now: datetime,
) -> list[int]:
    """The order line, return and feedback of each row, replacing those of an earlier import;
    the ids of the rows' parcels."""
    orders = [
        order_ids[row.history.shipment_id] for row in rows if row.history.shipment_id in order_ids
    ]
    if not orders:
        return []
    returns = select(ReturnRequest.id).where(col(ReturnRequest.order_id).in_(orders))
    session.execute(delete(ReturnLine).where(col(ReturnLine.return_id).in_(returns)))
    session.execute(delete(ReturnRequest).where(col(ReturnRequest.order_id).in_(orders)))
    session.execute(delete(Feedback).where(col(Feedback.order_id).in_(orders)))
    session.execute(delete(OrderLine).where(col(OrderLine.order_id).in_(orders)))
    forget_lines(session, orders)
    shipment_ids = {key: value[0] for key, value in existing.items()}
    missing = [
        row.history.shipment_id for row in rows if row.history.shipment_id not in shipment_ids
    ]
    if missing:
        shipment_ids.update(
            (external_id, shipment_id)
            for shipment_id, external_id in session.execute(
                select(Shipment.id, Shipment.external_id).where(
                    Shipment.brand_id == brand.id,
                    Shipment.parcel_index == 0,
                    col(Shipment.external_id).in_(missing),
                )
            )
        )
    lines, requests, feedback = [], [], []
    for row in rows:
        history = row.history
        order_id = order_ids.get(history.shipment_id)
        if order_id is None:
            continue
        items = round(history.items) if history.items else 1
        lines.append(
            {
                "brand_id": brand.id,
                "order_id": order_id,
                "line_key": "history",
                "sku": "history",
                "name": "",
                "category": history.category or None,
                "quantity": items,
                "unit_price": 0,
                "final_sale": False,
            }
        )
        after = history.delivered_at or history.shipped_at or history.ordered_at
        if row.returned_units:
            requests.append((row, order_id, after))
        if row.feedback_score is not None or row.comment:
            feedback.append(
                {
                    "brand_id": brand.id,
                    "order_id": order_id,
                    "shipment_id": shipment_ids[history.shipment_id],
                    "nps_score": row.feedback_score,
                    "comment": row.comment or None,
                    "created_at": after,
                }
            )
    session.execute(insert(table_of(OrderLine)), lines)
    written = [shipment_ids[row.history.shipment_id] for row in rows]
    if feedback:
        session.execute(insert(table_of(Feedback)), feedback)
    if requests:
        session.execute(
            insert(table_of(ReturnRequest)),
            [
                {
                    "brand_id": brand.id,
                    "order_id": order_id,
                    "rma_number": (PREFIX + row.history.shipment_id)[:64],
                    "state": ReturnState.received,
                    "resolution": ReturnResolution.refund,
                    "currency": brand.currency,
                    "refund_amount": 0,
                    "credit_amount": 0,
                    "received_at": after,
                    "attributes": {"imported": True},
                    "created_at": after,
                    "updated_at": now,
                }
                for row, order_id, after in requests
            ],
        )
        return_ids = dict(
            session.execute(
                select(ReturnRequest.order_id, ReturnRequest.id).where(
                    col(ReturnRequest.order_id).in_([order_id for _, order_id, _ in requests])
                )
            ).all()
        )
        session.execute(
            insert(table_of(ReturnLine)),
            [
                {
                    "brand_id": brand.id,
                    "return_id": return_ids[order_id],
                    "sku": "history",
                    "quantity": row.returned_units,
                    "reason_code": row.return_reason or "other",
                    "comment": row.comment or None,
                }
                for row, order_id, _ in requests
            ],
        )
    return written
