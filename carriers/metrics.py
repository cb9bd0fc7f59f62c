"""Process-wide counters for carrier parsing, cheap enough to bump on every response.

``parse_errors[carrier]`` counts responses that did not have the structure a parser expects (a
carrier changed its page or API): alert on it rather than on individual exceptions.
"""

from __future__ import annotations

import threading
from collections import Counter

_lock = threading.Lock()
parse_errors: Counter[str] = Counter()


def record_parse_error(carrier: str) -> None:
    with _lock:
        parse_errors[carrier] += 1


def snapshot() -> dict[str, int]:
    """A copy of the counters, e.g. for a metrics endpoint."""
    with _lock:
        return dict(parse_errors)


def reset() -> None:
    with _lock:
        parse_errors.clear()
