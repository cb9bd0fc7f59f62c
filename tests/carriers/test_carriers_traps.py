"""The parser hazards the conformance README names, one test each."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from carriers import fedex, registry
from carriers.parsing import StatusTable, forget_unknown_codes
from carriers.status import Status
from tests.conftest import CONFORMANCE

TRACKING = CONFORMANCE / "carrier_tracking"


def one(code: str, name: str, folder: str = "carrier_tracking"):
    results = registry.create(code).parse((CONFORMANCE / folder / name).read_bytes())
    assert len(results) == 1
    return results[0]


def test_fedex_merges_both_track_results_of_one_number_into_delivered() -> None:
    data = json.loads((TRACKING / "fedex_track_api_exception_then_delivered.json").read_text())
    assert len(data["output"]["completeTrackResults"][0]["trackResults"]) == 2
    result = one("fedex", "fedex_track_api_exception_then_delivered.json")
    assert result.status is Status.delivered
    assert result.signed_by == "D.HERRERA"
    assert len(result.events) == 18


def test_fedex_first_track_result_alone_would_be_in_transit() -> None:
    data = json.loads((TRACKING / "fedex_track_api_exception_then_delivered.json").read_text())
    data["output"]["completeTrackResults"][0]["trackResults"].pop(1)
    [result] = fedex.parse_tracking(data)
    assert result.status is Status.in_transit


def test_fedex_delay_scan_stays_in_transit_with_a_delay_flag() -> None:
    result = one("fedex", "fedex_track_api_exception_then_delivered.json")
    [delay] = [e for e in result.events if e.code == "DY"]
    assert (delay.status, delay.sub_status) == (Status.in_transit, "delayed")


def test_fedex_arriving_on_time_is_informational() -> None:
    result = one("fedex", "fedex_track_api_exception_then_delivered.json")
    on_time = [e for e in result.events if e.code == "AO"]
    assert on_time and all(e.informational for e in on_time)


def test_dhl_unified_trusts_the_status_code_over_the_contradicting_text() -> None:
    result = one("dhl", "dhl_unified_tracking_doc_sample.json")
    assert result.status is Status.info_received
    assert "DELIVERED" in result.events[0].description
    assert result.events[0].occurred_at == datetime(2018, 3, 2, 7, 53, 47, tzinfo=UTC)


def test_australia_post_unknown_top_status_is_derived_from_events() -> None:
    results = registry.create("australiapost").parse(
        (TRACKING / "australiapost_track_items_multi.json").read_bytes()
    )
    first = next(r for r in results if r.tracking_number == "ET123456789AU")
    assert first.status is Status.in_transit
    assert len(first.events) == 8  # nested under items[]


def test_canada_post_orders_same_day_events_by_time_not_file_position() -> None:
    result = one("canadapost", "canadapost_tracking_detail_notice_card_pickup_delivered.xml")
    codes = [e.code for e in result.events]
    assert codes.index("1701") < codes.index("1479")


def test_canada_post_final_notice_keeps_the_deadline_as_sub_status() -> None:
    result = one("canadapost", "canadapost_tracking_detail_notice_card_pickup_delivered.xml")
    [notice] = [e for e in result.events if e.code == "0156"]
    assert (notice.status, notice.sub_status) == (Status.available_for_pickup, "final_notice")


def test_canada_post_signature_scan_without_delivery_stays_out_for_delivery() -> None:
    result = one("canadapost", "canadapost_tracking_detail_out_for_delivery.xml")
    [signature] = [e for e in result.events if e.code == "20"]
    assert signature.informational and signature.status is Status.out_for_delivery
    assert result.status is Status.out_for_delivery


def test_dhl_express_xmlpi_gives_one_shipment_per_air_waybill() -> None:
    results = registry.create("dhl_express").parse(
        (TRACKING / "dhl_express_xmlpi_known_tracking_delivered.xml").read_bytes()
    )
    assert [r.tracking_number for r in results] == ["3180831640", "7740842550", "1815115363"]


def test_usps_v3_strips_html_from_the_mail_class() -> None:
    result = one("usps", "usps_v3_tracking_delivered_parcel_locker.json")
    assert result.extra["service"] == "USPS Ground Advantage™"
    assert result.extra["status_category"] == "Delivered"


def test_usps_legacy_times_use_the_destination_states_zone() -> None:
    result = one("usps", "usps_trackv2_legacy_delivered_mailbox.xml")
    assert result.events[-1].occurred_at.isoformat() == "2015-04-28T09:01:00-05:00"  # Illinois, CDT


def test_shippo_oldest_first_history_ends_delivered() -> None:
    result = one("shippo", "shippo_track_usps_delivered.json", "aggregator_webhooks")
    assert result.events[0].description.startswith("The USPS has received")
    assert result.status is Status.delivered


def test_aftership_sorts_checkpoints_by_instant_across_offsets() -> None:
    result = one(
        "aftership", "aftership_tracking_fedex_cn_to_jp_delivered.json", "aggregator_webhooks"
    )
    assert result.events[0].occurred_at.utcoffset().total_seconds() == -5 * 3600
    assert result.extra["carrier_slug"] == "fedex"
    assert result.signed_by == "..KOSUTOKO"


def test_unknown_code_maps_to_the_default_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    forget_unknown_codes()
    table = StatusTable("testcarrier", {"DL": Status.delivered})
    with caplog.at_level(logging.WARNING, logger="carriers.status"):
        first = table.resolve("ZZ9", text="Something new")
        second = table.resolve("ZZ9", text="Something new")
    assert first.status is second.status is Status.in_transit
    assert len([r for r in caplog.records if "ZZ9" in r.getMessage()]) == 1


def test_unknown_fedex_events_in_a_real_payload_fall_back_by_their_words(
    caplog: pytest.LogCaptureFixture,
) -> None:
    forget_unknown_codes()
    data = json.loads((TRACKING / "fedex_track_api_exception_then_delivered.json").read_text())
    for result in data["output"]["completeTrackResults"][0]["trackResults"]:
        for event in result["scanEvents"]:
            event["eventType"], event["derivedStatusCode"] = "Q7", "Q7"
    with caplog.at_level(logging.WARNING, logger="carriers.status"):
        [result] = fedex.parse_tracking(data)
    assert result.status is Status.delivered  # the newest scan says "Delivered"
    assert {e.code for e in result.events} == {"Q7"}
    assert len([r for r in caplog.records if "'Q7'" in r.getMessage()]) == 1
