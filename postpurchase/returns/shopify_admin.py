"""Refunds and gift cards through Shopify's Admin REST API, for orders that came from Shopify.

Shopify's REST refund and gift-card endpoints take no idempotency header, so each call carries our
execution's key where Shopify keeps it, and a retry looks for it before creating anything:

* a refund's ``note`` ends with ``[<key>]``; before refunding, the order's refunds are listed and one
  carrying the key is taken as already done;
* a gift card's ``code`` is derived from the key; Shopify refuses a second card with the same code
  (422), and the card it already has is looked up instead;
* what an exchange costs more is a draft order for the difference whose invoice Shopify emails to
  the customer: the draft's id is kept on our execution (committed) before the invoice is sent, so a
  retry sends the invoice of that draft, and only if the draft says none was sent yet.

Credentials: ``BRAND_<SLUG>_SHOPIFY_SHOP`` (``acme.myshopify.com``) and
``BRAND_<SLUG>_SHOPIFY_ADMIN_TOKEN`` (an Admin API access token with ``write_orders`` and
``write_gift_cards``; ``write_draft_orders`` for exchange charges), from the environment like every secret.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests

from postpurchase.i18n import minor_to_decimal
from postpurchase.messaging.channels.base import credential
from postpurchase.models import Brand

API_VERSION = "2024-07"
TIMEOUT_SECONDS = 15.0
#: Gift card codes are 8–20 characters; ours are ``PP`` and 16 hex digits of the key's hash.
GIFT_CARD_CODE_PREFIX = "PP"
#: The draft of an exchange charge carries the execution's key in this note attribute; Shopify copies
#: it onto the order the paid invoice becomes, which is how ``orders/paid`` is recognised as ours.
CHARGE_ATTRIBUTE = "postpurchase_charge"


class PlatformError(RuntimeError):
    """A call the platform did not carry out; ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class RefundLine:
    """A Shopify line item id and how many of it come back."""

    line_item_id: str
    quantity: int


def gift_card_code(key: str) -> str:
    """The gift card code of an execution: the same key always gives the same code."""
    return GIFT_CARD_CODE_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:16].upper()


def resource_id(resource: Mapping[str, Any]) -> str:
    """The numeric id, exact: from the GID when present (ids above 2^53 may have been rounded)."""
    gid = resource.get("admin_graphql_api_id")
    if isinstance(gid, str) and "/" in gid:
        return gid.rsplit("/", 1)[1]
    return str(resource["id"])


def _amount(amount_minor: int, currency: str) -> str:
    return str(minor_to_decimal(amount_minor, currency))


class ShopifyAdmin:
    """One shop's Admin API."""

    def __init__(
        self,
        *,
        shop: str,
        token: str,
        http: requests.Session | None = None,
        api_version: str = API_VERSION,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.base_url = f"https://{shop}/admin/api/{api_version}"
        self._token = token
        self._http = http or requests.Session()
        self._timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.request(
                method,
                self.base_url + path,
                json=body,
                headers={"X-Shopify-Access-Token": self._token, "Accept": "application/json"},
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise PlatformError(f"{method} {path}: {type(exc).__name__}", permanent=False) from exc
        if response.status_code >= 400:
            # 401: credentials being fixed; 429 and 5xx: Shopify busy. Any other 4xx will not change.
            temporary = response.status_code in (401, 408, 429) or response.status_code >= 500
            raise PlatformError(
                f"{method} {path}: HTTP {response.status_code}: {response.text[:300]}",
                permanent=not temporary,
            )
        return response.json()

    def find_refund(self, order_id: str, key: str) -> str | None:
        """The id of the order's refund made with ``key``, if there is one."""
        refunds = self._call("GET", f"/orders/{order_id}/refunds.json").get("refunds", [])
        marker = f"[{key}]"
        return next(
            (resource_id(refund) for refund in refunds if marker in (refund.get("note") or "")),
            None,
        )

    def refund(
        self,
        order_id: str,
        *,
        key: str,
        amount_minor: int,
        currency: str,
        lines: Sequence[RefundLine],
        note: str,
    ) -> str:
        """Refund ``amount_minor`` to the order's original payment, restocking ``lines`` as returned.

        Shopify first works out which payment transactions can take it (``refunds/calculate``);
        the amount is spread over them, never above what each can still refund."""
        existing = self.find_refund(order_id, key)
        if existing is not None:
            return existing
        refund_lines = [
            {
                "line_item_id": int(line.line_item_id),
                "quantity": line.quantity,
                "restock_type": "return",
            }
            for line in lines
        ]
        calculated = self._call(
            "POST",
            f"/orders/{order_id}/refunds/calculate.json",
            {"refund": {"currency": currency, "refund_line_items": refund_lines}},
        )["refund"]
        transactions = []
        left = minor_to_decimal(amount_minor, currency)
        for suggested in calculated.get("transactions", []):
            if left <= 0:
                break
            take = min(left, Decimal(str(suggested.get("maximum_refundable", "0"))))
            if take > 0:
                transactions.append(
                    {
                        "parent_id": suggested["parent_id"],
                        "amount": str(take),
                        "kind": "refund",
                        "gateway": suggested["gateway"],
                    }
                )
                left -= take
        if left > 0:
            raise PlatformError(
                f"Shopify can refund at most {_amount(amount_minor, currency)} less {left} "
                f"{currency} on order {order_id}",
                permanent=True,
            )
        created = self._call(
            "POST",
            f"/orders/{order_id}/refunds.json",
            {
                "refund": {
                    "currency": currency,
                    "notify": True,
                    "note": f"{note} [{key}]",
                    "refund_line_items": refund_lines,
                    "transactions": transactions,
                }
            },
        )["refund"]
        return resource_id(created)

    def issue_gift_card(
        self,
        *,
        key: str,
        amount_minor: int,
        currency: str,
        note: str,
        customer_id: str | None = None,
    ) -> str:
        """A gift card worth ``amount_minor``; issuing the same key twice gives back the first card."""
        code = gift_card_code(key)
        card: dict[str, Any] = {
            "initial_value": _amount(amount_minor, currency),
            "currency": currency,
            "code": code,
            "note": f"{note} [{key}]",
        }
        if customer_id:
            card["customer_id"] = int(customer_id)
        try:
            created = self._call("POST", "/gift_cards.json", {"gift_card": card})
        except PlatformError as refused:
            # A 422 may mean a first attempt created the card and its answer was lost.
            existing = self.find_gift_card(key) if refused.permanent else None
            if existing is None:
                raise
            return existing
        return resource_id(created["gift_card"])

    def find_gift_card(self, key: str) -> str | None:
        """The id of the gift card issued with ``key``, if there is one (search by the code's last
        characters, then the key in the note)."""
        last = gift_card_code(key)[-4:].lower()
        found = self._call("GET", f"/gift_cards/search.json?query=last_characters:{last}")
        marker = f"[{key}]"
        return next(
            (
                resource_id(card)
                for card in found.get("gift_cards", [])
                if marker in (card.get("note") or "")
            ),
            None,
        )

    def create_charge_draft(
        self,
        *,
        key: str,
        amount_minor: int,
        currency: str,
        title: str,
        note: str,
        email: str | None = None,
        customer_id: str | None = None,
    ) -> str:
        """A draft order of one custom, non-shipping line worth ``amount_minor``; its id."""
        draft: dict[str, Any] = {
            "line_items": [
                {
                    "title": title,
                    "price": _amount(amount_minor, currency),
                    "quantity": 1,
                    "requires_shipping": False,
                    "taxable": False,
                }
            ],
            "note": f"{note} [{key}]",
            "note_attributes": [{"name": CHARGE_ATTRIBUTE, "value": key}],
            "tags": "postpurchase,exchange",
        }
        if email:
            draft["email"] = email
        if customer_id:
            draft["customer"] = {"id": int(customer_id)}
        created = self._call("POST", "/draft_orders.json", {"draft_order": draft})
        return resource_id(created["draft_order"])

    def send_invoice(self, draft_id: str) -> None:
        """Email the draft's invoice to the customer, unless Shopify says it went out already."""
        draft = self._call("GET", f"/draft_orders/{draft_id}.json")["draft_order"]
        if draft.get("invoice_sent_at"):
            return
        self._call(
            "POST", f"/draft_orders/{draft_id}/send_invoice.json", {"draft_order_invoice": {}}
        )


def charge_key_of(order: Mapping[str, Any]) -> str | None:
    """The execution key an order (or draft) carries when it is one of our exchange charges."""
    attributes = order.get("note_attributes") or []
    return next(
        (
            str(attribute.get("value"))
            for attribute in attributes
            if isinstance(attribute, Mapping) and attribute.get("name") == CHARGE_ATTRIBUTE
        ),
        None,
    )


def shopify_admin_for(
    config: Mapping[str, object], brand: Brand, http: requests.Session | None = None
) -> ShopifyAdmin | None:
    """The brand's Shopify Admin API, when its shop and token are configured."""
    shop = credential(config, brand.slug, "SHOPIFY_SHOP")
    token = credential(config, brand.slug, "SHOPIFY_ADMIN_TOKEN")
    if not shop or not token:
        return None
    return ShopifyAdmin(shop=shop, token=token, http=http)
