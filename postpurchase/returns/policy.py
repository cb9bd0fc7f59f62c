"""A brand's return policy (the ``returns`` part of :class:`~postpurchase.settings.model.BrandSettings`) and which lines of an order it lets back.

Settings, all optional::

    {"returns": {"window_days": 30, "auto_approve": true,
                 "final_sale_returnable": false,
                 "categories": [{"category": "tea", "food": true},
                                {"category": "apparel", "window_days": 60,
                                 "reasons": ["size_too_small", "damaged", "other"]}],
                 "tiers": [{"tier": "gold", "extra_days": 30}],
                 "limit_returns": 5, "limit_days": 90,
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

from postpurchase.models import (
    Brand,
    Customer,
    Order,
    OrderLine,
    ReturnLine,
    ReturnRequest,
    Shipment,
)
from postpurchase.models.enums import LabelPayment, OrderStatus, ReturnResolution, ReturnState
from postpurchase.models.types import id_of
from postpurchase.settings.model import AT_FAULT_REASONS, CategoryRule, ReturnsPart, settings_for

DEFAULT_WINDOW_DAYS: int = ReturnsPart.model_fields["window_days"].default

#: Returns in these states no longer hold their quantities (they will not come back).
CLOSED_STATES = (ReturnState.rejected, ReturnState.cancelled)


class NotReturnable(StrEnum):
    """Why a line cannot be returned."""

    order_cancelled = "order_cancelled"
    not_delivered = "not_delivered"
    window_closed = "window_closed"
    final_sale = "final_sale"
    category = "category"
    food = "food"
    customer_limit = "customer_limit"
    already_returned = "already_returned"


@dataclass(frozen=True)
class ReturnPolicy:
    """The ``returns`` settings as the rules read them (see :func:`policy_for`)."""

    part: ReturnsPart = field(default_factory=ReturnsPart)

    @property
    def window_days(self) -> int:
        return self.part.window_days

    @property
    def auto_approve(self) -> bool:
        return self.part.auto_approve

    @property
    def resolutions(self) -> tuple[ReturnResolution, ...]:
        return tuple(ReturnResolution(r) for r in self.part.resolutions)

    @property
    def reasons(self) -> dict[str, dict[str, str]]:
        """Every reason code the brand knows, with its words."""
        return self.part.reasons

    @property
    def address(self) -> tuple[str, ...]:
        """Lines of the return address; empty means the brand's first fulfilment centre."""
        return tuple(line for line in self.part.address if line.strip())

    @property
    def photo_reasons(self) -> frozenset[str]:
        return frozenset(self.part.photo_reasons)

    @property
    def label_payment(self) -> LabelPayment:
        return LabelPayment(self.part.label_payment)

    def reason_label(self, code: str, locale: str) -> str:
        labels = self.reasons.get(code, {})
        return labels.get(locale) or labels.get("en") or code

    def question(self, code: str, locale: str) -> str | None:
        """The follow-up question asked after ``code``, if the brand has one."""
        words = self.part.questions.get(code) or {}
        return words.get(locale) or words.get("en") or None

    def rule(self, category: str | None) -> CategoryRule | None:
        """The brand's rule for ``category`` (case and surrounding spaces ignored), if any."""
        wanted = (category or "").strip().lower()
        return next(
            (r for r in self.part.categories if r.category.strip().lower() == wanted and wanted),
            None,
        )

    def category_returnable(self, category: str | None) -> bool:
        found = self.rule(category)
        return found is None or found.returnable

    def reasons_for(self, category: str | None) -> tuple[str, ...]:
        """The reason codes offered for an item of ``category``, in order: the category's own list
        (or the general one), only those the brand has words for; hygiene and food items only for
        the brand's own faults."""
        found = self.rule(category)
        listed = found.reasons if found is not None and found.reasons else self.part.general_reasons
        codes = [code for code in dict.fromkeys(listed) if code in self.reasons]
        if found is not None and (found.hygiene or found.food):
            codes = [code for code in codes if code in AT_FAULT_REASONS]
        return tuple(codes)

    def window_for(self, category: str | None, tier: str | None) -> int:
        """Days to return an item of ``category`` for a customer of ``tier``."""
        found = self.rule(category)
        days = (
            found.window_days
            if found is not None and found.window_days is not None
            else self.window_days
        )
        extra = max(
            (t.extra_days for t in self.part.tiers if tier is not None and t.tier == tier),
            default=0,
        )
        return days + extra

    def tier_of(self, customer: Customer | None) -> str | None:
        """The customer's tier (their attribute named by ``tier_attribute``), if they have one."""
        value = (customer.attributes or {}).get(self.part.tier_attribute) if customer else None
        return str(value) if value not in (None, "") else None


def policy_for(brand: Brand) -> ReturnPolicy:
    """The brand's policy, read from its typed settings (:mod:`postpurchase.settings.model`)."""
    return ReturnPolicy(settings_for(brand).returns)


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
    #: Last moment this line may be returned (its category's window); None before delivery.
    deadline: datetime | None = None
    #: Reason codes offered for this line (its category's taxonomy).
    reasons: tuple[str, ...] = ()

    @property
    def returnable(self) -> bool:
        return self.why_not is None


@dataclass(frozen=True)
class OrderEligibility:
    order: Order
    delivered_at: datetime | None
    #: Last moment a return may be requested under the brand's window (and the customer's tier);
    #: a line's category may set its own (:attr:`LineEligibility.deadline`). None before delivery.
    deadline: datetime | None
    lines: list[LineEligibility]
    #: The customer's tier, when the brand gives it a longer window.
    tier: str | None = None
    #: Returns the customer opened within the brand's limit period.
    recent_returns: int = 0

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
        .group_by(col(ReturnLine.order_line_id), col(ReturnLine.sku), col(ReturnLine.variant))
    ).all()
    by_line: dict[int, int] = defaultdict(int)
    unplaced: dict[tuple[str, str | None], int] = defaultdict(int)
    for line_id, sku, variant, total in rows:
        if line_id is not None:
            by_line[line_id] += int(total or 0)
        else:
            unplaced[(sku, variant)] += int(total or 0)
    return Returned(by_line=dict(by_line), unplaced=dict(unplaced))


def recent_returns(*, session: Session, policy: ReturnPolicy, order: Order, now: datetime) -> int:
    """Returns (not rejected or cancelled) the order's customer opened within ``limit_days``: of
    the same customer record, or of the same email when the order names no customer."""
    since = now - timedelta(days=policy.part.limit_days)
    query = (
        select(func.count(col(ReturnRequest.id)))
        .join(Order, col(Order.id) == col(ReturnRequest.order_id))
        .where(
            ReturnRequest.brand_id == order.brand_id,
            col(ReturnRequest.state).not_in(CLOSED_STATES),
            col(ReturnRequest.created_at) >= since,
        )
    )
    if order.customer_id is not None:
        query = query.where(Order.customer_id == order.customer_id)
    elif order.email:
        query = query.where(func.lower(col(Order.email)) == order.email.strip().lower())
    else:
        query = query.where(Order.id == order.id)
    return int(session.exec(query).one())


def order_eligibility(
    *, session: Session, policy: ReturnPolicy, order: Order, now: datetime
) -> OrderEligibility:
    """Per line of ``order``: whether it can be returned now, how many, and why not."""
    delivered = session.exec(
        select(func.max(Shipment.delivered_at)).where(
            Shipment.order_id == order.id, Shipment.brand_id == order.brand_id
        )
    ).one()
    customer = session.get(Customer, order.customer_id) if order.customer_id is not None else None
    tier = policy.tier_of(customer)
    limited = policy.part.limit_returns is not None
    recent = recent_returns(session=session, policy=policy, order=order, now=now) if limited else 0
    over_limit = limited and recent >= (policy.part.limit_returns or 0)
    lines = session.exec(
        select(OrderLine).where(OrderLine.order_id == order.id).order_by(col(OrderLine.id))
    ).all()
    returned = returned_quantities(session=session, order_id=id_of(order))
    unplaced = defaultdict(int, returned.unplaced)
    result = []
    for line in lines:
        left = max(line.quantity - returned.by_line.get(id_of(line), 0), 0)
        # Units returned without naming a line come off the lines of their SKU and variant, first line first.
        share = min(left, unplaced[(line.sku, line.variant)])
        unplaced[(line.sku, line.variant)] -= share
        left -= share
        deadline = _deadline(delivered, policy.window_for(line.category, tier))
        why_not = _why_not(policy, order, line, left, deadline, now)
        if why_not is None and over_limit:
            why_not = NotReturnable.customer_limit
        result.append(
            LineEligibility(
                line=line,
                returnable_quantity=left,
                why_not=why_not,
                deadline=deadline,
                reasons=policy.reasons_for(line.category),
            )
        )
    return OrderEligibility(
        order=order,
        delivered_at=delivered,
        deadline=_deadline(delivered, policy.window_for(None, tier)),
        lines=result,
        tier=tier if policy.window_for(None, tier) != policy.window_days else None,
        recent_returns=recent,
    )


def _deadline(delivered: datetime | None, days: int) -> datetime | None:
    return delivered + timedelta(days=days) if delivered is not None else None


def _why_not(
    policy: ReturnPolicy,
    order: Order,
    line: OrderLine,
    left: int,
    deadline: datetime | None,
    now: datetime,
) -> NotReturnable | None:
    rule = policy.rule(line.category)
    # A cancelled order is settled by the shop as a whole; a return on top would pay twice.
    if order.status == OrderStatus.cancelled:
        return NotReturnable.order_cancelled
    final_sale = line.final_sale or (rule is not None and rule.final_sale)
    if final_sale and not policy.part.final_sale_returnable:
        return NotReturnable.final_sale
    if rule is not None and not rule.returnable:
        return NotReturnable.category
    if rule is not None and rule.food and not policy.part.food_returnable:
        return NotReturnable.food
    if deadline is None:
        return NotReturnable.not_delivered
    if now > deadline:
        return NotReturnable.window_closed
    if left <= 0:
        return NotReturnable.already_returned
    return None
