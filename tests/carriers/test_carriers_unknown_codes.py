"""A code an international carrier's table does not know falls back by its class and keeps its raw
text: each adapter's real sample gets one newer scan with an invented code, and the result says the
family that scan belongs to (never a crash, never a silent in-transit, never a dropped scan)."""

from __future__ import annotations

import copy
import importlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest

from carriers import registry
from carriers.parsing import CodeClasses, forget_unknown_codes
from carriers.status import Status
from tests.carriers.test_carriers_properties import CONFORMANCE

TRACKING = CONFORMANCE / "carrier_tracking"
LATER = "2030-01-02T12:00:00+00:00"


def _newer(events: list[dict[str, Any]], **fields: Any) -> None:
    """Add a copy of the first scan, changed by ``fields``, as the newest one."""
    scan = copy.deepcopy(events[0])
    scan.update(fields)
    events.append(scan)


def _ups(doc: dict[str, Any]) -> None:
    activity = doc["trackResponse"]["shipment"][0]["package"][0]["activity"]
    # A new code under a new delivery type letter ("DZ"): its type says delivered.
    status = {"type": "DZ", "code": "Q7", "description": "LEFT AT SIDE DOOR", "statusCode": "977"}
    _newer(activity, status=status, date="20300102", time="120000")


def _fedex(doc: dict[str, Any]) -> None:
    scans = doc["output"]["completeTrackResults"][0]["trackResults"][0]["scanEvents"]
    _newer(
        scans,
        date=LATER,
        eventType="ZQ",
        derivedStatusCode="ZQ",
        exceptionCode="",
        eventDescription="Package refused by recipient",
    )


def _dhl(doc: dict[str, Any]) -> None:
    events = doc["shipments"][0]["events"]
    _newer(events, timestamp=LATER, statusCode="delivered-parcel-box", status="", description="Box")


def _dhl_express(doc: dict[str, Any]) -> None:
    events = doc["shipments"][0]["events"]
    _newer(events, date="2030-01-02", time="12:00:00", typeCode="ZZ", description="Shipment lost")


def _usps(doc: dict[str, Any]) -> None:
    _newer(
        doc["trackingEvents"],
        eventTimestamp="2030-01-02T07:00:00",
        GMTTimestamp="2030-01-02T12:00:00Z",
        eventCode="9Z",
        eventType="Package damaged in transit",
    )


def _royalmail(doc: dict[str, Any]) -> None:
    _newer(
        doc["mailPieces"]["events"],
        eventCode="EVZZZ",
        eventName="Item damaged in transit",
        eventDateTime=LATER,
    )


def _australiapost(doc: dict[str, Any]) -> None:
    events = doc["tracking_results"][0]["trackable_items"][0]["items"][0]["events"]
    _newer(events, date="2030-01-02T23:00:00+11:00", description="Item refused by addressee")


def _json(path: str, change: Callable[[dict[str, Any]], None]) -> Callable[[], bytes]:
    def body() -> bytes:
        doc = json.loads((TRACKING / path).read_text())
        change(doc)
        return json.dumps(doc).encode()

    return body


def _canadapost() -> bytes:
    root = ET.fromstring(  # noqa: S314 (our own fixture)
        (TRACKING / "canadapost_tracking_detail_notice_card_pickup_delivered.xml").read_bytes()
    )
    events = root.find(".//{*}significant-events")
    assert events is not None
    newest = copy.deepcopy(events[0])
    for tag, text in (
        ("event-identifier", "9999"),
        ("event-date", "2030-01-02"),
        ("event-description", "Item refused by recipient"),
    ):
        found = newest.find(f"{{*}}{tag}")
        assert found is not None
        found.text = text
    events.insert(0, newest)
    return ET.tostring(root)


#: Adapter → (its sample with one newer scan of an unknown code, the status that scan's class means,
#: the raw code the scan keeps).
CASES: dict[str, tuple[Callable[[], bytes], Status, str]] = {
    "ups": (_json("ups_track_v1_delivered.json", _ups), Status.delivered, "DZ/Q7"),
    "fedex": (
        _json("fedex_track_api_exception_then_delivered.json", _fedex),
        Status.exception,
        "ZQ",
    ),
    "dhl": (
        _json("dhl_unified_tracking_doc_sample.json", _dhl),
        Status.delivered,
        "delivered-parcel-box",
    ),
    "dhl_express": (
        _json("dhl_express_mydhl_api_tracking.json", _dhl_express),
        Status.exception,
        "ZZ",
    ),
    "usps": (
        _json("usps_v3_tracking_delivered_parcel_locker.json", _usps),
        Status.exception,
        "9Z",
    ),
    "royalmail": (
        _json("royalmail_tracking_v2_events.json", _royalmail),
        Status.exception,
        "EVZZZ",
    ),
    "canadapost": (_canadapost, Status.exception, "9999"),
    "australiapost": (
        _json("australiapost_track_items_multi.json", _australiapost),
        Status.exception,
        "Item refused by addressee",
    ),
}


@pytest.fixture(autouse=True)
def _fresh_log() -> None:
    forget_unknown_codes()


@pytest.mark.parametrize("code", list(CASES))
def test_an_unknown_code_falls_back_by_its_class_and_keeps_its_text(
    code: str, caplog: pytest.LogCaptureFixture
) -> None:
    body, family, raw_code = CASES[code]
    [result, *_] = registry.create(code).parse(body())
    newest = result.events[-1]
    assert (newest.code, newest.status) == (raw_code, family)
    assert newest.description
    assert result.status == family
    assert "by its class" in caplog.text


@pytest.mark.parametrize("code", list(CASES))
def test_every_international_adapter_reads_unknown_codes_through_the_shared_classes(
    code: str,
) -> None:
    module = importlib.import_module(f"carriers.{code}")
    assert isinstance(module.STATUS_TABLE.classes, CodeClasses)


def test_a_precise_phrase_wins_over_a_broader_one() -> None:
    classes = CodeClasses()
    assert classes.classify([], "notdeliveredaddressunknown") == Status.exception
    assert classes.classify([], "outfordelivery") == Status.out_for_delivery


def test_a_code_and_text_of_no_known_family_keeps_the_tables_default() -> None:
    assert CodeClasses().classify(["Q1"], "scanned") is None
