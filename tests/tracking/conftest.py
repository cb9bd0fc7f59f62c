"""Tracking fixtures: shipments, a scriptable fake carrier, a pushing fake aggregator."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from flask import Flask

from carriers import registry
from carriers.base import AuthError, Capabilities, ParseError, TrackingEvent, TrackingResult
from carriers.status import Status
from postpurchase.clock import utcnow
from postpurchase.db import get_db
from postpurchase.models import Shipment
from postpurchase.tracking.routing import configure_adapter, extension


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Tracking tests check exact poll times: no grid alignment unless a test asks for it."""
    return {**app_config, "TRACKING_ALIGN": "0"}


@dataclass
class FakeCarrier:
    """Answers what a test scripted; records every request with the time it was made."""

    clock: Callable[[], datetime]
    code: str = "fake"
    name: str = "Fake"
    capabilities: Capabilities = field(
        default_factory=lambda: Capabilities(max_batch=3, requests_per_second=2)
    )
    answers: dict[str, TrackingResult] = field(default_factory=dict)
    #: Raised (in order) instead of answering, one per request, before answers resume.
    errors: list[Exception] = field(default_factory=list)
    requests: list[tuple[datetime, tuple[str, ...]]] = field(default_factory=list)
    secret: str = "push-secret"

    def track(self, numbers: Sequence[str]) -> list[TrackingResult]:
        assert len(numbers) <= self.capabilities.max_batch
        self.requests.append((self.clock(), tuple(numbers)))
        if self.errors:
            raise self.errors.pop(0)
        return [self.answers[n] for n in numbers if n in self.answers]

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        expected = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, headers.get("X-Fake-Signature", "")):
            raise AuthError("bad signature", carrier=self.code)

    def parse_webhook(self, body: bytes) -> list[TrackingResult]:
        try:
            payload = json.loads(body)
            return [
                result(
                    payload["number"],
                    *[
                        (datetime.fromisoformat(at), Status(s), code)
                        for at, s, code in payload["events"]
                    ],
                    carrier=self.code,
                )
            ]
        except (ValueError, KeyError, TypeError) as exc:  # as a real adapter reports it
            raise ParseError(f"unreadable push: {exc!r}", carrier=self.code) from None


def result(
    number: str,
    *events: tuple[datetime, Status, str],
    carrier: str = "fake",
    status: Status | None = None,
    **kwargs: Any,
) -> TrackingResult:
    """A result whose status is its last event's unless given."""
    scans = tuple(TrackingEvent(at, s, code, f"{code} text", "東京都") for at, s, code in events)
    return TrackingResult(
        carrier=carrier,
        tracking_number=number,
        status=status or (scans[-1].status if scans else Status.pending),
        events=scans,
        **kwargs,
    )


def _create_fake(settings: registry.CarrierSettings) -> FakeCarrier:
    # Other features (message links, EDD) ask for an adapter without the test's instance.
    return settings.options.get("instance") or FakeCarrier(clock=utcnow)


@pytest.fixture(autouse=True)
def fake_registered() -> Iterator[None]:
    """The fake carrier exists only while a tracking test runs, never in the global registry."""
    registry.register("fake")(_create_fake)
    yield
    registry.unregister("fake")


@pytest.fixture
def fake(app: Flask, clock) -> FakeCarrier:
    carrier = FakeCarrier(clock=clock)
    configure_adapter(app, "fake", instance=carrier)
    extension(app).clock = clock
    return carrier


@pytest.fixture
def make_shipment(app: Flask, brand) -> Callable[..., int]:
    """Factory: ``make_shipment(tracking_number="T1", carrier_code="fake", **fields)`` → id (committed)."""
    counter = iter(range(1, 10**6))

    def make(
        tracking_number: str | None = None,
        *,
        brand_id: int | None = None,
        carrier_code: str = "fake",
        **fields: Any,
    ) -> int:
        n = next(counter)
        with get_db(app).session() as session:
            shipment = Shipment(
                brand_id=brand_id or brand.brand_id,
                external_id=f"S{n}",
                carrier_code=carrier_code,
                tracking_number=tracking_number or f"T{n}",
                **fields,
            )
            session.add(shipment)
            session.commit()
            assert shipment.id is not None
            return shipment.id

    return make


@pytest.fixture
def load(app: Flask) -> Callable[[int], Shipment]:
    def get(shipment_id: int) -> Shipment:
        with get_db(app).session() as session:
            shipment = session.get(Shipment, shipment_id)
            assert shipment is not None
            return shipment

    return get
