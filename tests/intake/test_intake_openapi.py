"""The OpenAPI document is generated from the routes: every API and webhook route is in it."""

from __future__ import annotations

from openapi_spec_validator import validate

from postpurchase.intake.openapi import ROUTES, documented_routes, openapi_document
from postpurchase.web.apidoc import documented_elsewhere


def test_every_api_and_webhook_route_is_in_the_document(app, client) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for rule, method, _ in documented_routes(app):
        path = rule.replace("<int:", "<").replace("<path:", "<").replace("<", "{").replace(">", "}")
        assert method.lower() in paths.get(path, {}), f"{method} {rule} is missing"


def test_every_route_in_the_document_is_described(app) -> None:
    undocumented = [
        f"{method} {rule} ({endpoint})"
        for rule, method, endpoint in documented_routes(app)
        if endpoint not in {**ROUTES, **documented_elsewhere(app)}
    ]
    assert undocumented == []


def test_the_document_names_the_shipments_edd_and_refresh_routes(app) -> None:
    paths = openapi_document(app)["paths"]
    assert {
        "/api/v1/shipments",
        "/api/v1/shipments/{shipment_id}",
        "/api/v1/shipments/{shipment_id}/refresh",
        "/api/v1/shipments/{shipment_id}/edd",
        "/api/v1/edd",
        "/webhooks/carrier/{code}",
    } <= set(paths)


def test_the_checkout_query_is_documented_from_its_model(app) -> None:
    parameters = openapi_document(app)["paths"]["/api/v1/edd"]["get"]["parameters"]
    by_name = {p["name"]: p for p in parameters}
    assert by_name["postal_code"]["required"] and "pattern" in by_name["postal_code"]["schema"]


def test_the_one_way_to_name_parcels_is_stated(app) -> None:
    description = openapi_document(app)["paths"]["/api/v1/events"]["post"]["description"]
    assert "`tracking_number`" in description and "never both" in description


def test_the_generated_document_validates(app) -> None:
    validate(openapi_document(app))


def test_every_shipment_answer_is_the_one_shipment_public_schema(app) -> None:
    document = openapi_document(app)
    schemas, paths = document["components"]["schemas"], document["paths"]

    def answer(path: str, method: str) -> dict:
        return paths[path][method]["responses"]["200"]["content"]["application/json"]["schema"]

    def resolve(schema: dict) -> dict:
        return schemas[schema["$ref"].rsplit("/", 1)[1]]

    one = {"$ref": "#/components/schemas/ShipmentPublic"}
    assert answer("/api/v1/shipments/{shipment_id}", "get") == one
    assert answer("/api/v1/shipments/{shipment_id}/refresh", "post") == one
    assert resolve(answer("/api/v1/shipments", "get"))["properties"]["data"]["items"] == one
    assert (
        resolve(answer("/api/v1/orders/{external_id}", "get"))["properties"]["shipments"]["items"]
        == one
    )
    assert set(schemas["ShipmentPublic"]["properties"]) >= {
        "id",
        "shipment_id",
        "carrier",
        "events",
    }
