"""Schemathesis against the generated OpenAPI document: no route answers a 5xx, every answer
matches the document. Webhook requests are signed (and sent with the brand's key) by a
``before_call`` hook, so generated bodies get past the door and reach the parsers and schemas.

Bounded to run in the normal suite: a few examples per operation and mode, no example database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from postpurchase.clock import utcnow
from postpurchase.inbox.signing import SIGNATURE_HEADER, shopify_hmac, sign

#: The ``brand`` fixture's Shopify secret.
SHOPIFY_SECRET = "shpss_test_secret"
EXAMPLES_PER_OPERATION = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _raw(body: Any) -> bytes:
    """The exact bytes sent for a generated body (so the signature is over what is sent)."""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8", "surrogatepass")
    if isinstance(body, NotSet):
        return b""
    return json.dumps(body).encode()


@pytest.fixture
def signing_hook(brand) -> Iterator[None]:
    """Send every generated request as the ``brand`` fixture would: its key, its signatures."""

    def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {brand.api_key}"}
        path = case.operation.path
        if "slug" in case.path_parameters:
            case.path_parameters["slug"] = "acme"
        if case.operation.method.lower() != "post" or (
            not path.startswith("/webhooks/") and path != "/api/v1/events"
        ):
            return
        kwargs["data"] = raw = _raw(case.body)
        if path.startswith("/webhooks/shopify/"):
            case.headers["X-Shopify-Hmac-Sha256"] = shopify_hmac(SHOPIFY_SECRET, raw)
        else:
            case.headers[SIGNATURE_HEADER] = sign(
                brand.signing_secret, raw, int(utcnow().timestamp())
            )

    GLOBAL_HOOK_DISPATCHER.register_hook_with_name(before_call, "before_call")
    try:
        yield
    finally:
        GLOBAL_HOOK_DISPATCHER.unregister(before_call)


@pytest.mark.slow
def test_no_operation_answers_a_5xx_or_outside_the_document(app, signing_hook) -> None:
    app.config["EDD_REQUESTS_PER_MINUTE"] = 10_000
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 23
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                response = case.call()
                case.validate_response(response, checks=CHECKS)

            run()
