"""HTTP errors: 405s say which methods are allowed, and ids no database holds are a 404."""

from __future__ import annotations


def test_api_405_carries_an_allow_header(client) -> None:
    response = client.delete("/api/v1/shipments")
    assert response.status_code == 405 and response.is_json
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_trace_is_refused_with_405_and_allow_on_pages_and_the_api(client) -> None:
    for path in ("/merchant/login", "/api/v1/shipments", "/healthz"):
        response = client.open(path, method="TRACE")
        assert response.status_code == 405 and "GET" in response.headers["Allow"], path


def test_path_id_beyond_64_bits_is_a_404(client, brand) -> None:
    response = client.get(
        "/api/v1/shipments/" + "9" * 30, headers={"Authorization": f"Bearer {brand.api_key}"}
    )
    assert response.status_code == 404


def test_bad_query_value_in_a_json_error_names_the_field(app) -> None:
    from postpurchase.web.params import Params

    @app.get("/api/v1/_params_probe")
    def probe() -> dict[str, int | None]:
        from flask import request

        return {"id": Params(request.args).id("shipment_id")}

    body = app.test_client().get("/api/v1/_params_probe?shipment_id=abc").get_json()
    assert (
        body["error"]["code"] == "invalid_parameter"
        and body["error"]["details"][0]["loc"] == "query.shipment_id"
    )


def test_nul_byte_in_a_query_or_form_value_is_a_400_naming_the_field(client, brand) -> None:
    response = client.get("/acme/track", query_string={"order": "#1001\x00"})
    assert response.status_code == 400 and "order: must not contain NUL" in response.get_data(
        as_text=True
    )
    response = client.post(
        "/acme/track", data={"order_number": "\x00", "email_or_postal": "a@example.jp"}
    )
    assert response.status_code == 400 and "order_number" in response.get_data(as_text=True)
