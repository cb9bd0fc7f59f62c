"""The normalized tracking status vocabulary (DESIGN.md) and helpers."""

from __future__ import annotations

import unicodedata
from enum import StrEnum


class Status(StrEnum):
    pending = "pending"
    info_received = "info_received"
    in_transit = "in_transit"
    #: Customs stages of an international parcel: released for export at origin, held by the
    #: destination's customs, waiting for the recipient to pay duties and taxes, released for import.
    export_cleared = "export_cleared"
    held_at_customs = "held_at_customs"
    duties_due = "duties_due"
    import_cleared = "import_cleared"
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

CUSTOMS_HOLD: frozenset[Status] = frozenset({Status.held_at_customs, Status.duties_due})
"""Customs has the parcel and it does not move until customs (or the recipient, paying) lets it."""

CUSTOMS: frozenset[Status] = CUSTOMS_HOLD | {Status.export_cleared, Status.import_cleared}

#: Rough order of progress, for choosing the status of a result from its events.
PROGRESS: dict[Status, int] = {
    Status.pending: 0,
    Status.info_received: 1,
    Status.in_transit: 2,
    Status.export_cleared: 2,
    Status.held_at_customs: 3,
    Status.duties_due: 3,
    Status.import_cleared: 3,
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


class Handover(StrEnum):
    """Where a parcel was left or waits for the customer, in words every carrier's scans share."""

    in_person = "in_person"  # handed over at the door
    delivery_box = "delivery_box"  # 宅配ボックス
    safe_place = "safe_place"  # 置き配: at the door or another agreed spot
    mailbox = "mailbox"  # 郵便受け (投函)
    locker = "locker"  # PUDO and other parcel lockers
    convenience_store = "convenience_store"
    post_office = "post_office"  # a Japan Post counter
    depot = "depot"  # a carrier's own office (営業所, センター)
    neighbour = "neighbour"  # left with a neighbour (隣人)


#: Words in a scan's description, code or location → where the parcel is; the first match wins,
#: so the more precise words come first (``宅配ボックス`` before ``ボックス``-less fallbacks).
HANDOVER_WORDS: tuple[tuple[str, Handover], ...] = (
    ("宅配ボックス", Handover.delivery_box),
    ("宅配box", Handover.delivery_box),
    ("delivery box", Handover.delivery_box),
    ("parcel box", Handover.delivery_box),
    ("置き配", Handover.safe_place),
    ("指定場所", Handover.safe_place),
    ("玄関", Handover.safe_place),
    ("safe place", Handover.safe_place),
    ("porch", Handover.safe_place),
    ("front door", Handover.safe_place),
    ("投函", Handover.mailbox),
    ("郵便受", Handover.mailbox),
    ("mailbox", Handover.mailbox),
    ("letterbox", Handover.mailbox),
    ("letter box", Handover.mailbox),
    ("neighbour", Handover.neighbour),
    ("neighbor", Handover.neighbour),
    ("隣人", Handover.neighbour),
    ("ロッカー", Handover.locker),
    ("pudo", Handover.locker),
    ("locker", Handover.locker),
    ("コンビニ", Handover.convenience_store),
    ("ファミリーマート", Handover.convenience_store),
    ("ローソン", Handover.convenience_store),
    ("セブン-イレブン", Handover.convenience_store),
    ("セブンイレブン", Handover.convenience_store),
    ("ミニストップ", Handover.convenience_store),
    ("convenience store", Handover.convenience_store),
    ("郵便局", Handover.post_office),
    ("post office", Handover.post_office),
    ("営業所", Handover.depot),
    ("センター", Handover.depot),
    ("depot", Handover.depot),
)

#: ``sub_status`` values adapters give a pickup scan (the sandbox's, AfterShip's subtags).
HANDOVER_SUB_STATUS: dict[str, Handover] = {
    "store": Handover.convenience_store,
    "depot": Handover.depot,
    "locker": Handover.locker,
    "post_office": Handover.post_office,
}


def handover_place(*texts: str | None) -> Handover | None:
    """Where a scan says the parcel is, from its description, code and location (None: unsaid)."""
    for text in texts:
        if not text:
            continue
        folded = unicodedata.normalize("NFKC", text).casefold()
        for word, place in HANDOVER_WORDS:
            if word in folded:
                return place
    return None
