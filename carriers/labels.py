"""Buying return labels through a carrier's API: the interface the core asks for, and its types.

An adapter that sells labels also implements :class:`ReturnLabelBuyer`; the core checks
``isinstance(adapter, ReturnLabelBuyer)`` instead of naming carriers. Buying happens in two calls so
that a retry never pays twice: :meth:`~ReturnLabelBuyer.create_return_shipment` (free, its id is
stored first), then :meth:`~ReturnLabelBuyer.buy_label`, which returns the label already bought for
that shipment instead of buying another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class LabelAddress:
    name: str
    street1: str
    city: str
    postal_code: str
    country: str
    street2: str = ""
    state: str = ""
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class ReturnLabelRequest:
    """A return parcel from the customer (``sender``) to the brand (``recipient``)."""

    #: Our reference (the RMA number), printed on the label where the carrier allows.
    reference: str
    sender: LabelAddress
    recipient: LabelAddress
    weight_g: int
    #: Carrier-specific choices (e.g. EasyPost's ``carrier`` and ``service``).
    service: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PurchasedLabel:
    shipment_id: str
    #: The carrier code in ``carriers/`` that tracks the parcel (e.g. ``usps``), or the seller's.
    carrier: str
    tracking_number: str
    label_url: str
    #: What the label cost, in minor units of ``currency``.
    amount: int
    currency: str


@runtime_checkable
class ReturnLabelBuyer(Protocol):
    def create_return_shipment(self, request: ReturnLabelRequest) -> str:
        """Create the (unpaid) return shipment; return its id."""
        ...

    def buy_label(self, shipment_id: str, request: ReturnLabelRequest) -> PurchasedLabel:
        """Buy the label of ``shipment_id``, or return the one bought for it before."""
        ...
