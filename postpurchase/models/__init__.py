"""All tables. Importing this package registers every table on ``SQLModel.metadata``.

One module per family; feature packages that own extra tables (EDD predictions, tracking raw
responses, message rules) add a module here and import it below.
"""

from postpurchase.models.aftercare import (
    DropOffPoint,
    Feedback,
    ResolutionExecution,
    ReturnLine,
    ReturnPhoto,
    ReturnRequest,
    StockReservation,
)
from postpurchase.models.audit import AuditEntry
from postpurchase.models.brand import ApiKey, Brand, Membership, MerchantUser, OneTimeLink
from postpurchase.models.commerce import (
    Customer,
    FulfillmentCentre,
    InventoryHistory,
    InventoryLevel,
    Order,
    OrderLine,
)
from postpurchase.models.console import ExceptionCase, InternalNote, Resolution
from postpurchase.models.edd import DeliveryPrediction, LeadTime, TransitModelState
from postpurchase.models.enums import (
    Channel,
    DeliveryOption,
    DutiesTerms,
    ExecutionKind,
    ExecutionState,
    InboxState,
    LinkPurpose,
    OrderStatus,
    OutboxState,
    RejectionReason,
    ReportPeriod,
    ReservationState,
    ReturnResolution,
    ReturnState,
    Role,
    TimeSlot,
)
from postpurchase.models.events import InboxEvent, OutboxMessage, WebhookRejection
from postpurchase.models.experiments import Experiment, ExperimentExposure, ExperimentState
from postpurchase.models.insights import FxRate, ShipmentFigures
from postpurchase.models.kitting import OrderKit
from postpurchase.models.messaging import MessageEvent, MessageTemplate, Suppression
from postpurchase.models.ops import LeaderLease, OpsCounter
from postpurchase.models.personas import CustomerProfile, Persona, StaleProfile
from postpurchase.models.privacy import Erasure
from postpurchase.models.reports import ReportSent
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
    "CustomerProfile",
    "DeliveryOption",
    "DeliveryPrediction",
    "DropOffPoint",
    "DutiesTerms",
    "Erasure",
    "ExceptionCase",
    "ExecutionKind",
    "ExecutionState",
    "Experiment",
    "ExperimentExposure",
    "ExperimentState",
    "Feedback",
    "FulfillmentCentre",
    "FxRate",
    "InboxEvent",
    "InboxState",
    "InternalNote",
    "InventoryHistory",
    "InventoryLevel",
    "LeadTime",
    "LeaderLease",
    "LinkPurpose",
    "Membership",
    "MerchantUser",
    "MessageEvent",
    "MessageTemplate",
    "OneTimeLink",
    "OpsCounter",
    "Order",
    "OrderKit",
    "OrderLine",
    "OrderStatus",
    "OutboxMessage",
    "OutboxState",
    "Persona",
    "RateLimitWindow",
    "RejectionReason",
    "ReportPeriod",
    "ReportSent",
    "ReservationState",
    "Resolution",
    "ResolutionExecution",
    "ReturnLine",
    "ReturnPhoto",
    "ReturnRequest",
    "ReturnResolution",
    "ReturnState",
    "Role",
    "Shipment",
    "ShipmentFigures",
    "StaleProfile",
    "StockReservation",
    "Suppression",
    "ThrottleAttempt",
    "TimeSlot",
    "TrackingEvent",
    "TransitModelState",
    "WebhookRejection",
]
