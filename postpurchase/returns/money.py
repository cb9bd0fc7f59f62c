"""What a return is worth to the customer: the preview shown before submitting, and what is executed.

Pure arithmetic in integer minor units of one currency (JPY has none, USD has cents: Babel knows
each currency's digits). The rules, in order:

* **Value**: unit price × quantity returned, per line.
* **Fees** by reason: a flat amount per line plus a percentage of the line's value, never more than
  the line is worth. Reasons where the brand is at fault (:data:`BRAND_AT_FAULT`: damaged, wrong
  item, late) never carry a fee, whatever the settings say.
* **Bonus** for keeping the money in the shop: a percentage of value − fees, for store credit and
  exchange. The bonus never turns into cash: whatever an exchange leaves over is store credit.
* **Price difference** of an exchange: the new items' price − (value − fees + bonus). Above zero the
  customer pays it; below zero the rest is store credit. A brand that pays the difference back
  instead (``exchange.difference_back = "refund"``) refunds value − fees − the new items' price to
  the original payment; the bonus then only lowers what the customer pays, never the refund.
* **Keep the item** when the goods are worth less than a threshold, or less than the return
  shipping would cost: the parcel would cost more than it brings back, so nothing is collected.
  A refund of goods worth less than the brand's "green" threshold is paid without collecting them.

The policy knobs (:class:`MoneyRules`) are the brand's ``returns`` settings, read by
:func:`rules_from`; nothing here is a default a brand cannot change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum

from babel.numbers import get_currency_precision

from postpurchase.models.enums import ExchangeDifference, ReturnResolution
from postpurchase.settings.model import ReturnsPart

#: Reasons where the brand, not the customer, is at fault: never a fee.
BRAND_AT_FAULT = frozenset({"damaged", "wrong_item", "late"})

#: The key of :attr:`MoneyRules.fees` that applies to reasons without a fee of their own.
ANY_REASON = "*"

HUNDRED = Decimal(100)


class KeepReason(StrEnum):
    """Why the customer keeps the goods and is paid all the same."""

    below_threshold = "below_threshold"
    shipping_costs_more = "shipping_costs_more"
    #: A refund below the brand's green threshold: paid without collecting the goods.
    green_refund = "green_refund"


@dataclass(frozen=True)
class Fee:
    """A fee on one returned line: ``flat`` minor units plus ``percent`` of the line's value."""

    flat: int = 0
    percent: Decimal = Decimal(0)


@dataclass(frozen=True)
class MoneyRules:
    """The brand's money knobs, amounts in minor units of the order's currency."""

    #: Reason code (or :data:`ANY_REASON`) → fee.
    fees: Mapping[str, Fee] = field(default_factory=dict)
    #: Percentage added for store credit and exchange (``10`` = +10 %); none unless the brand sets it.
    credit_bonus_percent: Decimal = Decimal(0)
    #: Goods worth less than this (value − fees) are kept by the customer; 0 turns it off.
    keep_item_below: int = 0
    #: What the return parcel costs the brand; goods worth less are kept. 0 turns it off.
    return_shipping_cost: int = 0
    #: Refunds of goods worth less than this are paid without collection; 0 turns it off.
    green_refund_below: int = 0
    #: An exchange for cheaper items refunds the difference instead of giving store credit.
    exchange_refunds_difference: bool = False

    def fee_for(self, reason_code: str) -> Fee:
        if reason_code in BRAND_AT_FAULT:
            return Fee()
        return self.fees.get(reason_code) or self.fees.get(ANY_REASON) or Fee()


def rules_from(part: ReturnsPart) -> MoneyRules:
    """The money knobs of a brand's ``returns`` settings."""
    return MoneyRules(
        fees={
            code: Fee(flat=fee.flat, percent=Decimal(str(fee.percent)))
            for code, fee in part.fees.items()
        },
        credit_bonus_percent=Decimal(str(part.credit_bonus_percent)),
        keep_item_below=part.keep_item_below,
        return_shipping_cost=part.return_shipping_cost,
        green_refund_below=part.green_refund_below,
        exchange_refunds_difference=part.exchange.difference_back == ExchangeDifference.refund,
    )


@dataclass(frozen=True)
class ReturnedItem:
    """One line of a return: the price paid per unit, how many come back, and why."""

    unit_price: int
    quantity: int
    reason_code: str
    #: For an exchange: the unit price of the item sent instead (None: the same price).
    exchange_unit_price: int | None = None


@dataclass(frozen=True)
class LineMoney:
    value: int
    fee: int
    #: Price of the exchange items for this line (0 unless exchanging).
    new_items: int


@dataclass(frozen=True)
class Preview:
    """What the customer gets for a return, in minor units of ``currency``."""

    currency: str
    resolution: ReturnResolution
    lines: tuple[LineMoney, ...]
    #: Σ unit price × quantity.
    value: int
    fees: int
    bonus: int
    #: Paid back to the original payment method.
    refund: int
    #: Issued as store credit (a gift card).
    credit: int
    #: Price of the items sent in exchange.
    new_items: int
    #: What the customer still pays for an exchange that costs more.
    charge: int
    keep_item: KeepReason | None

    @property
    def difference(self) -> int:
        """The exchange's price difference: above zero the customer pays, below zero gets back
        (as credit or refund)."""
        if self.resolution != ReturnResolution.exchange:
            return 0
        return self.charge - self.credit - self.refund


def major_to_minor(amount: Decimal | int | str, currency: str) -> int:
    """``"5.00"`` USD → 500, ``500`` JPY → 500; an amount finer than the currency's digits raises
    ``ValueError`` (``"0.5"`` JPY) instead of being rounded away silently."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise ValueError(f"{amount!r} is not an amount") from None
    if not value.is_finite():
        raise ValueError(f"{amount!r} is not an amount")
    scaled = value.scaleb(get_currency_precision(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} has more decimals than {currency} has")
    return int(scaled)


def percent_of(amount: int, percent: Decimal) -> int:
    """``percent`` % of ``amount`` minor units, to the nearest minor unit (halves up)."""
    return int((Decimal(amount) * percent / HUNDRED).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def line_money(item: ReturnedItem, rules: MoneyRules, resolution: ReturnResolution) -> LineMoney:
    if item.quantity < 0 or item.unit_price < 0:
        raise ValueError("quantities and prices cannot be negative")
    value = item.unit_price * item.quantity
    fee = rules.fee_for(item.reason_code)
    charged = min(value, fee.flat + percent_of(value, fee.percent)) if item.quantity else 0
    new_items = 0
    if resolution == ReturnResolution.exchange:
        unit = item.unit_price if item.exchange_unit_price is None else item.exchange_unit_price
        new_items = unit * item.quantity
    return LineMoney(value=value, fee=charged, new_items=new_items)


def preview(
    items: Sequence[ReturnedItem],
    *,
    currency: str,
    resolution: ReturnResolution,
    rules: MoneyRules,
) -> Preview:
    """The money of a return of ``items`` settled as ``resolution`` under ``rules``."""
    lines = tuple(line_money(item, rules, resolution) for item in items)
    value = sum(line.value for line in lines)
    fees = sum(line.fee for line in lines)
    net = value - fees
    new_items = sum(line.new_items for line in lines)
    bonus = (
        percent_of(net, rules.credit_bonus_percent)
        if resolution in (ReturnResolution.store_credit, ReturnResolution.exchange)
        else 0
    )
    refund = credit = charge = 0
    if resolution == ReturnResolution.refund:
        refund = net
    elif resolution == ReturnResolution.store_credit:
        credit = net + bonus
    elif rules.exchange_refunds_difference:
        # The bonus lowers a payment but is never paid out.
        difference = new_items - net
        bonus = min(bonus, max(difference, 0))
        charge, refund = difference - bonus if difference > 0 else 0, max(-difference, 0)
    else:
        difference = new_items - (net + bonus)
        charge, credit = max(difference, 0), max(-difference, 0)
    return Preview(
        currency=currency,
        resolution=resolution,
        lines=lines,
        value=value,
        fees=fees,
        bonus=bonus,
        refund=refund,
        credit=credit,
        new_items=new_items,
        charge=charge,
        keep_item=keep_item(net, rules, resolution) if value else None,
    )


def keep_item(
    worth: int, rules: MoneyRules, resolution: ReturnResolution | None = None
) -> KeepReason | None:
    """Whether goods worth ``worth`` (value − fees) settled as ``resolution`` should stay with the
    customer, and why."""
    if rules.keep_item_below and worth < rules.keep_item_below:
        return KeepReason.below_threshold
    if rules.return_shipping_cost and worth < rules.return_shipping_cost:
        return KeepReason.shipping_costs_more
    if (
        resolution == ReturnResolution.refund
        and rules.green_refund_below
        and worth < rules.green_refund_below
    ):
        return KeepReason.green_refund
    return None
