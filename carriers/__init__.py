"""Carrier adapters: turn carrier responses into :class:`TrackingResult` and back.

Knows nothing about Flask or the database; ``postpurchase.tracking`` decides when to ask and what a
change means.
"""

from carriers.base import (
    AuthError,
    Capabilities,
    CarrierAdapter,
    CarrierError,
    NotFound,
    ParseError,
    RateLimited,
    TemporaryError,
    TrackingEvent,
    TrackingResult,
    Unsupported,
)
from carriers.status import Status

__all__ = [
    "AuthError",
    "Capabilities",
    "CarrierAdapter",
    "CarrierError",
    "NotFound",
    "ParseError",
    "RateLimited",
    "Status",
    "TemporaryError",
    "TrackingEvent",
    "TrackingResult",
    "Unsupported",
]
