"""Carrier and aggregator webhooks in: ``/webhooks/carrier/<code>[/<brand slug>]``.

The adapter verifies the body first (``verify_webhook``); a body that does not verify is never
stored, only counted (:func:`postpurchase.inbox.rejections.record_rejection`). A verified body is
stored through the inbox like every other webhook (:func:`postpurchase.inbox.receive`,
source ``carrier:<code>``, deduplicated by its SHA-256) and then processed at once by the inbox's
``carrier`` handler (:func:`apply_carrier_event`), so the answer can say what changed; an event
that fails is kept and retried like any inbox event. Each result is applied to the shipments with
that tracking number whose brand routes their carrier to this adapter (only the named brand's when
the URL has a slug).

The operation raises :class:`WebhookRefused` errors; only the view turns them into HTTP answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from flask import Blueprint, Flask, jsonify, request
from flask.typing import ResponseReturnValue
from sqlmodel import Session, col, select

from carriers.base import AuthError, CarrierError, TrackingResult, Unsupported
from postpurchase import inbox
from postpurchase.brands import get_brand
from postpurchase.config import running_app
from postpurchase.db import session_scope
from postpurchase.inbox import Applied, jsonbody
from postpurchase.inbox.rejections import record_rejection
from postpurchase.models import Brand, InboxEvent, InboxState, RejectionReason, Shipment
from postpurchase.tracking.apply import apply_result
from postpurchase.tracking.intervals import PollPolicy, policy_from_config
from postpurchase.tracking.planner import normalize_number, plan_shipment
from postpurchase.tracking.routing import account, extension, route
from postpurchase.web.errors import ApiError

webhooks = Blueprint("carrier_webhooks", __name__, url_prefix="/webhooks/carrier")

#: The inbox handler family: events of source ``carrier:<code>``.
SOURCE_FAMILY = "carrier"
#: Headers never written to the inbox.
_PRIVATE_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


class WebhookRefused(Exception):
    """A pushed update that is not taken (or, when :class:`Unparseable`, kept but not applied)."""

    def __init__(self, message: str, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class UnknownBrand(WebhookRefused):
    """The URL names a brand that does not exist."""


class UnknownCarrier(WebhookRefused):
    """No adapter has the URL's code."""


class WebhooksUnsupported(WebhookRefused):
    """The adapter exists but its carrier does not push updates."""


class InvalidSignature(WebhookRefused):
    """The body does not verify; it was only counted."""


class TooDeep(WebhookRefused):
    """The body nests deeper than :data:`postpurchase.inbox.jsonbody.MAX_DEPTH`."""


class Unparseable(WebhookRefused):
    """The body verified and is stored, but the adapter cannot read it."""


@dataclass(frozen=True)
class WebhookOutcome:
    inbox_id: int
    duplicate: bool = False
    results: int = 0
    matched: int = 0
    changed: int = 0


@dataclass
class Pushed(Applied):
    """What one pushed update did: results in the body, shipments they matched, status changes."""

    results: int = 0
    matched: int = 0
    changed: int = 0


def source_of(code: str) -> str:
    """The inbox source of adapter ``code``'s webhooks."""
    return f"{SOURCE_FAMILY}:{code}"


def apply_webhook_results(
    *,
    session: Session,
    code: str,
    brand_id: int | None,
    results: list[TrackingResult],
    policy: PollPolicy,
    now: datetime,
) -> tuple[int, int]:
    """Apply pushed results to matching shipments; return (shipments matched, status changes)."""
    matched = changed = 0
    for result in results:
        number = result.tracking_number
        candidates = {number, normalize_number(number)}
        query = (
            select(Shipment, Brand)
            .join(Brand, col(Brand.id) == col(Shipment.brand_id))
            .where(col(Shipment.tracking_number).in_(candidates))
        )
        if brand_id is not None:
            query = query.where(Shipment.brand_id == brand_id)
        for shipment, brand in session.exec(query).all():
            if route(brand, shipment.carrier_code) != code:
                continue
            assert shipment.id is not None
            change = apply_result(
                session=session, shipment_id=shipment.id, result=result, source="webhook", now=now
            )
            shipment.last_webhook_at = now
            shipment.next_poll_at = plan_shipment(
                shipment, now=now, tz_name=brand.timezone, policy=policy, result=result
            )
            matched += 1
            changed += change.changed
    return matched, changed


def carrier_event_handler(app: Flask) -> Callable[..., Pushed]:
    """The inbox handler for ``carrier:<code>`` events of ``app`` (its adapters and policy)."""
    return partial(apply_carrier_event, app)


def apply_carrier_event(
    app: Flask, *, session: Session, event: InboxEvent, payload: Any, now: datetime
) -> Pushed:
    """Parse a stored (verified) carrier webhook body with ``app``'s adapter and apply its results."""
    code = event.source.removeprefix(f"{SOURCE_FAMILY}:")
    brand = session.get(Brand, event.brand_id) if event.brand_id is not None else None
    results = account(app, code, brand.slug if brand else None).adapter.parse_webhook(
        event.raw_body
    )
    matched, changed = apply_webhook_results(
        session=session,
        code=code,
        brand_id=event.brand_id,
        results=results,
        policy=policy_from_config(app.config),
        now=now,
    )
    return Pushed(results=len(results), matched=matched, changed=changed)


def receive_carrier_webhook(
    app: Flask,
    *,
    code: str,
    brand_slug: str | None,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    remote_addr: str = "",
) -> WebhookOutcome:
    """Verify, store and apply one pushed update (the whole operation behind the view).

    Raises :class:`UnknownBrand`, :class:`UnknownCarrier`, :class:`TooDeep`,
    :class:`InvalidSignature` or :class:`WebhooksUnsupported` before anything is stored, and
    :class:`Unparseable` after storing a verified body the adapter cannot read.
    """
    brand_id = None
    if brand_slug is not None:
        with session_scope(app) as session:
            brand = get_brand(session=session, slug=brand_slug)
        if brand is None:
            raise UnknownBrand(f"No brand {brand_slug!r}.")
        brand_id = brand.id
    try:
        adapter = account(app, code, brand_slug).adapter
    except Unsupported:
        raise UnknownCarrier(f"No carrier adapter {code!r}.") from None
    if not jsonbody.depth_within(body):
        message = f"The body nests arrays/objects deeper than {jsonbody.MAX_DEPTH} levels."
        raise TooDeep(message, [{"loc": "body", "msg": message}])
    try:
        adapter.verify_webhook(headers, body)
    except AuthError:
        with session_scope(app) as session:
            record_rejection(
                session=session,
                source=source_of(code),
                brand_id=brand_id,
                now=now,
                reason=RejectionReason.invalid_signature,
                remote_addr=remote_addr,
                body_bytes=len(body),
            )
        raise InvalidSignature("The webhook signature does not verify.") from None
    except Unsupported:
        raise WebhooksUnsupported(f"Carrier {code!r} does not push updates.") from None
    parse_error: CarrierError | None = None
    try:
        adapter.parse_webhook(body)
    except CarrierError as exc:  # verified but unreadable: kept, answered 400
        parse_error = exc
    received = inbox.accept(
        app,
        brand_id=brand_id,
        source=source_of(code),
        event_type="tracking",
        external_id="sha256:" + inbox.body_digest(body),
        raw_body=body,
        now=now,
        headers={k: v for k, v in headers.items() if k.lower() not in _PRIVATE_HEADERS},
    )
    if received.duplicate:
        return WebhookOutcome(received.id, duplicate=True)
    processed = inbox.process_now(app, received.id, now=now)
    if parse_error is not None:
        raise Unparseable(
            "The webhook body could not be parsed.",
            [{"loc": "body", "msg": str(parse_error)[:200]}],
        )
    if processed is None or processed.state != InboxState.processed:
        return WebhookOutcome(received.id)  # kept; the inbox sweep retries it
    pushed = processed.applied
    assert isinstance(pushed, Pushed)
    return WebhookOutcome(
        received.id, results=pushed.results, matched=pushed.matched, changed=pushed.changed
    )


#: How the view answers each refusal.
_ANSWERS: dict[type[WebhookRefused], tuple[int, str]] = {
    UnknownBrand: (404, "unknown_brand"),
    UnknownCarrier: (404, "unknown_carrier"),
    WebhooksUnsupported: (404, "webhooks_unsupported"),
    InvalidSignature: (401, "invalid_signature"),
    TooDeep: (400, "too_deep"),
    Unparseable: (400, "unparseable"),
}


@webhooks.post("/<code>")
@webhooks.post("/<code>/<brand_slug>")
def carrier_webhook(code: str, brand_slug: str | None = None) -> ResponseReturnValue:
    app = running_app()
    try:
        outcome = receive_carrier_webhook(
            app,
            code=code,
            brand_slug=brand_slug,
            headers=dict(request.headers),
            body=request.get_data(),
            now=extension(app).clock(),
            remote_addr=request.remote_addr or "",
        )
    except WebhookRefused as refused:
        status, error_code = _ANSWERS[type(refused)]
        raise ApiError(status, error_code, refused.message, refused.details) from None
    return jsonify(
        {
            "inbox_id": outcome.inbox_id,
            "duplicate": outcome.duplicate,
            "results": outcome.results,
            "matched": outcome.matched,
            "changed": outcome.changed,
        }
    )
