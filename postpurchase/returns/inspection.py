"""Inspection of received returns: a condition grade per line and a restock decision per line.

The warehouse may grade lines in its ``return.received`` report; the merchant records or overrides
grades in the console. A restock decision puts a line's units back into a fulfilment centre's stock
(:class:`~postpurchase.models.InventoryLevel`) or writes them off, once per line, so stock is never
counted twice; the WMS hears of it in a ``return.updated`` webhook (:mod:`postpurchase.returns.wms`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from postpurchase import audit, signals
from postpurchase.i18n import lazy_gettext as _l
from postpurchase.models import FulfillmentCentre, InventoryLevel, ReturnLine, ReturnRequest
from postpurchase.models.enums import ConditionGrade, RestockAction, ReturnState
from postpurchase.returns.operations import ReturnError
from postpurchase.returns.wms import announce_restock

#: States in which the goods are in the warehouse's hands, so they can be inspected.
INSPECTABLE_STATES = frozenset(
    {ReturnState.received, ReturnState.refunded, ReturnState.credited, ReturnState.exchanged}
)
#: Grades whose goods may go back on sale.
RESELLABLE_GRADES = frozenset({ConditionGrade.A, ConditionGrade.B})


@dataclass(frozen=True)
class ReportedGrade:
    """One line of a WMS receipt report: the SKU, its grade and the warehouse's free-text note."""

    sku: str
    grade: ConditionGrade | None
    condition: str | None = None


def centres(*, session: Session, brand_id: int) -> list[FulfillmentCentre]:
    """The brand's fulfilment centres, the places a line can be restocked to."""
    return list(
        session.exec(
            select(FulfillmentCentre)
            .where(FulfillmentCentre.brand_id == brand_id)
            .order_by(col(FulfillmentCentre.code))
        ).all()
    )


def apply_reported_grades(
    *, session: Session, rma: ReturnRequest, reported: Sequence[ReportedGrade]
) -> int:
    """Copy the warehouse's grades onto the RMA's lines (matched by SKU, in order); a line the
    merchant already graded keeps its grade. Returns how many lines changed."""
    lines = session.exec(
        select(ReturnLine).where(ReturnLine.return_id == rma.id).order_by(col(ReturnLine.id))
    ).all()
    free = list(lines)
    changed = 0
    for report in reported:
        line = next((line for line in free if line.sku == report.sku), None)
        if line is None:
            continue
        free.remove(line)
        if report.condition and not line.condition:
            line.condition = report.condition
        if report.grade is not None and line.grade is None:
            line.grade = report.grade
            changed += 1
        session.add(line)
    session.flush()
    return changed


def _inspectable_line(
    session: Session, brand_id: int, line_id: int
) -> tuple[ReturnLine, ReturnRequest]:
    line = session.get(ReturnLine, line_id)
    if line is None or line.brand_id != brand_id:
        raise ReturnError("unknown_line", _l("No such return line."))
    rma = session.get_one(ReturnRequest, line.return_id)
    if rma.state not in INSPECTABLE_STATES:
        raise ReturnError("state", _l("%(rma)s has not been received yet.", rma=rma.rma_number))
    return line, rma


def grade_line(
    *,
    session: Session,
    brand_id: int,
    line_id: int,
    grade: ConditionGrade,
    actor: str,
    now: datetime,
) -> ReturnLine:
    """Record or override the grade of a received line (audited with the grade it replaced)."""
    line, rma = _inspectable_line(session, brand_id, line_id)
    before = line.grade
    line.grade = grade
    session.add(line)
    rma.updated_at = now
    session.add(rma)
    session.flush()
    audit.record(
        session=session,
        brand_id=brand_id,
        actor=actor,
        action="return.grade",
        subject=f"{rma.rma_number} {line.sku}",
        before={"grade": before.value if before else None},
        after={"grade": grade.value},
    )
    return line


def decide_restock(
    *,
    session: Session,
    brand_id: int,
    line_id: int,
    action: RestockAction,
    fc_code: str | None,
    actor: str,
    now: datetime,
) -> ReturnLine:
    """Restock a graded line at ``fc_code`` (its units become available there) or write it off.

    Decided once per line: a second decision is refused, so the same units never enter stock twice.
    Only resellable grades (A, B) may be restocked."""
    line, rma = _inspectable_line(session, brand_id, line_id)
    if line.restock is not None:
        raise ReturnError("decided", _l("%(sku)s has been decided already.", sku=line.sku))
    if line.grade is None:
        raise ReturnError("grade", _l("Grade %(sku)s before deciding.", sku=line.sku))
    if action == RestockAction.restock:
        if line.grade not in RESELLABLE_GRADES:
            raise ReturnError(
                "grade",
                _l(
                    "%(sku)s is graded %(grade)s: it cannot go back on sale.",
                    sku=line.sku,
                    grade=line.grade.value,
                ),
            )
        centre = session.exec(
            select(FulfillmentCentre).where(
                FulfillmentCentre.brand_id == brand_id, FulfillmentCentre.code == (fc_code or "")
            )
        ).first()
        if centre is None:
            raise ReturnError("fc_code", _l("Choose the fulfilment centre to restock to."))
        _add_stock(session, brand_id=brand_id, line=line, fc_code=centre.code, now=now)
        line.restock_fc_code = centre.code
    line.restock = action
    session.add(line)
    rma.updated_at = now
    session.add(rma)
    session.flush()
    audit.record(
        session=session,
        brand_id=brand_id,
        actor=actor,
        action="return.restock",
        subject=f"{rma.rma_number} {line.sku}",
        after={
            "restock": action.value,
            "fc_code": line.restock_fc_code,
            "quantity": line.quantity,
            "grade": line.grade.value,
        },
    )
    announce_restock(session=session, rma=rma, line_id=line_id, now=now)
    return line


def _add_stock(
    session: Session, *, brand_id: int, line: ReturnLine, fc_code: str, now: datetime
) -> None:
    level = session.exec(
        select(InventoryLevel)
        .where(
            InventoryLevel.brand_id == brand_id,
            InventoryLevel.sku == line.sku,
            InventoryLevel.fc_code == fc_code,
        )
        .with_for_update()
    ).first()
    if level is None:
        level = InventoryLevel(
            brand_id=brand_id, sku=line.sku, variant=line.variant, fc_code=fc_code
        )
    level.available = (level.available or 0) + line.quantity
    level.updated_at = now
    session.add(level)
    session.flush()
    signals.inventory_updated.send(brand_id, session=session, skus=[line.sku], now=now)
