"""Carrier and aggregator webhooks in: ``/webhooks/carrier/<code>[/<brand slug>]``.

The adapter verifies and parses the body first (``parse_webhook``); a body that does not verify is
never stored, only counted (:func:`postpurchase.intake.rejections.record_rejection`). A verified
body is committed to the inbox (:class:`InboxEvent`, source ``carrier:<code>``) before it is
applied, so nothing a carrier sent is lost; each result is applied to the shipments with that
tracking number whose brand routes their carrier to this adapter (only the named brand's when the
URL has a slug). The same body sent twice is stored and applied once (deduplicated by its SHA-256).

This is a small inbox of its own; when the intake feature's inbox lands, storing can move there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlmodel import select

from carriers.base import AuthError, CarrierError, TrackingResult, Unsupported
from postpurchase.brands import get_brand
from postpurchase.db import claim_scope, session_scope
from postpurchase.intake import jsonbody
from postpurchase.intake.rejections import record_rejection
from postpurchase.models import Brand, InboxEvent, InboxState, RejectionReason, Shipment
from postpurchase.tracking.apply import apply_result
from postpurchase.tracking.intervals import policy_from_config
from postpurchase.tracking.planner import normalize_number, plan_shipment
from postpurchase.tracking.routing import account, extension, route
from postpurchase.web.errors import ApiError

webhooks = Blueprint("carrier_webhooks", __name__, url_prefix="/webhooks/carrier")

#: Headers never written to the inbox.
_PRIVATE_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


@dataclass(frozen=True)
class WebhookOutcome:
    inbox_id: int
    duplicate: bool = False
    results: int = 0
    matched: int = 0
    changed: int = 0


def _store(app: Flask, *, code: str, brand_id: int | None, headers: Mapping[str, str], body: bytes,
           now: datetime) -> tuple[int, bool]:
    """Commit the raw body to the inbox; return (inbox id, already received)."""
    digest = hashlib.sha256(body).hexdigest()
    source = f"carrier:{code}"
    with session_scope(app) as session:
        existing = session.exec(
            select(InboxEvent.id).where(InboxEvent.source == source, InboxEvent.body_sha256 == digest,
                                        InboxEvent.brand_id == brand_id)
        ).first()
        if existing is not None:
            return existing, True
        event = InboxEvent(
            brand_id=brand_id, source=source, external_id=digest, event_type="tracking", body_sha256=digest,
            raw_body=body, headers={k: v for k, v in headers.items() if k.lower() not in _PRIVATE_HEADERS},
            signature_ok=True, received_at=now,
        )
        session.add(event)
        session.flush()
        assert event.id is not None
        return event.id, False


def _finish(app: Flask, inbox_id: int, state: InboxState, now: datetime, *, signature_ok: bool,
            error: str | None = None) -> None:
    with session_scope(app) as session:
        event = session.get(InboxEvent, inbox_id)
        assert event is not None
        event.state = state
        event.signature_ok = signature_ok
        event.error = error
        event.attempts += 1
        event.processed_at = now


def apply_webhook_results(app: Flask, *, code: str, brand_id: int | None, results: list[TrackingResult],
                          now: datetime) -> tuple[int, int]:
    """Apply pushed results to matching shipments; return (shipments matched, status changes)."""
    policy = policy_from_config(app.config)
    matched = changed = 0
    with claim_scope(app) as session:
        for result in results:
            number = result.tracking_number
            candidates = {number, normalize_number(number)}
            query = select(Shipment, Brand).join(Brand, Brand.id == Shipment.brand_id).where(
                Shipment.tracking_number.in_(candidates))  # type: ignore[union-attr]
            if brand_id is not None:
                query = query.where(Shipment.brand_id == brand_id)
            for shipment, brand in session.exec(query).all():
                if route(brand.settings, shipment.carrier_code) != code:
                    continue
                assert shipment.id is not None
                change = apply_result(session=session, shipment_id=shipment.id, result=result, source="webhook",
                                      now=now)
                shipment.last_webhook_at = now
                shipment.next_poll_at = plan_shipment(shipment, now=now, tz_name=brand.timezone, policy=policy,
                                                      result=result)
                matched += 1
                changed += change.changed
    return matched, changed


def receive_carrier_webhook(app: Flask, *, code: str, brand_slug: str | None, headers: Mapping[str, str],
                            body: bytes, now: datetime, remote_addr: str = "") -> WebhookOutcome:
    """Verify, store, parse and apply one pushed update (the whole operation behind the view).

    Raises :class:`ApiError`: 404 for an unknown adapter or brand, 401 for a bad signature, 400
    when the body is nested too deep or cannot be parsed, 404 when the adapter does not take
    webhooks.
    """
    brand_id = None
    if brand_slug is not None:
        with session_scope(app) as session:
            brand = get_brand(session=session, slug=brand_slug)
        if brand is None:
            raise ApiError(404, "unknown_brand", f"No brand {brand_slug!r}.")
        brand_id = brand.id
    try:
        adapter = account(app, code, brand_slug).adapter
    except Unsupported:
        raise ApiError(404, "unknown_carrier", f"No carrier adapter {code!r}.") from None
    if not jsonbody.depth_within(body):
        message = f"The body nests arrays/objects deeper than {jsonbody.MAX_DEPTH} levels."
        raise ApiError(400, "too_deep", message, [{"loc": "body", "msg": message}])
    results: list[TrackingResult] = []
    parse_error: CarrierError | None = None
    try:
        results = adapter.parse_webhook(headers, body)
    except AuthError:
        with session_scope(app) as session:
            record_rejection(session=session, source=f"carrier:{code}", brand_id=brand_id, now=now,
                             reason=RejectionReason.invalid_signature, remote_addr=remote_addr,
                             body_bytes=len(body))
        raise ApiError(401, "invalid_signature", "The webhook signature does not verify.") from None
    except Unsupported:
        raise ApiError(404, "webhooks_unsupported", f"Carrier {code!r} does not push updates.") from None
    except CarrierError as exc:  # verified (the signature is checked first) but unreadable: kept
        parse_error = exc
    inbox_id, duplicate = _store(app, code=code, brand_id=brand_id, headers=headers, body=body, now=now)
    if duplicate:
        return WebhookOutcome(inbox_id, duplicate=True)
    if parse_error is not None:
        _finish(app, inbox_id, InboxState.failed, now, signature_ok=True, error=str(parse_error)[:500])
        raise ApiError(400, "unparseable", "The webhook body could not be parsed.",
                       [{"loc": "body", "msg": str(parse_error)[:200]}])
    matched, changed = apply_webhook_results(app, code=code, brand_id=brand_id, results=results, now=now)
    _finish(app, inbox_id, InboxState.processed, now, signature_ok=True)
    return WebhookOutcome(inbox_id, results=len(results), matched=matched, changed=changed)


@webhooks.post("/<code>")
@webhooks.post("/<code>/<brand_slug>")
def carrier_webhook(code: str, brand_slug: str | None = None) -> ResponseReturnValue:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    outcome = receive_carrier_webhook(app, code=code, brand_slug=brand_slug, headers=dict(request.headers),
                                      body=request.get_data(), now=extension(app).clock(),
                                      remote_addr=request.remote_addr or "")
    return jsonify({"inbox_id": outcome.inbox_id, "duplicate": outcome.duplicate, "results": outcome.results,
                    "matched": outcome.matched, "changed": outcome.changed})
