"""A brand's return policy (the ``returns`` part of :class:`~postpurchase.settings.model.BrandSettings`) and which lines of an order it lets back.

Settings, all optional::

    {"returns": {"window_days": 30, "auto_approve": true,
                 "final_sale_returnable": false,
                 "categories": [{"category": "food", "returnable": false}],
                 "resolutions": ["refund", "store_credit", "exchange"],
                 "reasons": {"size_too_small": {"ja": "サイズが小さい", "en": "Too small"}, ...},
                 "address": ["〒135-0061", "東京都江東区豊洲1-2-3", "Acme 返品係"]}}

``address`` is where returned parcels go; without it the label shows the brand's first fulfilment centre.

The window counts from the last delivery of the order's parcels; an order with no delivered parcel
cannot be returned yet.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Session, col, func, select

from postpurchase.models import Brand, Order, OrderLine, ReturnLine, ReturnRequest, Shipment
from postpurchase.models.enums import OrderStatus, ReturnResolution, ReturnState
from postpurchase.settings.model import DEFAULT_REASONS, ReturnsPart, settings_for

DEFAULT_WINDOW_DAYS = ReturnsPart.model_fields["window_days"].default

#: Returns in these states no longer hold their quantities (they will not come back).
CLOSED_STATES = (ReturnState.rejected, ReturnState.cancelled)


class NotReturnable(StrEnum):
    """Why a line cannot be returned."""

    order_cancelled = "order_cancelled"
    not_delivered = "not_delivered"
    window_closed = "window_closed"
    final_sale = "final_sale"
    category = "category"
    already_returned = "already_returned"


@dataclass(frozen=True)
class ReturnPolicy:
    window_days: int = DEFAULT_WINDOW_DAYS
    auto_approve: bool = True
    final_sale_returnable: bool = False
    #: Category name → returnable; categories not listed are returnable.
    categories: dict[str, bool] = field(default_factory=dict)
    resolutions: tuple[ReturnResolution, ...] = tuple(ReturnResolution)
    reasons: dict[str, dict[str, str]] = field(default_factory=lambda: dict(DEFAULT_REASONS))
    #: Lines of the return address; empty means the brand's first fulfilment centre.
    address: tuple[str, ...] = ()

    def reason_label(self, code: str, locale: str) -> str:
        labels = self.reasons.get(code, {})
        return labels.get(locale) or labels.get("en") or code

    def category_returnable(self, category: str | None) -> bool:
        return self.categories.get((category or "").strip().lower(), True)


def policy_for(brand: Brand) -> ReturnPolicy:
    """The brand's policy, read from its typed settings (:mod:`postpurchase.settings.model`)."""
    part = settings_for(brand).returns
    return ReturnPolicy(
        window_days=part.window_days,
        auto_approve=part.auto_approve,
        final_sale_returnable=part.final_sale_returnable,
        categories={
            rule.category.strip().lower(): rule.returnable
            for rule in part.categories
            if rule.category.strip()
        },
        resolutions=tuple(ReturnResolution(r) for r in part.resolutions),
        reasons=dict(part.reasons),
        address=tuple(line for line in part.address if line.strip()),
    )


def exchange_family(sku: str) -> str:
    """The item a SKU is a size or colour of: the SKU before its last ``-`` (``TEE-M`` → ``TEE``)."""
    return sku.rsplit("-", 1)[0] if "-" in sku else sku


def is_exchange_for(line_sku: str, candidate: str) -> bool:
    """Whether the policy lets a line of ``line_sku`` be exchanged for ``candidate``: the same item,
    or another size of it. Only these are offered, so no price difference ever arises."""
    return candidate == line_sku or (
        "-" in candidate and exchange_family(candidate) == exchange_family(line_sku)
    )


@dataclass(frozen=True)
class LineEligibility:
    line: OrderLine
    #: How many more of this line may be returned (bought minus already in open returns).
    returnable_quantity: int
    why_not: NotReturnable | None

    @property
    def returnable(self) -> bool:
        return self.why_not is None


@dataclass(frozen=True)
class OrderEligibility:
    order: Order
    delivered_at: datetime | None
    #: Last moment a return may be requested; None before delivery.
    deadline: datetime | None
    lines: list[LineEligibility]

    def line(self, line_id: int) -> LineEligibility | None:
        return next((item for item in self.lines if item.line.id == line_id), None)


@dataclass(frozen=True)
class Returned:
    """Units of an order in returns that are not rejected or cancelled."""

    #: Per order line.
    by_line: dict[int, int]
    #: Per (SKU, variant), of return lines that name no order line (RMAs opened outside the portal).
    unplaced: dict[tuple[str, str | None], int]


def returned_quantities(*, session: Session, order_id: int) -> Returned:
    """What is already in returns of this order that are not rejected or cancelled."""
    rows = session.exec(
        select(
            ReturnLine.order_line_id,
            ReturnLine.sku,
            ReturnLine.variant,
            func.sum(ReturnLine.quantity),
        )
        .join(ReturnRequest, col(ReturnRequest.id) == col(ReturnLine.return_id))
        .where(ReturnRequest.order_id == order_id, col(ReturnRequest.state).not_in(CLOSED_STATES))
        .group_by(ReturnLine.order_line_id, ReturnLine.sku, ReturnLine.variant)
    ).all()
    by_line: dict[int, int] = defaultdict(int)
    unplaced: dict[tuple[str, str | None], int] = defaultdict(int)
    for line_id, sku, variant, total in rows:
        if line_id is not None:
            by_line[line_id] += int(total or 0)
        else:
            unplaced[(sku, variant)] += int(total or 0)
    return Returned(by_line=dict(by_line), unplaced=dict(unplaced))


def order_eligibility(
    *, session: Session, policy: ReturnPolicy, order: Order, now: datetime
) -> OrderEligibility:
    """Per line of ``order``: whether it can be returned now, how many, and why not."""
    delivered = session.exec(
        select(func.max(Shipment.delivered_at)).where(
            Shipment.order_id == order.id, Shipment.brand_id == order.brand_id
        )
    ).one()
    deadline = delivered + timedelta(days=policy.window_days) if delivered is not None else None
    lines = session.exec(
        select(OrderLine).where(OrderLine.order_id == order.id).order_by(col(OrderLine.id))
    ).all()
    returned = returned_quantities(session=session, order_id=order.id)  # type: ignore[arg-type]
    unplaced = defaultdict(int, returned.unplaced)
    result = []
    for line in lines:
        left = max(line.quantity - returned.by_line.get(line.id, 0), 0)  # type: ignore[arg-type]
        # Units returned without naming a line come off the lines of their SKU and variant, first line first.
        share = min(left, unplaced[(line.sku, line.variant)])
        unplaced[(line.sku, line.variant)] -= share
        left -= share
        result.append(
            LineEligibility(
                line=line,
                returnable_quantity=left,
                why_not=_why_not(policy, order, line, left, deadline, now),
            )
        )
    return OrderEligibility(order=order, delivered_at=delivered, deadline=deadline, lines=result)


def _why_not(
    policy: ReturnPolicy,
    order: Order,
    line: OrderLine,
    left: int,
    deadline: datetime | None,
    now: datetime,
) -> NotReturnable | None:
    # A cancelled order is settled by the shop as a whole; a return on top would pay twice.
    if order.status == OrderStatus.cancelled:
        return NotReturnable.order_cancelled
    if line.final_sale and not policy.final_sale_returnable:
        return NotReturnable.final_sale
    if not policy.category_returnable(line.category):
        return NotReturnable.category
    if deadline is None:
        return NotReturnable.not_delivered
    if now > deadline:
        return NotReturnable.window_closed
    if left <= 0:
        return NotReturnable.already_returned
    return None
