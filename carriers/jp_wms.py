"""Japanese WMS shipment states (OpenLogi, LOGILESS) in the normalized vocabulary.

These are warehouse states, not carrier scans: everything before "shipped" is ``pending`` and
"shipped" means carrier tracking should start (``info_received``). Intake uses this table when a
WMS reports progress before a tracking number exists.
"""

from __future__ import annotations

from carriers.parsing import StatusTable
from carriers.status import Status

OPENLOGI = StatusTable("openlogi", {
    "backordered": Status.pending,
    "allocating": Status.pending,
    "waiting": Status.pending,
    "working": Status.pending,
    "picking": Status.pending,
    "picked": Status.pending,
    "packed": Status.pending,
    "shipped": Status.info_received,
    "suspended": Status.exception,
    "modify_request": Status.pending,
    "cancel_request": Status.exception,
}, default=Status.pending)

LOGILESS = StatusTable("logiless", {
    "WaitingForShipment": Status.pending,
    "Working": Status.pending,
    "PartlyShipped": Status.info_received,
    "Shipped": Status.info_received,
    "Pending": Status.exception,   # on hold in the WMS
    "Cancel": Status.exception,    # cancelled before shipping
}, default=Status.pending)

TABLES: dict[str, StatusTable] = {"openlogi": OPENLOGI, "logiless": LOGILESS}


def wms_status(wms: str, value: str) -> Status:
    """The normalized status of a WMS state (unknown states: ``pending``, logged once)."""
    return TABLES[wms].resolve(value).status or Status.pending
