"""What the OpenAPI document says about a route beyond its path: the features' side of it.

The document itself is built by :mod:`postpurchase.intake.openapi`; a feature above the intake
describes its own ``/api/v1`` routes here, per app, with :func:`document_route` in its ``init_app``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from pydantic import BaseModel

EXTENSION_KEY = "postpurchase.apidoc"


@dataclass(frozen=True)
class Route:
    """What the document says about one endpoint beyond its path and methods."""

    summary: str
    #: Status → (description, response model or None).
    answers: dict[int, tuple[str, type[BaseModel] | None]]
    errors: tuple[int, ...]
    description: str = ""
    #: Needs the brand's API key (``Authorization: Bearer``).
    api_key: bool = True
    parameters: tuple[dict[str, Any], ...] = ()
    request_body: dict[str, Any] | None = None
    query_model: type[BaseModel] | None = None
    path_descriptions: dict[str, str] = field(default_factory=dict)


def query_parameter(
    name: str, schema: dict[str, Any], description: str, *, required: bool = False
) -> dict[str, Any]:
    """One query parameter of an operation."""
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


def document_route(app: Flask, endpoint: str, route: Route) -> None:
    """Describe ``endpoint`` in the app's OpenAPI document."""
    app.extensions.setdefault(EXTENSION_KEY, {})[endpoint] = route


def documented_elsewhere(app: Flask) -> dict[str, Route]:
    """The routes features described with :func:`document_route`."""
    return dict(app.extensions.get(EXTENSION_KEY, {}))
