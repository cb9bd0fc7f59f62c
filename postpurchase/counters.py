"""Counters kept in the database, added to by jobs in any process on any machine and read by
``/metrics`` at scrape time: a per-process counter would show only the share of the one process
that happened to answer the scrape (and ``postpurchase worker`` serves no HTTP at all).

Only low-rate events are counted here (a job run, a carrier request): each add is one upsert.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlmodel import Session

from postpurchase.models import OpsCounter
from postpurchase.models.types import table_of, upsert


def encode_labels(labels: Mapping[str, str]) -> str:
    """``{"carrier": "yamato"}`` as ``carrier=yamato`` (sorted; ``,`` and ``=`` in values are
    replaced so the text decodes back to the same pairs)."""
    return ",".join(
        f"{key}={str(value).replace(',', '_').replace('=', '_')}"
        for key, value in sorted(labels.items())
    )


def decode_labels(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in text.split(",")) if text else {}


def add(
    *, session: Session, name: str, labels: Mapping[str, str] | None = None, amount: float = 1.0
) -> None:
    """Add ``amount`` to the counter ``name`` with ``labels`` (created at zero when new)."""
    table = table_of(OpsCounter)
    insert = upsert(session, table).values(
        name=name, labels=encode_labels(labels or {}), value=amount
    )
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["name", "labels"],
            set_={"value": table.c.value + insert.excluded.value},
        )
    )


def read_all(*, session: Session) -> list[tuple[str, dict[str, str], float]]:
    """Every counter as ``(name, labels, value)``, ordered by name and labels."""
    table = table_of(OpsCounter)
    rows = session.execute(
        select(table.c.name, table.c.labels, table.c.value).order_by(table.c.name, table.c.labels)
    )
    return [(name, decode_labels(labels), float(value)) for name, labels, value in rows]
