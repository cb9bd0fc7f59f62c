"""Return methods: what the brand offers per order, the customer's choice on the RMA and in the WMS
feed, pickup dates from the carrier calendar, and carrier API labels bought once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlmodel import select

from carriers.easypost import EasyPost
from carriers.registry import CarrierSettings
from postpurchase.models import (
    Brand,
    DropOffPoint,
    Order,
    OutboxMessage,
    ReturnRequest,
    ReturnResolution,
    Shipment,
)
from postpurchase.models.enums import ReturnMethod, TimeSlot
from postpurchase.returns import methods
from postpurchase.returns.methods import MethodChoice
from postpurchase.returns.operations import ReturnError, WantedLine, request_return
from tests.conftest import PINNED_NOW
from tests.returns.conftest import later

FIXTURES = Path(__file__).parent / "fixtures"
ALL_METHODS = [str(m) for m in ReturnMethod]


def _return(session: Any, shop: Any) -> ReturnRequest:
    return request_return(
        session=session,
        brand=session.get(Brand, shop.brand_id),
        order=session.get(Order, shop.order_id),
        lines=[WantedLine(order_line_id=shop.tee, quantity=1, reason_code="size_too_small")],
        resolution=ReturnResolution.refund,
        now=later(1),
    )


def _settings(session: Any, brand_id: int, **returns: Any) -> Brand:
    brand = session.get(Brand, brand_id)
    brand.settings = {**(brand.settings or {}), "returns": returns}
    session.add(brand)
    session.flush()
    return brand


def test_domestic_orders_are_offered_the_domestic_methods_only(session: Any, shop: Any) -> None:
    brand = _settings(session, shop.brand_id, methods=ALL_METHODS, label_carrier="easypost")
    order = session.get(Order, shop.order_id)
    assert ReturnMethod.carrier_label not in methods.offered_methods(brand, order)
    assert ReturnMethod.convenience_store in methods.offered_methods(brand, order)


def test_international_orders_are_offered_the_carrier_label_only(session: Any, shop: Any) -> None:
    brand = _settings(session, shop.brand_id, methods=ALL_METHODS, label_carrier="easypost")
    order = session.get(Order, shop.order_id)
    order.shipping_country = "US"
    assert methods.offered_methods(brand, order) == [ReturnMethod.carrier_label]


def test_pickup_dates_skip_weekends_and_holidays(session: Any, shop: Any) -> None:
    brand = _settings(session, shop.brand_id, pickup_days=3)
    # Friday 20 November 2026; Monday the 23rd is 勤労感謝の日.
    dates = methods.pickup_dates(
        methods.settings_for(brand).returns, methods.brand_calendar(brand), date(2026, 11, 20)
    )
    assert dates == [date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26)]


def test_a_pickup_is_recorded_and_sent_in_the_rma_webhook(session: Any, shop: Any) -> None:
    brand = _settings(
        session,
        shop.brand_id,
        methods=["pickup"],
        wms_webhook_url="https://wms.example.com/hooks",
    )
    rma = _return(session, shop)
    methods.choose_method(
        session=session,
        brand=brand,
        rma=rma,
        choice=MethodChoice(
            ReturnMethod.pickup, pickup_date=date(2026, 11, 24), pickup_slot=TimeSlot.h14_16
        ),
        now=PINNED_NOW,
    )
    rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    sent = rows[-1].payload["document"]
    method = sent["data"]["method"]
    assert (method["kind"], method["pickup_date"], method["pickup_slot"]) == (
        "pickup",
        "2026-11-24",
        "14-16",
    )
    assert method["pickup_address"]["postal_code"] == "150-0001"


def test_a_pickup_on_a_holiday_is_refused(session: Any, shop: Any) -> None:
    brand = _settings(session, shop.brand_id, methods=["pickup"])
    rma = _return(session, shop)
    with pytest.raises(ReturnError) as caught:
        methods.choose_method(
            session=session,
            brand=brand,
            rma=rma,
            choice=MethodChoice(
                ReturnMethod.pickup, pickup_date=date(2026, 11, 23), pickup_slot=TimeSlot.morning
            ),
            now=PINNED_NOW,
        )
    assert caught.value.code == "pickup_date"


def test_a_method_the_brand_does_not_offer_is_refused(session: Any, shop: Any) -> None:
    brand = _settings(session, shop.brand_id, methods=["printed_label"])
    rma = _return(session, shop)
    with pytest.raises(ReturnError) as caught:
        methods.choose_method(
            session=session,
            brand=brand,
            rma=rma,
            choice=MethodChoice(ReturnMethod.post_office),
            now=PINNED_NOW,
        )
    assert caught.value.code == "method"


def test_a_dropoff_point_of_another_brand_is_refused(
    session: Any, shop: Any, make_brand: Any
) -> None:
    other = make_brand("other")
    point = DropOffPoint(
        brand_id=other.brand_id,
        code="X",
        kind=ReturnMethod.convenience_store,
        name="X",
        postal_code="1500001",
        address="Tokyo",
    )
    session.add(point)
    brand = _settings(session, shop.brand_id, methods=["convenience_store"])
    rma = _return(session, shop)
    with pytest.raises(ReturnError) as caught:
        methods.choose_method(
            session=session,
            brand=brand,
            rma=rma,
            choice=MethodChoice(ReturnMethod.convenience_store, dropoff_id=point.id),
            now=PINNED_NOW,
        )
    assert caught.value.code == "dropoff"


# Carrier API labels (EasyPost) against a local fake -------------------------------------------


class FakeEasyPost(BaseHTTPRequestHandler):
    """Answers like EasyPost's shipments API; records requests and counts purchases."""

    requests: ClassVar[list[tuple[str, str, Any]]] = []
    bought: ClassVar[bool] = False
    purchases: ClassVar[int] = 0

    def _send(self, body: dict[str, Any], status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _shipment(self) -> dict[str, Any]:
        body = json.loads((FIXTURES / "easypost_return_shipment_bought.json").read_text())
        if not type(self).bought:
            body.update(tracking_code=None, selected_rate=None, postage_label=None)
        return body

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length) or b"{}")
        type(self).requests.append(("POST", self.path, payload))
        if self.headers.get("Authorization", "")[:6] != "Basic ":
            self._send({"error": {"code": "APIKEY.REQUIRED"}}, 401)
        elif self.path == "/v2/shipments":
            self._send(self._shipment(), 201)
        elif self.path.endswith("/buy"):
            type(self).purchases += 1
            type(self).bought = True
            self._send(self._shipment())
        else:
            self._send({"error": {"code": "NOT_FOUND"}}, 404)

    def do_GET(self) -> None:
        type(self).requests.append(("GET", self.path, None))
        self._send(self._shipment())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def easypost() -> Iterator[EasyPost]:
    FakeEasyPost.requests, FakeEasyPost.bought, FakeEasyPost.purchases = [], False, 0
    server = HTTPServer(("127.0.0.1", 0), FakeEasyPost)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield EasyPost(
        CarrierSettings(
            credentials={"api_key": "EZTK_test"},
            base_url=f"http://127.0.0.1:{server.server_port}/v2",
            options={"retries": 0},
        )
    )
    server.shutdown()


def _international(session: Any, shop: Any) -> tuple[Brand, ReturnRequest]:
    brand = _settings(
        session,
        shop.brand_id,
        methods=["carrier_label"],
        label_carrier="easypost",
        label_service={"carrier": "USPS"},
    )
    order = session.get(Order, shop.order_id)
    order.shipping_country, order.shipping_city, order.shipping_name = "US", "Redondo Beach", "Jane"
    session.add(order)
    return brand, _return(session, shop)


def _buy(session: Any, brand: Brand, rma: ReturnRequest, buyer: EasyPost) -> None:
    request = methods.label_request(session=session, brand=brand, rma=rma)
    methods.start_carrier_label(session=session, rma=rma, buyer=buyer, request=request)
    methods.finish_carrier_label(
        session=session, rma=rma, buyer=buyer, request=request, now=PINNED_NOW
    )


def test_the_return_shipment_request_has_easyposts_shape(
    session: Any, shop: Any, easypost: EasyPost
) -> None:
    brand, rma = _international(session, shop)
    _buy(session, brand, rma, easypost)
    method, path, body = FakeEasyPost.requests[0]
    assert (method, path) == ("POST", "/v2/shipments")
    shipment = body["shipment"]
    assert shipment["is_return"] is True
    assert shipment["reference"] == rma.rma_number
    # EasyPost swaps the addresses of a return: ``to`` is the customer, ``from`` the brand.
    assert (shipment["to_address"]["country"], shipment["from_address"]["country"]) == ("US", "JP")
    assert shipment["from_address"]["zip"] == "135-0061"
    assert FakeEasyPost.requests[-1][2] == {"rate": {"id": "rate_9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"}}


def test_the_bought_label_is_stored_and_its_parcel_tracked(
    session: Any, shop: Any, easypost: EasyPost
) -> None:
    brand, rma = _international(session, shop)
    _buy(session, brand, rma, easypost)
    label = rma.attributes["carrier_label"]
    assert label["label_url"].endswith(".pdf")
    assert (label["carrier"], label["amount"], label["currency"]) == ("usps", 3820, "USD")
    shipment = session.exec(
        select(Shipment).where(Shipment.external_id == methods.return_shipment_id(rma))
    ).one()
    assert (shipment.carrier_code, shipment.tracking_number) == ("usps", "9434600208303110442365")
    assert rma.return_tracking_number == "9434600208303110442365"


def test_a_retried_purchase_does_not_buy_twice(session: Any, shop: Any, easypost: EasyPost) -> None:
    brand, rma = _international(session, shop)
    _buy(session, brand, rma, easypost)
    _buy(session, brand, rma, easypost)
    assert FakeEasyPost.purchases == 1


def test_a_purchase_lost_before_it_was_stored_is_read_back_not_bought_again(
    session: Any, shop: Any, easypost: EasyPost
) -> None:
    brand, rma = _international(session, shop)
    _buy(session, brand, rma, easypost)
    # The job died after EasyPost sold the label but before our commit: only the shipment id remains.
    rma.attributes = {
        **rma.attributes,
        "carrier_label": {"shipment_id": "shp_8a1b5f7c7e4a4c9fa2f7c0e1d3b4a5c6"},
    }
    _buy(session, brand, rma, easypost)
    assert FakeEasyPost.purchases == 1
    assert rma.attributes["carrier_label"]["tracking_number"] == "9434600208303110442365"
