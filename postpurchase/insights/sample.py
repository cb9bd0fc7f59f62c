"""A synthetic delivery history in the import format, for the benchmark, the tests and trials.

Deterministic for a seed. Carriers differ on purpose (speed, cost, failed attempts), so the
figures have something to show; about 8 % of rows are returned and 20 % carry feedback.
"""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime, timedelta
from typing import IO
from zoneinfo import ZoneInfo

from postpurchase.edd.history import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from postpurchase.insights.figures import JIS_PREFECTURES
from postpurchase.insights.history_import import EXTRA_COLUMNS
from postpurchase.models.enums import TimeSlot

COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, *EXTRA_COLUMNS)
#: carrier, service, share of parcels, extra days, cost, chance of a failed attempt.
METHODS = (
    ("yamato", "takkyubin", 0.5, 0, 980, 0.08),
    ("sagawa", "hikyaku", 0.3, 1, 820, 0.12),
    ("japanpost", "yu-pack", 0.2, 1, 760, 0.06),
)
CATEGORIES = ("apparel", "shoes", "bags", "accessories")
_JST = ZoneInfo("Asia/Tokyo")
SLOTS = tuple(slot.value for slot in TimeSlot)
REASONS = ("size_too_small", "size_too_large", "damaged", "late", "changed_mind")


def write_sample(
    handle: IO[str], *, rows: int, start: datetime, days: int, seed: int = 7, prefix: str = "S"
) -> None:
    """Write ``rows`` parcels ordered over ``days`` days from ``start`` (UTC) as a history CSV."""
    rng = random.Random(seed)  # noqa: S311 (sample data, not secrets)
    writer = csv.writer(handle)
    writer.writerow(COLUMNS)
    weights = [method[2] for method in METHODS]
    for index in range(rows):
        carrier, service, _, slow, cost, fail = rng.choices(METHODS, weights)[0]
        region = rng.choice(JIS_PREFECTURES)
        far = region in ("北海道", "沖縄県") or rng.random() < 0.1
        ordered = start + timedelta(seconds=rng.randrange(days * 86400))
        shipped = ordered + timedelta(hours=rng.choice((2, 6, 20, 30, 50)))
        transit = 1 + slow + far + (rng.random() < 0.2) + (rng.random() < 0.05) * 2
        delivered = (
            shipped + timedelta(days=transit, hours=rng.randrange(-6, 6))
            if rng.random() < 0.95
            else None
        )
        promised = ordered + timedelta(days=3 + far) if rng.random() < 0.9 else None
        failed = (rng.random() < fail) + (rng.random() < fail / 4) if delivered else 0
        returned = rng.randrange(1, 3) if rng.random() < 0.08 else 0
        score = rng.choice((10, 10, 9, 9, 8, 7, 6, 3, 0)) if rng.random() < 0.2 else None
        writer.writerow(
            (
                f"{prefix}{index:07d}",
                carrier,
                service,
                "273-0012",
                "千葉県",
                f"{rng.randrange(100, 999)}-{rng.randrange(0, 9999):04d}",
                region,
                "JP",
                _stamp(ordered, rng),
                _stamp(shipped, rng),
                _stamp(delivered, rng),
                _stamp(promised, rng),
                cost + 200 * far,
                "JPY",
                rng.randrange(1, 5),
                rng.randrange(200, 5000),
                rng.randrange(20, 400) * 100,
                rng.choice(CATEGORIES),
                failed,
                returned or "",
                rng.choice(REASONS) if returned else "",
                "" if score is None else score,
                "遅れました" if score is not None and score <= 6 else "",
                _PLACES[index % len(_PLACES)] if delivered else "",
                "" if rng.random() < 0.6 else rng.choice(SLOTS),
            )
        )


#: Where sample parcels are left, in turn (not drawn, so the other columns stay as they were).
_PLACES = ("in_person", "in_person", "delivery_box", "safe_place", "", "convenience_store")


def _stamp(moment: datetime | None, rng: random.Random) -> str:
    """ISO-8601, sometimes in UTC and sometimes in Japan time, as files from different tools are."""
    if moment is None:
        return ""
    moment = moment.astimezone(UTC)
    if rng.random() < 0.5:
        return moment.isoformat()
    return moment.astimezone(_JST).isoformat()
