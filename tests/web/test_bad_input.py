"""Garbage in every query and form field of every page is a 4xx, never a 500.

The walk finds each route's fields itself: it requests the route once while recording which query
and form keys the app reads, then sends garbage in each of them in turn. New routes and new fields
are covered without being listed here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from flask import Flask
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import Rule

from tests.web.conftest import SignedIn, Tenant

#: Routes whose input is validated and tested by their own feature, each with the reason.
NOT_WALKED: dict[str, str] = {
    "static": "files shipped with the app",
    "merchant.logout": "would end the walk's session; reads only the form token",
    "merchant.login": "sign-in has its own tests (throttling, tokens)",
    "api.events": "JSON envelopes, validated by intake's schemas and tests",
    "webhooks.receive_generic_event": "JSON envelopes, validated by intake's schemas and tests",
    "webhooks.receive_shopify_webhook": "Shopify JSON, validated by intake's tests",
    "carrier_webhooks.carrier_webhook": "carrier payloads, validated by the carriers' tests",
    "line_pages.webhook": "LINE's signed JSON, validated by the LINE tests",
    "shipments_api.shipment_refresh": "asks the carrier over the network; its only input is the path id",
    "console.refresh": "asks the carrier over the network; its only input is the path id",
    "ops.readyz": "reads no input; a 503 here is its answer for a database built without migrations "
    "(tests/ops/test_readiness.py)",
}

#: Single fields left out of the walk, each with the reason.
FIELDS_NOT_WALKED: dict[tuple[str, str], str] = {}

GARBAGE = (
    "x",
    "1" * 30,
    "-1",
    "0",
    "9999-12-31",
    "0001-01-01",
    "１２",
    "1e3",
    "\x00",
    "%",
    "' OR '1'='1",
    "a" * 3000,
    "xx",
)

#: Fields the app reads for every request in one shared place: walked on the first route that reads them
#: (sending garbage ``lang`` to each PDF would only render the same PDF a dozen times more).
READ_BY_EVERY_PAGE = {"lang"}

#: Form keys whose names carry an id (``quantity-<line id>``): sent with garbage in the name.
GARBAGE_KEYS = ("quantity-" + "9" * 30, "quantity-x", "quantity-")


class _RecordingArgs(ImmutableMultiDict):  # type: ignore[type-arg]
    """Query and form values that note every key the app asks for."""

    read: ClassVar[set[str]] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)

    def getlist(self, key: str, type: Any = None) -> list[Any]:
        self.read.add(key)
        return super().getlist(key, type)


@pytest.fixture
def recording(app: Flask) -> Iterator[set[str]]:
    app.request_class = type(
        "RecordingRequest", (app.request_class,), {"parameter_storage_class": _RecordingArgs}
    )
    yield _RecordingArgs.read
    _RecordingArgs.read.clear()


def _path(rule: Rule, own: Tenant) -> str:
    """The route filled with the signed-in brand's own ids and tokens, so the request reaches its fields."""
    values = {
        name: value
        for name, value in own.path_values(rule.endpoint).items()
        if name in rule.arguments
    }
    values["brand_slug"] = own.brand.slug
    missing = sorted(name for name in rule.arguments if values.get(name) is None)
    assert not missing, f"{rule.rule}: no value for {missing}; add it to Tenant.path_values"
    _, path = rule.build(values, append_unknown=False)  # type: ignore[misc]
    return path


@pytest.mark.slow
def test_garbage_in_any_field_of_any_route_is_never_a_500(
    app: Flask, tenants: tuple[Tenant, Tenant], as_beta: SignedIn, recording: set[str]
) -> None:
    own = tenants[1]
    problems: list[str] = []
    tried = 0
    walked_everywhere: set[str] = set()
    discovered: set[tuple[str, str]] = set()

    def send(method: str, path: str, fields: dict[str, str]) -> None:
        nonlocal tried
        tried += 1
        query = fields if method == "GET" else None
        form = {"csrf_token": as_beta.csrf_token, **fields} if method == "POST" else None
        what = f"{method} {path} {fields!r:.80}"
        try:
            status = as_beta.client.open(
                path,
                method=method,
                query_string=query,
                data=form,
                headers={"Authorization": f"Bearer {as_beta.api_key}"},
            ).status_code
        except Exception as exc:  # TESTING propagates what would otherwise be a 500
            problems.append(f"{what}: {type(exc).__name__}: {exc}")
            return
        if status >= 500:
            problems.append(f"{what}: {status}")

    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_WALKED:
            continue
        path = _path(rule, own)
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            recording.clear()
            send(method, path, {})
            fields = sorted(
                name
                for name in recording - {"csrf_token"} - walked_everywhere
                if (rule.endpoint, name) not in FIELDS_NOT_WALKED
            )
            walked_everywhere.update(READ_BY_EVERY_PAGE.intersection(fields))
            discovered.update((rule.endpoint, name) for name in fields)
            garbage = [{name: value} for name in fields for value in GARBAGE]
            if method == "POST":
                garbage += [{name: "1"} for name in GARBAGE_KEYS]
            for bad in garbage:
                send(method, path, bad)
    # The recording finds fields read in views, in helpers and in operations' callers alike.
    assert {
        ("merchant_messages.log", "state"),
        ("merchant_messages.preview", "shipment_id"),
        ("merchant_insights.pdf_download", "end"),
        ("messages_public.feedback", "score"),
        ("merchant_messages.test_send", "locale"),
    } <= discovered
    assert tried > 300 and not problems, "\n".join(problems)
