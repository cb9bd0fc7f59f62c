"""All tables. Importing this package registers every table on ``SQLModel.metadata``.

One module per family; feature packages that own extra tables (EDD predictions, tracking raw
responses, message rules) add a module here and import it below.
"""

from postpurchase.models.aftercare import Feedback, ReturnLine, ReturnRequest
from postpurchase.models.audit import AuditEntry
from postpurchase.models.brand import ApiKey, Brand, MerchantUser
from postpurchase.models.commerce import (
    Customer,
    FulfillmentCentre,
    InventoryLevel,
    Order,
    OrderLine,
)
from postpurchase.models.edd import DeliveryPrediction, TransitModelState
from postpurchase.models.enums import (
    Channel,
    DeliveryOption,
    InboxState,
    OrderStatus,
    OutboxState,
    RejectionReason,
    ReturnResolution,
    ReturnState,
    TimeSlot,
)
from postpurchase.models.events import InboxEvent, OutboxMessage, WebhookRejection
from postpurchase.models.messaging import MessageEvent, Suppression
from postpurchase.models.ops import LeaderLease, OpsCounter
from postpurchase.models.privacy import Erasure
from postpurchase.models.security import RateLimitWindow, ThrottleAttempt
from postpurchase.models.shipping import Shipment, TrackingEvent
from postpurchase.models.tracking import CarrierCircuit, CarrierResponse

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Brand",
    "CarrierCircuit",
    "CarrierResponse",
    "Channel",
    "Customer",
    "DeliveryOption",
    "DeliveryPrediction",
    "Erasure",
    "Feedback",
    "FulfillmentCentre",
    "InboxEvent",
    "InboxState",
    "InventoryLevel",
    "LeaderLease",
    "MerchantUser",
    "MessageEvent",
    "OpsCounter",
    "Order",
    "OrderLine",
    "OrderStatus",
    "OutboxMessage",
    "OutboxState",
    "RateLimitWindow",
    "RejectionReason",
    "ReturnLine",
    "ReturnRequest",
    "ReturnResolution",
    "ReturnState",
    "Shipment",
    "Suppression",
    "ThrottleAttempt",
    "TimeSlot",
    "TrackingEvent",
    "TransitModelState",
    "WebhookRejection",
]
