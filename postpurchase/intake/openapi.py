"""The OpenAPI 3.1 document of ``/api/v1`` and ``/webhooks``, generated from the app's routes.

Paths come from the Flask URL map, so a route cannot be missing from the document; what each
route takes and answers comes from :data:`ROUTES` (keyed by endpoint) and from the pydantic
models, so the schemas cannot drift from what the views validate. A route without an entry in
:data:`ROUTES` still appears, marked undocumented, and the test suite fails on it.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import Flask
from pydantic import AwareDatetime, BaseModel, Field
from pydantic.json_schema import models_json_schema

from carriers.status import Status
from postpurchase.edd.api import CheckoutQuery
from postpurchase.inbox.signing import SIGNATURE_HEADER
from postpurchase.intake.examples import EXAMPLES
from postpurchase.intake.schemas import EventAccepted, EventType, envelope_model
from postpurchase.intake.shopify import HMAC_HEADER, TOPIC_HEADER, WEBHOOK_ID_HEADER
from postpurchase.kitting import EVENT_TYPE as KITTING_EVENT
from postpurchase.kitting import KittingWebhook
from postpurchase.returns.wms import WmsReturnWebhook
from postpurchase.schemas import OrderPublic, ShipmentPage, ShipmentPublic
from postpurchase.settings.model import BrandSettings
from postpurchase.tracking.api import MAX_LIMIT
from postpurchase.web.apidoc import Route, documented_elsewhere, query_parameter
from postpurchase.web.params import MAX_ID

#: URL prefixes whose routes the document describes.
PREFIXES = ("/api/v1/", "/webhooks/")
EXTENSION_KEY = "postpurchase.openapi"

REF = "#/components/schemas/{model}"


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {
                        "description": 'For 422: `[{"loc": "data.lines[0].quantity", "msg": ...}]`.'
                    },
                },
            }
        },
    }


def _errors(*statuses: int) -> dict[str, Any]:
    texts = {
        400: "Bad input: not JSON, nested deeper than 32 levels, not an event envelope, or a bad "
        "query parameter; `details` names the field.",
        401: "Missing or invalid API key or signature, or a signature timestamp outside the window.",
        404: "Not found.",
        405: "Method not allowed.",
        409: "The record is not in a state that allows this; `message` says which.",
        413: "Body larger than `MAX_BODY_BYTES` (default 1 MiB).",
        415: "Not `application/json`.",
        422: "The data does not match the schema; `details` names each field.",
        429: "Too many requests; `Retry-After` says when to try again.",
        503: "The carrier could not be asked now.",
    }
    return {
        str(s): {
            "description": texts[s],
            "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
        }
        for s in statuses
    }


def _wms_webhooks() -> dict[str, Any]:
    """What we post to the brand's WMS (``settings.returns.wms_webhook_url``) when an RMA changes."""
    texts = {
        "return.expected": "An RMA the warehouse should expect: approved, label issued or in transit.",
        "return.updated": "Any other RMA state: requested, received, refunded, credited, exchanged, "
        "rejected, cancelled; and each restock decision after inspection (`data.lines[].restock`).",
    }
    return {
        name: {
            "post": {
                "operationId": name.replace(".", "_"),
                "summary": summary,
                "description": (
                    "Posted to the brand's `returns.wms_webhook_url`, signed like the intake: "
                    f"`{SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256(webhook secret, "
                    '"<t>.<body>")>`, with `Idempotency-Key` equal to `id` (one per RMA and state). '
                    "Retried with backoff until answered 2xx; a retry carries the same id. Deliveries may "
                    "arrive out of order; an RMA's state only moves forward, so keep the furthest. Answer the "
                    "goods' arrival with a `return.received` event quoting `data.rma_number`, with a condition "
                    "`grade` (A–D) per line when inspected. Each line carries its `grade` and, once the "
                    "merchant decides, `restock` (`restock` to `restock_fc_code` or `write_off`): such a "
                    "decision comes as its own `return.updated` (its id is one per RMA line)."
                ),
                "security": [],
                "parameters": [
                    {
                        "name": SIGNATURE_HEADER,
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": REF.format(model="WmsReturnWebhook")}
                        }
                    },
                },
                "responses": {
                    "2XX": {"description": "Received; not sent again."},
                    "default": {
                        "description": "Retried later (401/408/429/5xx) or given up (other 4xx)."
                    },
                },
            }
        }
        for name, summary in texts.items()
    }


def _kitting_webhook() -> dict[str, Any]:
    """What we post to the brand's WMS when a new order gets an unboxing kit."""
    wms = _wms_webhooks()["return.expected"]["post"]
    return {
        KITTING_EVENT: {
            "post": {
                **wms,
                "operationId": KITTING_EVENT.replace(".", "_"),
                "summary": "What to put in a new order's box: inserts, samples, gift wrap, message card.",
                "description": (
                    "Posted to the brand's `kitting.webhook_url` (else `returns.wms_webhook_url`) "
                    "once per order, when the order arrives (`order.created`) and one of the brand's "
                    "kits (`kitting.rules`) applies; signed like the intake: "
                    f"`{SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256(webhook secret, "
                    '"<t>.<body>")>`, with `Idempotency-Key` equal to `id` (one per order). Retried '
                    "with backoff until answered 2xx; a retry carries the same id, and a repeated "
                    "`order.created` sends nothing new."
                ),
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": REF.format(model="KittingWebhook")}}
                    },
                },
            }
        }
    }


class Cutoff(BaseModel):
    at: AwareDatetime | None = Field(description="The next order cut-off of the centre.")
    seconds_left: int | None


class CheckoutEstimate(BaseModel):
    """Dates to show at checkout for a parcel ordered now."""

    brand: str
    postal_code: str
    carrier: str | None
    service: str
    fc: str | None
    dispatch_date: date
    predicted_date: date
    window_start: date
    window_end: date
    promise_date: date
    promise_level: float
    cutoff: Cutoff
    slots: list[dict[str, str]] = Field(
        description="The carrier's time slots (時間帯指定): `slot`, `from`, `to`, `depot_cutoff` "
        "and `date`, the first day the slot can be made for this parcel; empty when the carrier "
        "has none."
    )
    basis: dict[str, Any]


class ShipmentEdd(BaseModel):
    """A parcel's current dates and each stored prediction with its inputs and basis."""

    id: int = Field(description="Our id, as in `ShipmentPublic.id` and the path.")
    shipment_id: str = Field(description="The sender's shipment id, as in its events.")
    status: str
    predicted_date: date | None
    window_start: date | None
    window_end: date | None
    promised_date: date | None
    basis: dict[str, Any] | None
    predictions: list[dict[str, Any]]


class CarrierWebhookOutcome(BaseModel):
    inbox_id: int
    duplicate: bool
    results: int
    matched: int
    changed: int


class LineWebhookOutcome(BaseModel):
    inbox_id: int
    duplicate: bool
    replies: int = Field(description="Replies sent to the user (status answers, link buttons).")


def _header(name: str, *, required: bool = True, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "schema": {"type": "string", **schema},
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return query_parameter(name, schema, description)


_EVENT_ROUTE = Route(
    summary="Send one event (order, shipment, inventory, return)",
    description=(
        "Authenticate with the brand's API key and sign the exact body: "
        f"`{SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256(signing_secret, "
        '"<t>.<body>")>`; the timestamp may be 5 minutes off. Nothing is stored before both '
        "are checked. The event is stored before anything else happens and processed right "
        "after the answer. Resending the same `id` (or the same body) is safe: the answer is "
        "`200` with status `duplicate`. Events may arrive in any order: a shipment before its "
        "order waits for the order. A shipment names its parcels with either `tracking_number` "
        "(one parcel) or `parcels` (several), never both: sending both is a 422."
    ),
    answers={
        202: ("Stored; it will be processed.", EventAccepted),
        200: ("Already received (same event id or body): not applied again.", EventAccepted),
    },
    errors=(400, 401, 413, 415, 422),
    parameters=(
        _header(
            SIGNATURE_HEADER,
            pattern=r"^t=[0-9]{1,12},v1=[0-9a-f]{64}$",
            example="t=1763720000,v1=5f2b...c9",
        ),
    ),
    request_body={
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": REF.format(model="Event")},
                "examples": {
                    t.value: {"summary": t.value, "value": EXAMPLES[t]} for t in EventType
                },
            }
        },
    },
)

_SHIPMENT_ID = {"shipment_id": "Our id of the shipment: its `id`, not the sender's `shipment_id`."}

#: Endpoint → what the document says about it. Every /api/v1 and /webhooks route needs one.
ROUTES: dict[str, Route] = {
    "api.events": _EVENT_ROUTE,
    "webhooks.receive_generic_event": _EVENT_ROUTE,
    "webhooks.receive_shopify_webhook": Route(
        summary="Shopify webhook (orders, fulfillments, refunds)",
        description=(
            f"Verified with `{HMAC_HEADER}` (base64 HMAC-SHA256 of the raw body with the brand's "
            f"Shopify secret) before anything is stored, and deduplicated on `{WEBHOOK_ID_HEADER}`. "
            "Topics `orders/create`, `orders/updated`, `orders/cancelled`, `orders/paid`, "
            "`fulfillments/create`, `fulfillments/update` and `refunds/create` are applied "
            "(`orders/paid` of an exchange charge's invoice releases the held exchange) (a resource that cannot be "
            "mapped, e.g. an amount beyond what is stored, is a 422); others are stored and "
            "answered `ignored`."
        ),
        api_key=False,
        answers={
            202: ("Stored; it will be processed.", EventAccepted),
            200: ("Duplicate, or a topic that is not used (`ignored`).", EventAccepted),
        },
        errors=(400, 401, 404, 413, 415, 422),
        parameters=(
            _header(HMAC_HEADER),
            _header(TOPIC_HEADER),
            _header(WEBHOOK_ID_HEADER, required=False, maxLength=200),
        ),
        request_body={
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "object", "description": "Shopify's resource (REST shape)."}
                }
            },
        },
        path_descriptions={"slug": "The brand's slug."},
    ),
    "carrier_webhooks.carrier_webhook": Route(
        summary="Tracking updates pushed by a carrier or aggregator",
        description=(
            "Verified by the carrier's adapter (its own signature scheme) before anything is "
            "stored; a refused body is only counted. Optionally scoped to one brand's shipments "
            "by `brand_slug`. The same body sent twice is applied once."
        ),
        api_key=False,
        answers={200: ("Verified and applied (or a duplicate).", CarrierWebhookOutcome)},
        errors=(400, 401, 404, 413),
        request_body={
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "object", "description": "The carrier's own payload."}
                }
            },
        },
        path_descriptions={
            "code": "Adapter code, e.g. `aftership`.",
            "brand_slug": "The brand's slug.",
        },
    ),
    "line_pages.webhook": Route(
        summary="Events from the brand's LINE Official Account (Messaging API webhook)",
        description=(
            "`X-Line-Signature` (HMAC-SHA256 of the body with the channel secret, base64) is "
            "checked before anything is stored; follow, unfollow, account links and messages are "
            "then applied through the inbox, once per body."
        ),
        api_key=False,
        answers={200: ("Verified and stored (or a duplicate).", LineWebhookOutcome)},
        errors=(400, 401, 404, 413),
        request_body={
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "object", "description": "LINE's webhook body."}
                }
            },
        },
        path_descriptions={"brand_slug": "The brand's slug."},
    ),
    "api.openapi": Route(
        summary="This document",
        api_key=False,
        answers={200: ("The OpenAPI document.", None)},
        errors=(),
    ),
    "api.get_order": Route(
        summary="An order with its lines and parcels",
        answers={200: ("The order.", OrderPublic)},
        errors=(401, 404),
        path_descriptions={"external_id": "The sender's order id."},
    ),
    "shipments_api.shipment_list": Route(
        summary="The brand's shipments with their timelines, by id, a page at a time",
        answers={200: ("A page of shipments.", ShipmentPage)},
        errors=(400, 401),
        parameters=(
            _query(
                "status",
                {"type": "string", "enum": [s.value for s in Status]},
                "Only shipments in this status.",
            ),
            _query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50},
                "Page size.",
            ),
            _query(
                "cursor",
                {"type": "string", "pattern": r"^[0-9]{1,10}$"},
                f"`next_cursor` of the previous page (at most {MAX_ID}).",
            ),
        ),
    ),
    "shipments_api.shipment_detail": Route(
        summary="One shipment with its timeline",
        answers={200: ("The shipment.", ShipmentPublic)},
        errors=(401, 404),
        path_descriptions=_SHIPMENT_ID,
    ),
    "shipments_api.shipment_refresh": Route(
        summary="Ask the carrier about one shipment now",
        description="At most once per shipment per refresh interval (429 with `Retry-After`).",
        answers={200: ("The shipment after the poll.", ShipmentPublic)},
        errors=(401, 404, 429, 503),
        path_descriptions=_SHIPMENT_ID,
    ),
    "edd_api.checkout_edd": Route(
        summary="Public checkout estimate: delivery dates for a parcel ordered now",
        description=(
            "Needs no key. Nothing is stored per call; each client address may ask "
            "`EDD_REQUESTS_PER_MINUTE` times a minute (429 with `Retry-After` beyond)."
        ),
        api_key=False,
        answers={200: ("The dates and the cut-off countdown.", CheckoutEstimate)},
        errors=(400, 404, 429),
        query_model=CheckoutQuery,
    ),
    "settings_api.get_settings": Route(
        summary="The brand's settings, every default filled in",
        answers={200: ("The settings.", BrandSettings)},
        errors=(),
    ),
    "settings_api.put_settings": Route(
        summary="Change some or all of the brand's settings",
        description=(
            "Send the whole document or only the parts to change: parts are merged key by key, "
            "a value (even a list or a mapping) replaces the stored one. Nothing is stored unless "
            "every value is valid; a wrong one is a 400 whose `details` name each field "
            '(`{"loc": "returns.window_days", "msg": ...}`). Each changed value is recorded in the '
            "brand's history, which the console can undo."
        ),
        answers={200: ("The settings after the change.", BrandSettings)},
        errors=(400, 413),
        request_body={
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": REF.format(model="BrandSettings")}}
            },
        },
    ),
    "edd_api.shipment_edd": Route(
        summary="A parcel's predicted dates and the basis of each prediction",
        answers={200: ("Dates and predictions, newest first.", ShipmentEdd)},
        errors=(401, 404),
        path_descriptions=_SHIPMENT_ID,
    ),
}

_VARIABLE = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_CONVERTER_SCHEMAS = {
    "int": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
    "path": {"type": "string", "minLength": 1},
}


def _path(rule: str) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """``/a/<int:x>`` → (``/a/{x}``, [(``x``, its schema)])."""
    variables = [
        (
            m["name"],
            _CONVERTER_SCHEMAS.get(m["converter"] or "", {"type": "string", "minLength": 1}),
        )
        for m in _VARIABLE.finditer(rule)
    ]
    return _VARIABLE.sub(lambda m: "{" + m["name"] + "}", rule), variables


def _query_value_schema(prop: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema: an optional field's non-null branch (a query has no null)."""
    schema = {
        k: v for k, v in prop.items() if k not in ("title", "description", "default", "anyOf")
    }
    for branch in prop.get("anyOf", []):
        if branch.get("type") != "null":
            schema = {**branch, **schema}
    return schema


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": _query_value_schema(prop),
            "description": prop.get("description", ""),
        }
        for name, prop in schema["properties"].items()
    ]


def _operation_id(method: str, path: str) -> str:
    """``post`` + ``/api/v1/shipments/{shipment_id}/refresh`` → ``postShipmentsShipmentIdRefresh``."""
    words = re.findall(r"[a-z0-9]+", path.removeprefix("/api/v1").lower())
    return method + "".join(word.title() for word in words)


def _operation(
    endpoint: str,
    method: str,
    path: str,
    variables: list[tuple[str, dict[str, Any]]],
    routes: dict[str, Route],
) -> dict[str, Any]:
    route = routes.get(endpoint)
    operation_id = _operation_id(method, path)
    path_parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": schema,
            "description": route.path_descriptions.get(name, "") if route else "",
        }
        for name, schema in variables
    ]
    if route is None:
        return {
            "operationId": operation_id,
            "summary": "Undocumented",
            "x-undocumented": True,
            "parameters": path_parameters,
            "responses": {"default": {"description": "Unknown."}},
        }
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": route.summary,
        "parameters": [
            *path_parameters,
            *route.parameters,
            *(_query_parameters(route.query_model) if route.query_model else []),
        ],
        "responses": {
            str(status): {
                "description": text,
                "content": {
                    "application/json": {
                        "schema": (
                            {"$ref": REF.format(model=model.__name__)}
                            if model
                            else {"type": "object"}
                        )
                    }
                },
            }
            for status, (text, model) in route.answers.items()
        },
    }
    operation["responses"].update(_errors(*route.errors))
    if route.description:
        operation["description"] = route.description
    if not route.api_key:
        operation["security"] = []
    else:
        operation["responses"].update(_errors(401))
    if route.request_body is not None:
        operation["requestBody"] = route.request_body
    return operation


def documented_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(path rule, method, endpoint) of every route the document describes."""
    return [
        (rule.rule, method, rule.endpoint)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(PREFIXES)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    ]


def openapi_document(app: Flask) -> dict[str, Any]:
    """The document served at ``/api/v1/openapi.json`` (built once per app)."""
    document = app.extensions.get(EXTENSION_KEY)
    if document is None:
        document = app.extensions.setdefault(EXTENSION_KEY, _build(app))
    return document  # type: ignore[no-any-return]  # built as JSON (Any) from the schemas above


def _build(app: Flask) -> dict[str, Any]:
    routes = {**documented_elsewhere(app), **ROUTES}
    envelopes = [envelope_model(t) for t in EventType]
    answers = dict.fromkeys(
        model
        for route in routes.values()
        for _, model in route.answers.values()
        if model is not None
    )
    models: list[type[BaseModel]] = [*envelopes, *answers, WmsReturnWebhook, KittingWebhook]
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    schemas = defs["$defs"]
    schemas["Error"] = _error_schema()
    schemas["Event"] = {
        "oneOf": [{"$ref": REF.format(model=m.__name__)} for m in envelopes],
        "discriminator": {
            "propertyName": "type",
            "mapping": {t.value: REF.format(model=envelope_model(t).__name__) for t in EventType},
        },
    }
    paths: dict[str, dict[str, Any]] = {}
    for rule, method, endpoint in sorted(documented_routes(app)):
        path, variables = _path(rule)
        paths.setdefault(path, {})[method.lower()] = _operation(
            endpoint, method.lower(), path, variables, routes
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "postpurchase API",
            "version": "1",
            "description": (
                "Orders, shipments, stock and returns from a WMS/OMS; shipments and delivery "
                "estimates out. Money is an integer in minor units of the currency (JPY has "
                'none). Errors are `{"error": {"code", "message", "details"}}`, '
                "and `details` names the field."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"apiKey": []}],
        "paths": paths,
        "webhooks": {**_wms_webhooks(), **_kitting_webhook()},
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The brand's API key.",
                }
            },
        },
    }
