"""Inspection: condition grades from the WMS or the merchant, and one restock decision per line."""

from __future__ import annotations

import pytest
from sqlmodel import select

from postpurchase.intake.openapi import openapi_document
from postpurchase.intake.operations import record_return
from postpurchase.intake.schemas import ReturnLineIn, ReturnReceivedData
from postpurchase.messaging.catalogue import Trigger
from postpurchase.models import (
    AuditEntry,
    Brand,
    InventoryLevel,
    Order,
    OutboxMessage,
    ReturnLine,
    ReturnResolution,
)
from postpurchase.models.enums import ConditionGrade, RestockAction
from postpurchase.returns.inspection import decide_restock, grade_line
from postpurchase.returns.operations import ReturnError, WantedLine, request_return, transition
from tests.returns.conftest import later


def _rma(session, shop, *, received: bool = True):
    rma = request_return(
        session=session,
        brand=session.get(Brand, shop.brand_id),
        order=session.get(Order, shop.order_id),
        lines=[WantedLine(order_line_id=shop.tee, quantity=2, reason_code="size_too_small")],
        resolution=ReturnResolution.refund,
        now=later(1),
    )
    if received:
        transition(
            session=session,
            brand_id=shop.brand_id,
            return_id=rma.id,
            action="receive",
            now=later(4),
        )
    return rma


def _line(session, rma) -> ReturnLine:
    return session.exec(select(ReturnLine).where(ReturnLine.return_id == rma.id)).one()


def _stock(session, brand_id: int, sku: str, fc: str) -> int | None:
    return session.exec(
        select(InventoryLevel.available).where(
            InventoryLevel.brand_id == brand_id,
            InventoryLevel.sku == sku,
            InventoryLevel.fc_code == fc,
        )
    ).first()


def _report(session, shop, rma, grade: ConditionGrade | None) -> None:
    record_return(
        session=session,
        brand_id=shop.brand_id,
        data=ReturnReceivedData(
            rma_number=rma.rma_number,
            order_id="o-1001",
            lines=[ReturnLineIn(sku="TEE-M", quantity=2, condition="タグ切れ", grade=grade)],
        ),
        occurred_at=later(4),
        now=later(4),
    )


def test_wms_receipt_report_grades_the_lines(session, shop) -> None:
    rma = _rma(session, shop, received=False)
    _report(session, shop, rma, ConditionGrade.B)
    line = _line(session, rma)
    assert (line.grade, line.condition) == (ConditionGrade.B, "タグ切れ")


def test_wms_report_does_not_overwrite_the_merchants_grade(session, shop) -> None:
    rma = _rma(session, shop)
    line = _line(session, rma)
    grade_line(
        session=session,
        brand_id=shop.brand_id,
        line_id=line.id,
        grade=ConditionGrade.C,
        actor="user:ops@acme.example",
        now=later(4),
    )
    _report(session, shop, rma, ConditionGrade.A)
    assert _line(session, rma).grade == ConditionGrade.C


def test_merchant_override_of_a_grade_is_audited_with_the_old_grade(session, shop) -> None:
    rma = _rma(session, shop, received=False)
    _report(session, shop, rma, ConditionGrade.A)
    grade_line(
        session=session,
        brand_id=shop.brand_id,
        line_id=_line(session, rma).id,
        grade=ConditionGrade.D,
        actor="user:ops@acme.example",
        now=later(5),
    )
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "return.grade")).one()
    assert (entry.before, entry.after) == ({"grade": "A"}, {"grade": "D"})


def test_grading_before_receipt_is_refused(session, shop) -> None:
    rma = _rma(session, shop, received=False)
    with pytest.raises(ReturnError) as refused:
        grade_line(
            session=session,
            brand_id=shop.brand_id,
            line_id=_line(session, rma).id,
            grade=ConditionGrade.A,
            actor="user:x",
            now=later(2),
        )
    assert refused.value.code == "state"


def test_another_brands_line_is_unknown(session, shop, make_brand) -> None:
    other_brand = make_brand("other")
    rma = _rma(session, shop)
    with pytest.raises(ReturnError) as refused:
        grade_line(
            session=session,
            brand_id=other_brand.brand_id,
            line_id=_line(session, rma).id,
            grade=ConditionGrade.A,
            actor="user:x",
            now=later(5),
        )
    assert refused.value.code == "unknown_line"


def _grade(session, shop, rma, grade: ConditionGrade) -> ReturnLine:
    return grade_line(
        session=session,
        brand_id=shop.brand_id,
        line_id=_line(session, rma).id,
        grade=grade,
        actor="user:x",
        now=later(5),
    )


def _restock(session, shop, line, action=RestockAction.restock, fc: str | None = "TKY1"):
    return decide_restock(
        session=session,
        brand_id=shop.brand_id,
        line_id=line.id,
        action=action,
        fc_code=fc,
        actor="user:x",
        now=later(5),
    )


def test_restocking_adds_the_units_to_the_centres_stock(session, shop) -> None:
    rma = _rma(session, shop)
    line = _restock(session, shop, _grade(session, shop, rma, ConditionGrade.A))
    assert (line.restock, line.restock_fc_code) == (RestockAction.restock, "TKY1")
    assert _stock(session, shop.brand_id, "TEE-M", "TKY1") == 2


def test_a_line_is_restocked_only_once(session, shop) -> None:
    rma = _rma(session, shop)
    line = _restock(session, shop, _grade(session, shop, rma, ConditionGrade.A))
    with pytest.raises(ReturnError) as refused:
        _restock(session, shop, line)
    assert refused.value.code == "decided"
    assert _stock(session, shop.brand_id, "TEE-M", "TKY1") == 2


def test_damaged_goods_cannot_be_restocked_but_can_be_written_off(session, shop) -> None:
    rma = _rma(session, shop)
    line = _grade(session, shop, rma, ConditionGrade.C)
    with pytest.raises(ReturnError) as refused:
        _restock(session, shop, line)
    assert refused.value.code == "grade"
    written_off = _restock(session, shop, line, RestockAction.write_off, None)
    assert written_off.restock == RestockAction.write_off
    assert _stock(session, shop.brand_id, "TEE-M", "TKY1") is None


def test_restocking_needs_a_grade_first(session, shop) -> None:
    rma = _rma(session, shop)
    with pytest.raises(ReturnError) as refused:
        _restock(session, shop, _line(session, rma))
    assert refused.value.code == "grade"


def test_restocking_to_an_unknown_centre_is_refused(session, shop) -> None:
    rma = _rma(session, shop)
    line = _grade(session, shop, rma, ConditionGrade.B)
    with pytest.raises(ReturnError) as refused:
        _restock(session, shop, line, fc="NOPE")
    assert refused.value.code == "fc_code"


def test_restock_decision_is_sent_to_the_wms_with_grade_and_centre(session, shop) -> None:
    brand = session.get(Brand, shop.brand_id)
    brand.settings = {"returns": {"wms_webhook_url": "https://wms.example/returns"}}
    session.add(brand)
    rma = _rma(session, shop)
    _restock(session, shop, _grade(session, shop, rma, ConditionGrade.A))
    last = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.trigger == Trigger.wms_return)
        .order_by(OutboxMessage.id.desc())  # type: ignore[union-attr]
    ).first()
    document = last.payload["document"]
    assert document["type"] == "return.updated"
    line = document["data"]["lines"][0]
    assert (line["grade"], line["restock"], line["restock_fc_code"]) == ("A", "restock", "TKY1")


def test_openapi_documents_grades_and_restock_in_the_wms_webhook(app) -> None:
    line = openapi_document(app)["components"]["schemas"]["WmsReturnLine"]["properties"]
    assert {"grade", "restock", "restock_fc_code"} <= set(line)
