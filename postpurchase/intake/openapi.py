"""The OpenAPI 3.1 document of the intake API, generated from the pydantic models."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from postpurchase.intake.examples import EXAMPLES
from postpurchase.intake.schemas import EventAccepted, EventType, OrderPublic, envelope_model
from postpurchase.intake.signing import SIGNATURE_HEADER
from postpurchase.returns.wms import WmsReturnWebhook

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
        400: "Not JSON, or not an event envelope (missing id/type/occurred_at/data, unknown type).",
        401: "Missing or invalid API key or signature, or a signature timestamp outside the window.",
        404: "Not found.",
        413: "Body larger than `MAX_BODY_BYTES` (default 1 MiB).",
        415: "Not `application/json`.",
        422: "The data does not match the event type's schema; `details` names each field.",
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
                          "rejected, cancelled.",
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
                    "goods' arrival with a `return.received` event quoting `data.rma_number`."
                ),
                "security": [],
                "parameters": [
                    {"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": {"type": "string"}},
                    {"name": "Idempotency-Key", "in": "header", "required": True, "schema": {"type": "string"}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": REF.format(model="WmsReturnWebhook")}}},
                },
                "responses": {
                    "2XX": {"description": "Received; not sent again."},
                    "default": {"description": "Retried later (401/408/429/5xx) or given up (other 4xx)."},
                },
            }
        }
        for name, summary in texts.items()
    }


@cache
def openapi_document() -> dict[str, Any]:
    """The document served at ``/api/v1/openapi.json``."""
    envelopes = [envelope_model(t) for t in EventType]
    models: list[type[BaseModel]] = [*envelopes, EventAccepted, OrderPublic, WmsReturnWebhook]
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
    accepted = {
        "content": {"application/json": {"schema": {"$ref": REF.format(model="EventAccepted")}}}
    }
    event_operation = {
        "summary": "Send one event (order, shipment, inventory, return)",
        "description": (
            "Authenticate with the brand's API key and sign the exact body: "
            f"`{SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256(signing_secret, "
            '"<t>.<body>")>`; the timestamp may be 5 minutes off. The event is stored before '
            "anything else happens and processed right after the answer. Resending the same `id` "
            "(or the same body) is safe: the answer is `200` with status `duplicate`. Events may "
            "arrive in any order: a shipment before its order waits for the order."
        ),
        "parameters": [
            {
                "name": SIGNATURE_HEADER,
                "in": "header",
                "required": True,
                "schema": {"type": "string", "example": "t=1763720000,v1=5f2b...c9"},
            }
        ],
        "requestBody": {
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
        "responses": {
            "202": {"description": "Stored; it will be processed.", **accepted},
            "200": {
                "description": "Already received (same event id or body): not applied again.",
                **accepted,
            },
            **_errors(400, 401, 413, 415, 422),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "postpurchase intake API",
            "version": "1",
            "description": (
                "Orders, shipments, stock and returns from a WMS/OMS. Money is an "
                "integer in minor units of the currency (JPY has none)."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"apiKey": []}],
        "paths": {
            "/api/v1/events": {"post": {**event_operation, "operationId": "postEvent"}},
            "/webhooks/wms": {"post": {**event_operation, "operationId": "postWmsWebhook"}},
            "/webhooks/shopify/{brand}": {
                "post": {
                    "operationId": "postShopifyWebhook",
                    "summary": "Shopify webhook (orders, fulfillments, refunds)",
                    "description": (
                        "Verified with `X-Shopify-Hmac-Sha256` (base64 HMAC-SHA256 of the raw body with "
                        "the brand's Shopify secret) and deduplicated on `X-Shopify-Webhook-Id`. Topics "
                        "`orders/create`, `orders/updated`, `orders/cancelled`, `fulfillments/create`, "
                        "`fulfillments/update` and `refunds/create` are applied; others are stored "
                        "and answered `ignored`."
                    ),
                    "security": [],
                    "parameters": [
                        {
                            "name": "brand",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                            "description": "The brand's slug.",
                        },
                        *(
                            {
                                "name": name,
                                "in": "header",
                                "required": True,
                                "schema": {"type": "string"},
                            }
                            for name in ("X-Shopify-Hmac-Sha256", "X-Shopify-Topic")
                        ),
                        {
                            "name": "X-Shopify-Webhook-Id",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "description": "Shopify's resource (REST shape).",
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": {"description": "Stored; it will be processed.", **accepted},
                        "200": {
                            "description": "Duplicate, or a topic that is not used (`ignored`).",
                            **accepted,
                        },
                        **_errors(401, 404, 413, 415),
                    },
                }
            },
            "/api/v1/orders/{order_id}": {
                "get": {
                    "operationId": "getOrder",
                    "summary": "An order with its lines and parcels",
                    "parameters": [
                        {
                            "name": "order_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                            "description": "The sender's order id.",
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The order.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": REF.format(model="OrderPublic")}
                                }
                            },
                        },
                        **_errors(401, 404),
                    },
                }
            },
        },
        "webhooks": _wms_webhooks(),
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
