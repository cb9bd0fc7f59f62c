"""Every real sample in shared/conformance parses to the statuses its README lists."""

from __future__ import annotations

import pytest

from carriers import registry
from carriers.base import TrackingResult
from carriers.status import Status
from tests.conftest import CONFORMANCE

S = Status
# (adapter code, file) -> {tracking number: (final status, statuses scan by scan, oldest first)}
EXPECTED: dict[tuple[str, str], dict[str, tuple[Status, list[Status] | None]]] = {
    ("ups", "carrier_tracking/ups_track_v1_delivered.json"): {
        "1Z1442YY7229014688": (S.delivered, [S.info_received, S.delivered]),
    },
    ("fedex", "carrier_tracking/fedex_track_api_exception_then_delivered.json"): {
        "776094337676": (
            S.delivered,
            [
                S.info_received,
                S.in_transit,
                S.in_transit,
                S.in_transit,
                S.in_transit,
                S.in_transit,
                S.in_transit,
                S.out_for_delivery,
                S.attempt_fail,
                S.exception,
                S.in_transit,
                S.available_for_pickup,
                S.in_transit,
                S.in_transit,
                S.in_transit,
                S.in_transit,
                S.out_for_delivery,
                S.delivered,
            ],
        ),
    },
    ("fedex", "carrier_tracking/fedex_ws_trackreply_legacy_shipment_exception.xml"): {
        "957794015041323": (S.exception, [S.info_received] + [S.in_transit] * 6 + [S.exception]),
    },
    ("dhl_express", "carrier_tracking/dhl_express_xmlpi_known_tracking_delivered.xml"): {
        "3180831640": (S.delivered, [S.in_transit] * 14 + [S.out_for_delivery, S.delivered]),
        "7740842550": (S.in_transit, None),
        "1815115363": (S.in_transit, None),
    },
    ("dhl_express", "carrier_tracking/dhl_express_mydhl_api_tracking.json"): {
        "9356579890": (S.delivered, [S.in_transit, S.delivered]),
    },
    ("dhl", "carrier_tracking/dhl_unified_tracking_doc_sample.json"): {
        "7777777770": (S.info_received, [S.info_received]),
    },
    ("usps", "carrier_tracking/usps_v3_tracking_delivered_parcel_locker.json"): {
        "9400109104250532908587": (
            S.delivered,
            [S.info_received] + [S.in_transit] * 9 + [S.out_for_delivery, S.delivered],
        ),
    },
    ("usps", "carrier_tracking/usps_trackv2_legacy_delivered_mailbox.xml"): {
        "9102901000462189604217": (
            S.delivered,
            [S.info_received] + [S.in_transit] * 7 + [S.out_for_delivery, S.delivered],
        ),
    },
    (
        "canadapost",
        "carrier_tracking/canadapost_tracking_detail_notice_card_pickup_delivered.xml",
    ): {
        "1680678172650919": (
            S.delivered,
            [
                S.info_received,
                S.in_transit,
                S.in_transit,
                S.available_for_pickup,
                S.attempt_fail,
                S.available_for_pickup,
                S.delivered,
            ],
        ),
    },
    ("canadapost", "carrier_tracking/canadapost_tracking_detail_out_for_delivery.xml"): {
        "1371134583769923": (
            S.out_for_delivery,
            [
                S.info_received,
                S.in_transit,
                S.out_for_delivery,
                S.out_for_delivery,
                S.exception,
                S.in_transit,
                S.out_for_delivery,
            ],
        ),
    },
    ("australiapost", "carrier_tracking/australiapost_track_items_multi.json"): {
        "ET123456789AU": (
            S.in_transit,
            [S.info_received] * 2 + [S.in_transit] * 2 + [S.export_cleared] + [S.in_transit] * 3,
        ),
        "LX123456789US": (
            S.delivered,
            [S.in_transit, S.export_cleared, S.held_at_customs]
            + [S.in_transit] * 4
            + [S.out_for_delivery, S.delivered],
        ),
        "00123456789000123400": (
            S.delivered,
            [S.info_received] * 2
            + [S.in_transit] * 2
            + [S.held_at_customs, S.import_cleared, S.in_transit]
            + [S.out_for_delivery] * 2
            + [S.delivered],
        ),
    },
    ("royalmail", "carrier_tracking/royalmail_tracking_v2_events.json"): {
        "FQ087430672GB": (S.in_transit, [S.in_transit]),
    },
    ("aftership", "aggregator_webhooks/aftership_tracking_fedex_cn_to_jp_delivered.json"): {
        "111111111111": (
            S.delivered,
            [S.info_received] + [S.in_transit] * 11 + [S.out_for_delivery, S.delivered],
        ),
    },
    ("easypost", "aggregator_webhooks/easypost_event_tracker_updated.json"): {
        "1": (S.in_transit, [S.info_received] + [S.in_transit] * 6),
    },
    ("shippo", "aggregator_webhooks/shippo_track_usps_delivered.json"): {
        # Decision: Shippo's TRANSIT "out for delivery" is refined by its text to out_for_delivery.
        "9205590164917337534322": (
            S.delivered,
            [S.info_received] * 2 + [S.in_transit] * 7 + [S.out_for_delivery, S.delivered],
        ),
    },
}


def parse_sample(code: str, relative: str) -> dict[str, TrackingResult]:
    results = registry.create(code).parse((CONFORMANCE / relative).read_bytes())
    by_number = {r.tracking_number: r for r in results}
    assert len(by_number) == len(results), "one result per tracking number"
    return by_number


@pytest.mark.parametrize(
    ("code", "relative"), list(EXPECTED), ids=[f"{c}:{f.split('/')[-1]}" for c, f in EXPECTED]
)
def test_sample_parses_to_the_readme_statuses(code: str, relative: str) -> None:
    results = parse_sample(code, relative)
    assert set(results) == set(EXPECTED[(code, relative)])
    for number, (final, scans) in EXPECTED[(code, relative)].items():
        result = results[number]
        assert result.status is final, number
        if scans is not None:
            assert [e.status for e in result.events] == scans, number


@pytest.mark.parametrize(
    ("code", "relative"), list(EXPECTED), ids=[f"{c}:{f.split('/')[-1]}" for c, f in EXPECTED]
)
def test_events_are_aware_chronological_and_keep_the_carriers_own_code_and_text(
    code: str, relative: str
) -> None:
    for result in parse_sample(code, relative).values():
        times = [e.occurred_at for e in result.events]
        assert all(t.tzinfo is not None for t in times)
        assert times == sorted(times)
        assert all(e.code for e in result.events)
