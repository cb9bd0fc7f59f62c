"""Carrier webhooks in, and the shipments API (brand API keys)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from sqlmodel import select

from carriers.status import Status
from postpurchase.db import get_db
from postpurchase.inbox import process_pending, receive
from postpurchase.models import (
    InboxEvent,
    InboxState,
    RejectionReason,
    WebhookRejection,
)
from postpurchase.tracking.cli import tracking
from postpurchase.tracking.webhooks import UnknownBrand, UnknownCarrier, receive_carrier_webhook
from tests.sql import query_plan, recorded
from tests.tracking.conftest import result


def pushed_body(number, events):
    return json.dumps(
        {"number": number, "events": [[at.isoformat(), s, c] for at, s, c in events]}
    ).encode()


def push(client, fake, number, events, *, path="/webhooks/carrier/fake", secret=None, body=None):
    body = pushed_body(number, events) if body is None else body
    signature = hmac.new((secret or fake.secret).encode(), body, hashlib.sha256).hexdigest()
    return client.post(
        path, data=body, headers={"X-Fake-Signature": signature, "Content-Type": "application/json"}
    )


def inbox(app):
    with get_db(app).session() as session:
        return session.exec(select(InboxEvent)).all()


def test_webhook_is_stored_then_applied_to_the_shipment(
    app, client, fake, make_shipment, clock, load
):
    sid = make_shipment("PUSH1")
    response = push(client, fake, "PUSH1", [(clock.now, "out_for_delivery", "OFD")])
    assert response.status_code == 200 and response.json["matched"] == 1
    [event] = inbox(app)
    assert (
        event.source == "carrier:fake"
        and event.state == InboxState.processed
        and event.signature_ok
    )
    shipment = load(sid)
    assert shipment.status == Status.out_for_delivery and shipment.last_webhook_at == clock.now


def test_webhook_with_bad_signature_is_401_and_only_counted(app, client, fake, make_shipment, load):
    sid = make_shipment("PUSH2")
    response = push(client, fake, "PUSH2", [], secret="wrong")
    assert response.status_code == 401 and response.json["error"]["code"] == "invalid_signature"
    assert inbox(app) == []
    with get_db(app).session() as session:
        [rejection] = session.exec(select(WebhookRejection)).all()
    assert (rejection.source, rejection.reason) == (
        "carrier:fake",
        RejectionReason.invalid_signature,
    )
    assert load(sid).status == Status.pending


def test_deeply_nested_webhook_body_is_400_and_not_stored(app, client, fake):
    body = b"[" * 5000 + b"]" * 5000
    response = client.post(
        "/webhooks/carrier/fake", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json["error"]["code"] == "too_deep"
    assert inbox(app) == []


def test_same_webhook_body_twice_is_applied_once(app, client, fake, make_shipment, clock):
    make_shipment("PUSH3")
    first = push(client, fake, "PUSH3", [(clock.now, "in_transit", "IT")])
    second = push(client, fake, "PUSH3", [(clock.now, "in_transit", "IT")])
    assert first.json["duplicate"] is False and second.json["duplicate"] is True
    assert len(inbox(app)) == 1


def test_webhook_with_brand_slug_only_touches_that_brands_shipments(
    app, client, fake, make_shipment, make_brand, clock, load
):
    other = make_brand("other")
    mine = make_shipment("SAME")
    theirs = make_shipment("SAME", brand_id=other.brand_id)
    push(
        client, fake, "SAME", [(clock.now, "in_transit", "IT")], path="/webhooks/carrier/fake/other"
    )
    assert load(theirs).status == Status.in_transit
    assert load(mine).status == Status.pending


def test_a_carrier_event_left_pending_is_applied_by_the_inbox_sweep(
    app, fake, make_shipment, clock, load
):
    sid = make_shipment("SWEPT")
    with get_db(app).session() as session:
        receive(
            session=session,
            brand_id=None,
            source="carrier:fake",
            external_id="left-by-a-dead-worker",
            raw_body=pushed_body("SWEPT", [(clock.now, "in_transit", "IT")]),
        )
        session.commit()
    assert process_pending(app, now=clock.now).processed == 1
    assert load(sid).status == Status.in_transit and load(sid).last_webhook_at == clock.now


def test_verified_but_unreadable_body_is_400_and_kept_for_the_inbox_to_retry(
    app, client, fake, clock
):
    response = push(client, fake, "", [], body=b'{"no number": true}')
    assert response.status_code == 400 and response.json["error"]["code"] == "unparseable"
    [event] = inbox(app)
    assert event.state == InboxState.failed and "ParseError" in event.error
    assert event.next_attempt_at > clock.now


def test_the_webhook_operation_raises_domain_errors_not_http_errors(app, clock):
    with pytest.raises(UnknownCarrier):
        receive_carrier_webhook(
            app, code="nope", brand_slug=None, headers={}, body=b"{}", now=clock.now
        )
    with pytest.raises(UnknownBrand):
        receive_carrier_webhook(
            app, code="fake", brand_slug="nobody", headers={}, body=b"{}", now=clock.now
        )


def test_webhook_for_unknown_carrier_is_404(client):
    response = client.post("/webhooks/carrier/nope", data=b"{}")
    assert response.status_code == 404 and response.json["error"]["code"] == "unknown_carrier"


def test_webhook_for_a_carrier_that_does_not_push_is_404(client, clock):
    response = client.post("/webhooks/carrier/sandbox", data=b"{}")
    assert response.status_code == 404 and response.json["error"]["code"] == "webhooks_unsupported"


def auth(brand):
    return {"Authorization": f"Bearer {brand.api_key}"}


def test_get_shipment_returns_status_and_timeline(app, client, brand, fake, make_shipment, clock):
    sid = make_shipment("API1", next_poll_at=clock.now)
    fake.answers["API1"] = result(
        "API1",
        (clock.now - timedelta(hours=2), Status.in_transit, "IT"),
        (clock.now - timedelta(hours=1), Status.out_for_delivery, "OFD"),
    )
    client.post(f"/api/v1/shipments/{sid}/refresh", headers=auth(brand))
    body = client.get(f"/api/v1/shipments/{sid}", headers=auth(brand)).json
    assert body["status"] == "out_for_delivery"
    assert [e["status"] for e in body["events"]] == ["in_transit", "out_for_delivery"]


def test_another_brands_shipment_is_404(client, make_brand, make_shipment):
    other = make_brand("other")
    sid = make_shipment("X", brand_id=other.brand_id)
    brand = make_brand("third")
    response = client.get(f"/api/v1/shipments/{sid}", headers=auth(brand))
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert client.post(f"/api/v1/shipments/{sid}/refresh", headers=auth(brand)).status_code == 404


def test_shipments_api_needs_an_api_key(client, make_shipment):
    sid = make_shipment()
    assert client.get(f"/api/v1/shipments/{sid}").status_code == 401


def test_list_filters_by_status_and_pages_with_a_cursor(client, brand, make_shipment):
    ids = [make_shipment(status=Status.in_transit) for _ in range(3)]
    make_shipment(status=Status.delivered)
    first = client.get("/api/v1/shipments?status=in_transit&limit=2", headers=auth(brand)).json
    assert [s["id"] for s in first["data"]] == ids[:2] and first["next_cursor"]
    rest = client.get(
        f"/api/v1/shipments?status=in_transit&limit=2&cursor={first['next_cursor']}",
        headers=auth(brand),
    ).json
    assert [s["id"] for s in rest["data"]] == ids[2:] and rest["next_cursor"] is None
    assert all("events" in s for s in first["data"])


def test_a_page_of_the_list_walks_the_brands_parcels_in_id_order(app, client, brand, make_shipment):
    """Not sorting every parcel of the brand, nor walking every brand's (SQLite chose either as
    the brand grew)."""
    for _ in range(3):
        make_shipment()
    engine = get_db(app).engine
    with recorded(engine, starting="SELECT", containing="FROM shipment") as seen:
        assert client.get("/api/v1/shipments?limit=2", headers=auth(brand)).status_code == 200
    listing = next(s for s in seen if "ORDER BY shipment.id" in s.sql)
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            plan = query_plan(connection, listing)
        assert plan == "SEARCH shipment USING INDEX ix_shipment_brand_id_id (brand_id=?)", plan


def test_list_rejects_unknown_status_and_bad_limit(client, brand):
    assert client.get("/api/v1/shipments?status=lost", headers=auth(brand)).status_code == 400
    response = client.get("/api/v1/shipments?limit=1000", headers=auth(brand))
    assert response.status_code == 400 and "limit" in response.json["error"]["message"]


@pytest.mark.parametrize("cursor", [2**31, 2**64])
def test_a_cursor_beyond_the_id_column_is_400_naming_it(client, brand, cursor):
    response = client.get(f"/api/v1/shipments?cursor={cursor}", headers=auth(brand))
    assert response.status_code == 400
    assert response.json["error"]["details"][0]["loc"] == "query.cursor"


def test_a_non_numeric_cursor_is_400_naming_it(client, brand):
    response = client.get("/api/v1/shipments?cursor=-1", headers=auth(brand))
    assert response.status_code == 400
    assert response.json["error"]["details"][0]["loc"] == "query.cursor"


@pytest.mark.parametrize("shipment_id", [2**31, 2**64])
def test_a_shipment_id_beyond_the_id_column_is_404_naming_it(client, brand, shipment_id):
    for path in (f"/api/v1/shipments/{shipment_id}", f"/api/v1/shipments/{shipment_id}/edd"):
        response = client.get(path, headers=auth(brand))
        assert response.status_code == 404
        assert response.json["error"]["details"][0]["loc"] == "path.shipment_id"
    response = client.post(f"/api/v1/shipments/{shipment_id}/refresh", headers=auth(brand))
    assert response.status_code == 404


def test_refresh_polls_now_and_is_rate_limited_per_shipment(
    client, brand, fake, make_shipment, clock
):
    sid = make_shipment("R1")
    fake.answers["R1"] = result("R1", (clock.now, Status.in_transit, "IT"))
    first = client.post(f"/api/v1/shipments/{sid}/refresh", headers=auth(brand))
    assert (
        first.status_code == 200
        and first.json["status"] == "in_transit"
        and len(fake.requests) == 1
    )
    clock.advance(seconds=10)
    again = client.post(f"/api/v1/shipments/{sid}/refresh", headers=auth(brand))
    assert again.status_code == 429 and int(again.headers["Retry-After"]) == 50
    assert len(fake.requests) == 1
    clock.advance(seconds=60)
    assert client.post(f"/api/v1/shipments/{sid}/refresh", headers=auth(brand)).status_code == 200


def test_refresh_when_the_carrier_fails_is_503(client, brand, fake, make_shipment):
    from carriers.base import TemporaryError

    sid = make_shipment("R2")
    fake.errors.append(TemporaryError("down", carrier="fake"))
    response = client.post(f"/api/v1/shipments/{sid}/refresh", headers=auth(brand))
    assert response.status_code == 503 and response.json["error"]["code"] == "carrier_unavailable"


def test_refresh_of_a_rate_limited_carrier_answers_at_once_with_retry_after(
    client, brand, fake, make_shipment
):
    from carriers.base import RateLimited

    sid = make_shipment("R3")
    fake.errors.append(RateLimited("slow down", carrier="fake", retry_after=100000))
    response = client.post(f"/api/v1/shipments/{sid}/refresh", headers=auth(brand))
    assert response.status_code == 503 and response.json["error"]["code"] == "carrier_unavailable"
    assert (
        response.headers["Retry-After"] == "1800"
        and response.json["error"]["details"]["retry_after"] == 1800
    )


def test_refresh_while_the_account_waits_out_a_rate_limit_does_not_call_it(
    client, brand, fake, make_shipment
):
    from carriers.base import RateLimited

    first, second = make_shipment("R4"), make_shipment("R5")
    fake.errors.append(RateLimited("slow down", carrier="fake", retry_after=120))
    client.post(f"/api/v1/shipments/{first}/refresh", headers=auth(brand))
    response = client.post(f"/api/v1/shipments/{second}/refresh", headers=auth(brand))
    assert (
        response.status_code == 503
        and response.headers["Retry-After"] == "120"
        and len(fake.requests) == 1
    )


def test_cli_poll_once_and_status(runner, fake, make_shipment, clock):
    make_shipment("C1", next_poll_at=clock.now)
    polled = runner.invoke(tracking, ["poll", "--once"])
    assert polled.exit_code == 0 and json.loads(polled.output.splitlines()[-1])["numbers"] == 1
    status = runner.invoke(tracking, ["status"])
    assert status.exit_code == 0 and json.loads(status.output)["statuses"] == {"pending": 1}


def test_cli_purge_reports_deleted_rows(runner):
    result_ = runner.invoke(tracking, ["purge"])
    assert result_.exit_code == 0 and "deleted 0" in result_.output


def test_refresh_asks_the_carrier_with_in_place_waits_turned_off(
    client, brand, fake, make_shipment, monkeypatch
):
    """The HTTP client of a real adapter would sleep before retrying a 502-504; not inside a request."""
    from carriers import http

    seen: list[bool] = []
    track = fake.track
    monkeypatch.setattr(
        fake, "track", lambda numbers: seen.append(http._waiting_allowed.get()) or track(numbers)
    )
    sid = make_shipment("R9")
    client.post(f"/api/v1/shipments/{sid}/refresh", headers=auth(brand))
    assert seen == [False]
