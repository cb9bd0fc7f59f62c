"""Opt-in to LINE or SMS updates, given by the customer from the tracking page (or an order email).

An opt-in covers the parcels of the order the customer was looking at (``scope: "parcel"``) unless
they chose every order (``scope: "all"``). It is kept in ``Customer.consent`` with where it came
from and when, which :func:`postpurchase.messaging.respect.consent_allows` reads; every change is
also written to the audit log.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from postpurchase import audit
from postpurchase.i18n import lazy_gettext as _l
from postpurchase.messaging.context import e164
from postpurchase.messaging.respect import PARCEL_SCOPE
from postpurchase.models import Channel, Customer, Order, Shipment
from postpurchase.tokens import make_token, read_token

#: Token purposes: a link to opt in (tracking page, emails) and the nonce of LINE's account link.
OPTIN_PURPOSE = "optin"
NONCE_PURPOSE = "line-nonce"
#: How long an account-link nonce is good for (LINE's link token itself lasts ten minutes).
NONCE_LIFETIME = timedelta(minutes=10)
#: Mobile numbers in E.164: ``+`` and 8 to 15 digits; Japanese mobiles are +81 70/80/90.
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_JP_MOBILE = re.compile(r"\+81[789]0[0-9]{8}")


class OptinRefused(Exception):
    """The opt-in cannot be taken; ``field`` names the input at fault."""

    def __init__(self, field: str, message: Any) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def optin_token(secret_key: str, brand_id: int, order_id: int, *, everything: bool = False) -> str:
    """The signed reference an opt-in link carries: this brand's order, and the chosen scope."""
    return make_token(secret_key, OPTIN_PURPOSE, {"b": brand_id, "o": order_id, "all": everything})


def read_optin(secret_key: str, token: str, brand_id: int) -> dict[str, Any] | None:
    """``{"o": order id, "all": bool}`` of a valid token of this brand; None otherwise."""
    data = read_token(secret_key, OPTIN_PURPOSE, token)
    if data is None or data.get("b") != brand_id or not isinstance(data.get("o"), int):
        return None
    return {"o": data["o"], "all": bool(data.get("all"))}


def make_nonce(secret_key: str, brand_id: int, optin: dict[str, Any], *, now: datetime) -> str:
    """The nonce of one account link: unguessable (128 random bits), signed, good for ten minutes.

    It carries the opt-in it completes, so the ``accountLink`` event needs no stored state.
    """
    data = {
        "b": brand_id,
        "o": optin["o"],
        "all": optin["all"],
        "n": secrets.token_urlsafe(16),
        "e": int((now + NONCE_LIFETIME).timestamp()),
    }
    return make_token(secret_key, NONCE_PURPOSE, data)


def read_nonce(
    secret_key: str, nonce: str, brand_id: int, *, now: datetime
) -> dict[str, Any] | None:
    data = read_token(secret_key, NONCE_PURPOSE, nonce)
    if data is None or data.get("b") != brand_id or int(data.get("e", 0)) < now.timestamp():
        return None
    return {"o": data["o"], "all": bool(data.get("all"))}


def mobile_number(raw: str) -> str:
    """The E.164 form of a mobile number typed by a customer; :class:`OptinRefused` if it is not one."""
    number = e164(raw.strip())
    if number is None or not _E164.fullmatch(number):
        raise OptinRefused("phone", _l("Enter a mobile phone number, e.g. 090-1234-5678."))
    if number.startswith("+81") and not _JP_MOBILE.fullmatch(number):
        raise OptinRefused("phone", _l("Enter a mobile phone number, e.g. 090-1234-5678."))
    return number


def _order_and_customer(session: Session, brand_id: int, order_id: int) -> tuple[Order, Customer]:
    order = session.get(Order, order_id)
    if order is None or order.brand_id != brand_id:
        raise OptinRefused("token", _l("This link is not valid."))
    customer = session.get(Customer, order.customer_id) if order.customer_id else None
    if customer is None or customer.brand_id != brand_id:
        raise OptinRefused("token", _l("This order has no customer to subscribe."))
    return order, customer


def set_consent(
    *, session: Session, customer: Customer, channel: Channel, entry: dict[str, Any], actor: str
) -> None:
    """Replace the customer's consent entry for ``channel`` and record the change in the audit log."""
    before = (customer.consent or {}).get(str(channel))
    customer.consent = {**(customer.consent or {}), str(channel): entry}
    session.add(customer)
    audit.record(
        session=session,
        brand_id=customer.brand_id,
        actor=actor,
        action=f"consent.{channel}",
        subject=f"customer:{customer.id}",
        before=before,
        after=entry,
    )


def subscribe(
    *,
    session: Session,
    brand_id: int,
    order_id: int,
    channel: Channel,
    everything: bool,
    source: str,
    now: datetime,
    address: str | None = None,
) -> Customer:
    """Opt the order's customer in to transactional ``channel`` messages about this order's parcels
    (or every parcel with ``everything``); ``address`` is the phone number or LINE user id to use.

    Parcels of earlier opt-ins stay covered; an earlier unrestricted consent is not narrowed.
    """
    order, customer = _order_and_customer(session, brand_id, order_id)
    shipment_ids = session.exec(select(Shipment.id).where(col(Shipment.order_id) == order.id)).all()
    previous = (customer.consent or {}).get(str(channel))
    previous = previous if isinstance(previous, dict) else {}
    unrestricted = previous.get("transactional") is True and "scope" not in previous
    scope = "all" if everything or unrestricted or previous.get("scope") == "all" else PARCEL_SCOPE
    covered = sorted({*previous.get("shipments", []), *(i for i in shipment_ids if i is not None)})
    entry = {
        **previous,
        "transactional": True,
        "marketing": bool(previous.get("marketing", False)),
        "scope": scope,
        "shipments": covered,
        "source": source,
        "at": now.isoformat(),
    }
    if channel == Channel.sms and address:
        customer.phone = address
    if channel == Channel.line and address:
        customer.line_user_id = address
    customer.updated_at = now
    set_consent(session=session, customer=customer, channel=channel, entry=entry, actor=source)
    session.flush()
    return customer
