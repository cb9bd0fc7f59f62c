"""The console's segments page (every segment's size, the personas in words, suppressions per
trigger) and the customer page (one customer's profile), thin views over :mod:`.operations`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_babel import get_locale

from postpurchase.clock import utcnow
from postpurchase.db import get_session
from postpurchase.i18n import format_money
from postpurchase.i18n import lazy_gettext as _l
from postpurchase.messaging.catalogue import CATALOGUE, PURPOSE_LABELS
from postpurchase.messaging.config import brand_settings
from postpurchase.messaging.reasons import describe as describe_reason
from postpurchase.models import Brand
from postpurchase.models.types import id_of
from postpurchase.personas import operations
from postpurchase.profiles import Situation, Stock
from postpurchase.recommendations import LEFT_OUT_LABELS
from postpurchase.returns.policy import policy_for
from postpurchase.settings.model import settings_for
from postpurchase.web.merchant import require_merchant
from postpurchase.web.wording import CHANNEL_LABELS

merchant_segments = Blueprint("merchant_segments", __name__, url_prefix="/merchant")

#: Suppressions counted on the segments page: the last this many days.
SUPPRESSION_DAYS = 30

SITUATION_LABELS = {
    Situation.none: _l("No parcel yet"),
    Situation.in_transit: _l("Parcel on its way"),
    Situation.delayed: _l("Parcel late against its promise"),
    Situation.problem: _l("Parcel with a problem"),
    Situation.delivered: _l("Parcel delivered"),
}
STOCK_LABELS = {
    Stock.in_stock: _l("What they last bought is in stock"),
    Stock.sold_out: _l("What they last bought is sold out"),
    Stock.unknown: _l("Stock not known"),
}


@merchant_segments.context_processor
def _words() -> dict[str, Any]:
    locale = str(get_locale())
    return {
        "situation_labels": SITUATION_LABELS,
        "stock_labels": STOCK_LABELS,
        "channel_labels": CHANNEL_LABELS,
        "purpose_labels": PURPOSE_LABELS,
        "trigger_labels": {trigger: spec.label for trigger, spec in CATALOGUE.items()},
        "message_reason": describe_reason,
        "left_out_labels": LEFT_OUT_LABELS,
        "describe": lambda brand, persona: operations.describe(
            persona, settings_for(brand).category_names
        ),
        "category_label": lambda brand, category: settings_for(brand).category_name(
            category, locale
        ),
        "reason_label": lambda brand, code: policy_for(brand).reason_label(code, locale),
        "money": lambda amount, currency: format_money(amount, currency, locale),
    }


@merchant_segments.get("/segments")
@require_merchant
def index(brand: Brand) -> Any:
    session = get_session()
    now = utcnow()
    return render_template(
        "pages/personas/segments.html",
        brand=brand,
        sizes=operations.segment_sizes(
            session=session, brand_id=id_of(brand), rules=brand_settings(brand)["rules"], now=now
        ),
        suppressions=operations.suppression_counts(
            session=session, brand_id=id_of(brand), since=now - timedelta(days=SUPPRESSION_DAYS)
        ),
        suppression_days=SUPPRESSION_DAYS,
        left_out=operations.left_out_counts(session=session, brand_id=id_of(brand)),
    )


@merchant_segments.get("/customers/<int:customer_id>")
@require_merchant
def customer(brand: Brand, customer_id: int) -> Any:
    card = operations.customer_card(
        session=get_session(), brand_id=id_of(brand), customer_id=customer_id, now=utcnow()
    )
    if card is None:
        abort(404)
    return render_template("pages/personas/customer.html", brand=brand, card=card)


@merchant_segments.get("/orders/<int:order_id>/customer")
@require_merchant
def order_customer(brand: Brand, order_id: int) -> Any:
    """The customer page of an order's customer (the shipment page links here)."""
    customer_id = operations.customer_of_order(
        session=get_session(), brand_id=id_of(brand), order_id=order_id
    )
    if customer_id is None:
        abort(404)
    return redirect(url_for(".customer", customer_id=customer_id))
