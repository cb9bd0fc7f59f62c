"""Webhook endpoints: check who sent it, store it (commit), answer, then process in the background.

Nothing is stored before the sender is verified: a refused request leaves only a small, rate-limited
:class:`~postpurchase.models.WebhookRejection` row. The request path is one short write
transaction; everything else happens after the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, g, request

from postpurchase.brands import get_brand
from postpurchase.clock import utcnow
from postpurchase.config import running_app
from postpurchase.db import get_session, write_transaction
from postpurchase.inbox import Received, accept, body_digest
from postpurchase.inbox.rejections import record_rejection
from postpurchase.inbox.signing import SIGNATURE_HEADER, Verdict, verify, verify_shopify
from postpurchase.inbox.wakeup import announce
from postpurchase.intake import generic, shopify
from postpurchase.intake.senders import Sender, require_sender
from postpurchase.models import InboxState, RejectionReason
from postpurchase.web.errors import ApiError

webhooks = Blueprint("webhooks", __name__, url_prefix="/webhooks")

GENERIC_HEADERS = ("Content-Type", "User-Agent", SIGNATURE_HEADER, "X-Request-Id")

_SIGNATURE_PROBLEMS = {
    Verdict.missing: (
        "missing_signature",
        (
            f"Sign the body and send it as '{SIGNATURE_HEADER}: "
            't=<unix time>,v1=<hex HMAC-SHA256 of "t.body">\'.'
        ),
    ),
    Verdict.malformed: (
        "malformed_signature",
        f"'{SIGNATURE_HEADER}' must look like t=<unix>,v1=<hex>.",
    ),
    Verdict.expired: (
        "signature_expired",
        "The signature timestamp is outside the allowed window; check the sender's clock.",
    ),
    Verdict.mismatch: (
        "invalid_signature",
        "The signature does not match the body and the brand's signing secret.",
    ),
}


def _raw_json_body() -> bytes:
    """The exact request body, after the size (413) and media type (415) checks."""
    limit = int(current_app.config["MAX_BODY_BYTES"])
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "body_too_large", f"The body is larger than {limit} bytes.")
    mimetype = request.mimetype
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(
            415, "unsupported_media_type", "Send the event as 'Content-Type: application/json'."
        )
    return request.get_data(cache=True)


def _headers_of_interest(names: tuple[str, ...]) -> dict[str, str]:
    return {name: request.headers[name] for name in names if name in request.headers}


def _write(operation: Callable[..., Any], **kwargs: Any) -> Any:
    """Run one write operation in its own short transaction (``BEGIN IMMEDIATE`` on SQLite).

    The request session may hold a read snapshot from authentication; ending it first means SQLite
    never has to upgrade a stale read transaction to a write, which fails instead of waiting.
    With the sender's key remembered (:mod:`.senders`) there is usually no such session, and
    none is made just to be committed.
    """
    _end_read_transaction()
    with write_transaction() as connection:
        return operation(session=connection, now=utcnow(), **kwargs)


def _store(**kwargs: Any) -> Received:
    """Store an accepted event (see :func:`postpurchase.inbox.accept`), after ending the request's
    read transaction as :func:`_write` does."""
    _end_read_transaction()
    return accept(running_app(), **kwargs)


def _end_read_transaction() -> None:
    if "db_session" in g:
        get_session().commit()


_REJECTION_REASONS = {
    Verdict.missing: RejectionReason.missing_signature,
    Verdict.malformed: RejectionReason.malformed_signature,
    Verdict.expired: RejectionReason.expired_signature,
    Verdict.mismatch: RejectionReason.invalid_signature,
}


def _refuse(source: str, reason: RejectionReason, brand_id: int | None, raw: bytes) -> None:
    """Count a refused request (no body, no headers) before answering it."""
    _write(
        record_rejection,
        source=source,
        reason=reason,
        brand_id=brand_id,
        remote_addr=request.remote_addr or "",
        body_bytes=len(raw),
    )


def _authenticated_sender(raw: bytes) -> Sender:
    """The brand of the API key; a refused key is counted before the 401."""
    try:
        return require_sender()
    except ApiError as exc:
        reason = (
            RejectionReason.missing_credentials
            if exc.code == "missing_api_key"
            else RejectionReason.invalid_credentials
        )
        _refuse(generic.SOURCE, reason, None, raw)
        raise


def _answer(received: Received, *, source: str, ignored: bool = False) -> tuple[Response, int]:
    if received.duplicate:
        return _verdict(received.id, "duplicate"), 200
    if ignored:
        return _verdict(received.id, "ignored"), 200
    announce(running_app(), received.id, source=source)
    return _verdict(received.id, "accepted"), 202


def _verdict(event_id: int, status: str) -> Response:
    """``jsonify(id=event_id, status=status)``, written directly: the answer of every webhook, where
    Flask's JSON provider was about 4 % of the request's CPU (``status`` is one of three words)."""
    return current_app.response_class(
        f'{{"id":{int(event_id)},"status":"{status}"}}\n', mimetype="application/json"
    )


@webhooks.post("/wms")
def receive_generic_event() -> tuple[Response, int]:
    """``POST /webhooks/wms`` and ``POST /api/v1/events``: one generic event envelope."""
    raw = _raw_json_body()
    sender = _authenticated_sender(raw)
    headers = _headers_of_interest(GENERIC_HEADERS)
    now = utcnow()
    verdicts = [
        verify(
            request.headers.get(SIGNATURE_HEADER),
            secret,
            raw,
            now=now.timestamp(),
            tolerance_seconds=int(current_app.config["SIGNATURE_TOLERANCE_SECONDS"]),
        )
        for secret in sender.signing_secrets(now)
    ]
    verdict = Verdict.ok if Verdict.ok in verdicts else verdicts[0]
    if verdict != Verdict.ok:
        _refuse(generic.SOURCE, _REJECTION_REASONS[verdict], sender.brand_id, raw)
        code, message = _SIGNATURE_PROBLEMS[verdict]
        raise ApiError(401, code, message, [{"loc": f"header.{SIGNATURE_HEADER}", "msg": message}])
    try:
        event: Any = generic.parse_event(raw)
    except generic.InvalidEvent as exc:
        code = "malformed_event" if exc.status == 400 else "invalid_event"
        raise ApiError(exc.status, code, exc.message, exc.details) from None
    received = _store(
        brand_id=sender.brand_id,
        source=generic.SOURCE,
        external_id=event.id,
        event_type=str(event.type),
        occurred_at=event.occurred_at,
        raw_body=raw,
        headers=headers,
    )
    return _answer(received, source=generic.SOURCE)


@webhooks.post("/shopify/<slug>")
def receive_shopify_webhook(slug: str) -> tuple[Response, int]:
    """``POST /webhooks/shopify/<brand>``: a Shopify webhook, verified with the brand's secret."""
    raw = _raw_json_body()
    brand = get_brand(session=get_session(), slug=slug)
    if brand is None or not brand.shopify_secret:
        raise ApiError(404, "unknown_shop", f"No brand {slug!r} with a Shopify secret.")
    assert brand.id is not None
    headers = _headers_of_interest(shopify.HEADERS_OF_INTEREST)
    verdict = verify_shopify(request.headers.get(shopify.HMAC_HEADER), brand.shopify_secret, raw)
    topic = request.headers.get(shopify.TOPIC_HEADER, "")
    delivery_id = request.headers.get(shopify.WEBHOOK_ID_HEADER) or ""
    if verdict != Verdict.ok:
        _refuse(shopify.SOURCE, _REJECTION_REASONS[verdict], brand.id, raw)
        message = f"'{shopify.HMAC_HEADER}' does not match the body and the brand's Shopify secret."
        raise ApiError(
            401, "invalid_hmac", message, [{"loc": f"header.{shopify.HMAC_HEADER}", "msg": message}]
        )
    known = topic in shopify.TOPICS
    try:
        shopify.check_payload(raw, topic, headers, now=utcnow())
    except shopify.InvalidPayload as exc:
        raise ApiError(exc.status, exc.code, exc.message, exc.details) from None
    received = _store(
        brand_id=brand.id,
        source=shopify.SOURCE,
        external_id=delivery_id or "sha256:" + body_digest(raw),
        event_type=topic,
        raw_body=raw,
        headers=headers,
        state=InboxState.pending if known else InboxState.ignored,
    )
    return _answer(received, source=shopify.SOURCE, ignored=not known)
