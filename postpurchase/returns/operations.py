"""The RMA lifecycle: a customer asks, the policy checks, the merchant approves, receives and resolves.

States::

    requested ─approve→ approved ─issue label→ label_issued ─(WMS / merchant)→ received
        └────────reject────┴──────────────────────┘                        └→ refunded | credited | exchanged

Every change emits :data:`postpurchase.signals.return_updated` in the caller's unit of work.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from flask_babel import LazyString
from sqlmodel import Session, col, select

from postpurchase import signals
from postpurchase.i18n import lazy_gettext as _l
from postpurchase.lookup import normalize_order_number
from postpurchase.models import Brand, Order, ReturnLine, ReturnRequest
from postpurchase.models.enums import ReturnResolution, ReturnState
from postpurchase.models.types import id_of
from postpurchase.returns import exchange
from postpurchase.returns.exchange import ExchangeOption
from postpurchase.returns.money import MoneyRules, Preview, ReturnedItem, preview, rules_from
from postpurchase.returns.policy import (
    OrderEligibility,
    ReturnPolicy,
    order_eligibility,
    policy_for,
)
from postpurchase.returns.wording import NOT_RETURNABLE_LABELS, RESOLUTION_LABELS, STATE_LABELS

#: Letters and digits that cannot be misread for one another (no 0/O, 1/I/L).
RMA_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
RMA_SUFFIX_LENGTH = 4

#: The state each merchant action reaches, and the states it may start from.
TRANSITIONS: dict[str, tuple[ReturnState, tuple[ReturnState, ...]]] = {
    "approve": (ReturnState.approved, (ReturnState.requested,)),
    "issue_label": (ReturnState.label_issued, (ReturnState.approved,)),
    "reject": (
        ReturnState.rejected,
        (ReturnState.requested, ReturnState.approved, ReturnState.label_issued),
    ),
    "receive": (
        ReturnState.received,
        (ReturnState.approved, ReturnState.label_issued, ReturnState.in_transit),
    ),
    "refund": (ReturnState.refunded, (ReturnState.received,)),
    "credit": (ReturnState.credited, (ReturnState.received,)),
    "exchange": (ReturnState.exchanged, (ReturnState.received,)),
}

#: The resolution each closing action settles: an RMA is settled the way the customer asked, since
#: its amounts (refund, credit, exchange item) were worked out for that.
SETTLES: dict[str, ReturnResolution] = {
    "refund": ReturnResolution.refund,
    "credit": ReturnResolution.store_credit,
    "exchange": ReturnResolution.exchange,
}

#: States in which the customer's return label is valid.
LABEL_STATES = (ReturnState.label_issued, ReturnState.in_transit)


class ReturnError(ValueError):
    """A return that cannot be made or a step that cannot be taken; ``message`` says why, translated."""

    def __init__(self, code: str, message: LazyString | str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


@dataclass(frozen=True)
class WantedLine:
    """One line of a return request: which order line, how many, why, and the exchange item if any."""

    order_line_id: int
    quantity: int
    reason_code: str
    comment: str | None = None
    exchange_sku: str | None = None


@dataclass(frozen=True)
class PortalForm:
    eligibility: OrderEligibility
    #: Order line id → in-stock exchange choices (:func:`~postpurchase.returns.exchange.exchange_options`).
    exchanges: dict[int, list[ExchangeOption]]

    @property
    def exchange_prices(self) -> dict[str, int]:
        """Unit price of every item offered in exchange, by SKU."""
        return {
            option.sku: option.unit_price
            for options in self.exchanges.values()
            for option in options
        }


def portal_form(*, session: Session, brand: Brand, order: Order, now: datetime) -> PortalForm:
    """What the customer may return from ``order`` now, and what each line can be exchanged for."""
    policy = policy_for(brand)
    eligibility = order_eligibility(session=session, policy=policy, order=order, now=now)
    exchanges = {}
    if ReturnResolution.exchange in policy.resolutions:
        exchanges = {
            id_of(item.line): exchange.exchange_options(
                session=session,
                brand_id=id_of(brand),
                line=item.line,
                currency=order.currency,
                rule=policy.part.exchange,
                now=now,
            )
            for item in eligibility.lines
            if item.returnable
        }
    return PortalForm(eligibility=eligibility, exchanges=exchanges)


def money_rules(brand: Brand) -> MoneyRules:
    """The brand's fees, bonus and keep-item thresholds (:mod:`postpurchase.returns.money`): the one
    place the portal and :func:`create_return` get them from (the brand's ``returns`` settings)."""
    return rules_from(policy_for(brand).part)


def preview_return(
    *,
    eligibility: OrderEligibility,
    lines: Sequence[WantedLine],
    resolution: ReturnResolution,
    rules: MoneyRules,
    exchange_prices: Mapping[str, int] | None = None,
) -> Preview:
    """What returning ``lines`` would bring the customer (:func:`postpurchase.returns.money.preview`);
    lines that are not part of the order are left out (:func:`create_return` refuses them).

    ``exchange_prices`` (SKU → unit price) prices the items sent in exchange; an item not in it
    costs what the returned one did (another size of it)."""
    prices = exchange_prices or {}
    items = [
        ReturnedItem(
            unit_price=found.line.unit_price,
            quantity=item.quantity,
            reason_code=item.reason_code,
            exchange_unit_price=prices.get(item.exchange_sku) if item.exchange_sku else None,
        )
        for item in lines
        if (found := eligibility.line(item.order_line_id)) is not None
    ]
    return preview(items, currency=eligibility.order.currency, resolution=resolution, rules=rules)


def new_rma_number(*, session: Session, brand_id: int, order_number: str) -> str:
    """``R-<order number>-<4 random letters/digits>``, unique within the brand."""
    base = f"R-{normalize_order_number(order_number)}-"
    while True:
        candidate = base + "".join(secrets.choice(RMA_ALPHABET) for _ in range(RMA_SUFFIX_LENGTH))
        taken = session.exec(
            select(ReturnRequest.id).where(
                ReturnRequest.brand_id == brand_id, ReturnRequest.rma_number == candidate
            )
        ).first()
        if taken is None:
            return candidate


def create_return(
    *,
    session: Session,
    brand: Brand,
    order: Order,
    lines: Sequence[WantedLine],
    resolution: ReturnResolution,
    comment: str | None = None,
    now: datetime,
    rules: MoneyRules | None = None,
) -> ReturnRequest:
    """Check ``lines`` against the brand's policy and open an RMA: ``approved`` when the policy
    approves by itself, ``requested`` otherwise. Raises :class:`ReturnError` saying what is wrong.

    The amounts are worked out under ``rules`` (fees, bonus; the brand's unless given) exactly as
    the customer's preview was."""
    policy = policy_for(brand)
    brand_id = id_of(brand)
    rules = rules or money_rules(brand)
    if order.brand_id != brand.id:
        raise ReturnError("unknown_order", _l("This order does not belong to this shop."))
    if resolution not in policy.resolutions:
        raise ReturnError("resolution", _l("This shop does not offer that kind of return."))
    if any(item.quantity < 0 for item in lines):
        raise ReturnError("quantity", _l("Quantities to return cannot be negative."))
    wanted = [item for item in lines if item.quantity > 0]
    if not wanted:
        raise ReturnError("no_lines", _l("Choose at least one item to return."))
    # Two requests for the same order must not both take the last units: lock the order row
    # (PostgreSQL; SQLite serializes writers anyway and ignores FOR UPDATE).
    session.exec(select(Order.id).where(Order.id == order.id).with_for_update()).one()
    eligibility = order_eligibility(session=session, policy=policy, order=order, now=now)
    # One order line may come in several entries (say, one per reason): their sum is what must fit.
    per_line: Counter[int] = Counter()
    for item in wanted:
        per_line[item.order_line_id] += item.quantity
    for item in wanted:
        allowed = eligibility.line(item.order_line_id)
        if allowed is None:
            raise ReturnError("unknown_line", _l("That item is not part of this order."))
        name = allowed.line.name or allowed.line.sku
        if allowed.why_not is not None:
            raise ReturnError(
                str(allowed.why_not),
                _l(
                    "%(item)s cannot be returned: %(why)s",
                    item=name,
                    why=NOT_RETURNABLE_LABELS[allowed.why_not],
                ),
            )
        if per_line[item.order_line_id] > allowed.returnable_quantity:
            raise ReturnError(
                "quantity",
                _l(
                    "At most %(count)s of %(item)s can be returned.",
                    count=allowed.returnable_quantity,
                    item=name,
                ),
            )
        if item.reason_code not in allowed.reasons:
            raise ReturnError("reason", _l("Choose a reason for returning %(item)s.", item=name))
    prices: dict[str, int] = {}
    if resolution == ReturnResolution.exchange:
        prices = _check_exchanges(
            session=session, brand=brand, eligibility=eligibility, wanted=wanted, now=now
        )
    money = preview_return(
        eligibility=eligibility,
        lines=wanted,
        resolution=resolution,
        rules=rules,
        exchange_prices=prices,
    )
    state = ReturnState.approved if policy.auto_approve else ReturnState.requested
    rma = ReturnRequest(
        brand_id=brand_id,
        order_id=id_of(order),
        state=state,
        resolution=resolution,
        rma_number=new_rma_number(session=session, brand_id=brand_id, order_number=order.number),
        refund_amount=money.refund,
        credit_amount=money.credit,
        currency=order.currency,
        attributes={
            **({"comment": comment} if comment else {}),
            "money": money_record(money),
            "policy": policy_record(eligibility, policy, auto_approved=policy.auto_approve),
        },
        created_at=now,
        updated_at=now,
    )
    session.add(rma)
    session.flush()
    # Every wanted line was checked against the order above.
    chosen = [
        (item, found.line) for item in wanted if (found := eligibility.line(item.order_line_id))
    ]
    for item, line in chosen:
        session.add(
            ReturnLine(
                brand_id=brand_id,
                return_id=id_of(rma),
                order_line_id=line.id,
                sku=line.sku,
                variant=line.variant,
                quantity=item.quantity,
                reason_code=item.reason_code,
                comment=item.comment or None,
                exchange_sku=(item.exchange_sku or line.sku)
                if resolution == ReturnResolution.exchange
                else None,
            )
        )
    session.flush()
    if resolution == ReturnResolution.exchange:
        exchange.reserve(
            session=session,
            rma=rma,
            units=_exchange_units(wanted, eligibility),
            hold_days=policy.part.exchange.hold_days,
            now=now,
        )
    _emit(session, rma, None, now)
    return rma


def _exchange_units(wanted: Sequence[WantedLine], eligibility: OrderEligibility) -> Counter[str]:
    """Units wanted per SKU sent in exchange (the returned item's own SKU when none is named)."""
    units: Counter[str] = Counter()
    for item in wanted:
        found = eligibility.line(item.order_line_id)
        if found is not None:
            units[item.exchange_sku or found.line.sku] += item.quantity
    return units


def _check_exchanges(
    *,
    session: Session,
    brand: Brand,
    eligibility: OrderEligibility,
    wanted: Sequence[WantedLine],
    now: datetime,
) -> dict[str, int]:
    """Check every exchange item against the brand's rule and the stock left after the units held
    for other RMAs, under the stock rows' lock; return the unit price of each (by SKU)."""
    brand_id = id_of(brand)
    rule = policy_for(brand).part.exchange
    units = _exchange_units(wanted, eligibility)
    # Whoever locks second reads the first one's reservation once it commits.
    exchange.lock_stock(session=session, brand_id=brand_id, skus=list(units))
    left = exchange.available_stock(session=session, brand_id=brand_id, skus=list(units), now=now)
    prices: dict[str, int] = {}
    for item in wanted:
        found = eligibility.line(item.order_line_id)
        if found is None:
            continue
        line = found.line
        target = item.exchange_sku or line.sku
        name = line.name or line.sku
        allowed = {
            option.sku: option
            for option in exchange.exchange_candidates(
                session=session,
                brand_id=brand_id,
                line=line,
                currency=eligibility.order.currency,
                rule=rule,
                now=now,
            )
        }
        if target not in allowed and target != line.sku:
            raise ReturnError(
                "exchange_sku",
                _l("%(item)s cannot be exchanged for that item.", item=name)
                if rule.other_products
                else _l(
                    "%(item)s can only be exchanged for another size of the same item.",
                    item=name,
                ),
            )
        if left.get(target, 0) < units[target]:
            raise ReturnError(
                "out_of_stock",
                _l(
                    "%(item)s is out of stock, so it cannot be exchanged now. "
                    "Choose a refund or store credit instead.",
                    item=name,
                ),
            )
        if target in allowed and not allowed[target].same_item:
            prices[target] = allowed[target].unit_price
    return prices


def money_record(money: Preview) -> dict[str, int | str | None]:
    """The preview's breakdown as kept on the RMA (``attributes["money"]``): what the customer was shown."""
    return {
        "value": money.value,
        "fees": money.fees,
        "bonus": money.bonus,
        "new_items": money.new_items,
        "charge": money.charge,
        "keep_item": money.keep_item.value if money.keep_item else None,
    }


def policy_record(
    eligibility: OrderEligibility, policy: ReturnPolicy, *, auto_approved: bool
) -> dict[str, int | str | bool | None]:
    """What the policy decided about an RMA, kept on it (``attributes["policy"]``) for the merchant:
    the window that applied (and the tier that lengthened it), and whether it approved by itself."""
    return {
        "window_days": policy.window_for(None, eligibility.tier),
        "tier": eligibility.tier,
        "auto_approved": auto_approved,
        "recent_returns": eligibility.recent_returns,
    }


def request_return(
    *,
    session: Session,
    brand: Brand,
    order: Order,
    lines: Sequence[WantedLine],
    resolution: ReturnResolution,
    comment: str | None = None,
    now: datetime,
    rules: MoneyRules | None = None,
) -> ReturnRequest:
    """What the customer portal does: open the RMA and, once approved, issue its label."""
    rma = create_return(
        session=session,
        brand=brand,
        order=order,
        lines=lines,
        resolution=resolution,
        comment=comment,
        now=now,
        rules=rules,
    )
    if rma.state == ReturnState.approved:
        transition(
            session=session,
            brand_id=id_of(brand),
            return_id=id_of(rma),
            action="issue_label",
            now=now,
        )
    return rma


def transition(
    *, session: Session, brand_id: int, return_id: int, action: str, now: datetime
) -> ReturnRequest:
    """A merchant action (``approve``, ``reject``, ``receive``, ``refund``, ``credit``, ``exchange``).

    Approving also issues the label (it is rendered on demand, so it exists once approved)."""
    # Lock the RMA so that two actions at once (a double click, the WMS) cannot both start from one state.
    rma = session.exec(
        select(ReturnRequest)
        .where(ReturnRequest.id == return_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if rma is None or rma.brand_id != brand_id:
        raise ReturnError("unknown_return", _l("No such return."))
    if action not in TRANSITIONS:
        raise ReturnError("unknown_action", _l("Unknown action."))
    target, sources = TRANSITIONS[action]
    if rma.state not in sources:
        raise ReturnError(
            "state",
            _l(
                "This return cannot go from %(current)s to %(target)s.",
                current=STATE_LABELS[rma.state],
                target=STATE_LABELS[target],
            ),
        )
    if not _settles(action, rma):
        raise ReturnError(
            "resolution",
            _l(
                "The customer asked for: %(resolution)s. Settle this return that way.",
                resolution=RESOLUTION_LABELS[rma.resolution],
            ),
        )
    previous = rma.state
    rma.state = target
    rma.updated_at = now
    if target == ReturnState.received:
        rma.received_at = now
    if target == ReturnState.label_issued:
        # The hand-over deadline counts from here (the label and status page show it).
        rma.attributes = {**(rma.attributes or {}), "label_issued_at": now.isoformat()}
    session.add(rma)
    session.flush()
    _emit(session, rma, previous, now)
    if action == "approve":
        return transition(
            session=session, brand_id=brand_id, return_id=return_id, action="issue_label", now=now
        )
    return rma


#: What systems outside the portal and console may report about an RMA, and from which states: the
#: warehouse receives the goods; the commerce platform refunds. A rejected, cancelled or settled RMA
#: never moves back because of such a report.
EXTERNAL_REPORTS: dict[ReturnState, tuple[ReturnState, ...]] = {
    ReturnState.received: (
        ReturnState.requested,
        ReturnState.approved,
        ReturnState.label_issued,
        ReturnState.in_transit,
    ),
    ReturnState.refunded: (
        ReturnState.requested,
        ReturnState.approved,
        ReturnState.label_issued,
        ReturnState.in_transit,
        ReturnState.received,
    ),
}


def record_external(
    *,
    session: Session,
    rma: ReturnRequest,
    state: ReturnState,
    at: datetime,
    now: datetime,
    refund_amount: int | None = None,
) -> bool:
    """Apply a WMS or platform report (``received``, ``refunded``) through the state machine.

    Returns whether the RMA changed. A report the machine does not allow from the RMA's state raises
    :class:`ReturnError`; a repeat of the state it is already in changes nothing (and never
    overwrites the amount a first refund report recorded).
    """
    if rma.state == state:
        return False
    if state not in EXTERNAL_REPORTS or rma.state not in EXTERNAL_REPORTS[state]:
        raise ReturnError(
            "state",
            _l(
                "This return cannot go from %(current)s to %(target)s.",
                current=STATE_LABELS[rma.state],
                target=STATE_LABELS[state],
            ),
        )
    previous = rma.state
    rma.state = state
    rma.updated_at = now
    if state == ReturnState.received:
        rma.received_at = at
    if refund_amount is not None:
        rma.refund_amount = refund_amount
    session.add(rma)
    session.flush()
    _emit(session, rma, previous, now)
    return True


def can_take(rma: ReturnRequest, action: str) -> bool:
    """Whether the merchant may take ``action`` on ``rma`` now (the buttons offered)."""
    return action in TRANSITIONS and rma.state in TRANSITIONS[action][1] and _settles(action, rma)


def _settles(action: str, rma: ReturnRequest) -> bool:
    return action not in SETTLES or SETTLES[action] == rma.resolution


def _emit(
    session: Session, rma: ReturnRequest, previous: ReturnState | None, now: datetime
) -> None:
    signals.return_updated.send(
        rma.id,
        session=session,
        brand_id=rma.brand_id,
        previous=previous,
        current=rma.state,
        now=now,
    )


def return_lines(*, session: Session, return_ids: Sequence[int]) -> dict[int, list[ReturnLine]]:
    found: dict[int, list[ReturnLine]] = {}
    if return_ids:
        for line in session.exec(
            select(ReturnLine)
            .where(col(ReturnLine.return_id).in_(return_ids))
            .order_by(col(ReturnLine.id))
        ).all():
            found.setdefault(line.return_id, []).append(line)
    return found
