"""The normalized tracking status vocabulary (DESIGN.md) and helpers."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    pending = "pending"
    info_received = "info_received"
    in_transit = "in_transit"
    out_for_delivery = "out_for_delivery"
    attempt_fail = "attempt_fail"
    available_for_pickup = "available_for_pickup"
    delivered = "delivered"
    exception = "exception"
    returning_to_sender = "returning_to_sender"
    returned = "returned"
    expired = "expired"


TERMINAL: frozenset[Status] = frozenset({Status.delivered, Status.returned})
"""A terminal status sticks; only an explicit carrier correction reopens it."""

FINAL: frozenset[Status] = TERMINAL | {Status.expired}
"""Statuses nothing is polled for any more (``expired`` reopens on a newer scan, though)."""

#: Rough order of progress, for choosing the status of a result from its events.
PROGRESS: dict[Status, int] = {
    Status.pending: 0,
    Status.info_received: 1,
    Status.in_transit: 2,
    Status.exception: 3,
    Status.attempt_fail: 4,
    Status.out_for_delivery: 4,
    Status.available_for_pickup: 5,
    Status.returning_to_sender: 6,
    Status.expired: 6,
    Status.delivered: 7,
    Status.returned: 8,
}


def is_terminal(status: Status | str) -> bool:
    return Status(status) in TERMINAL
