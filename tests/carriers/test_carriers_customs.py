"""Customs stages are statuses of their own, parsed from the international adapters' scans.

``fixtures/australiapost_track_items_multi.json`` is a copy of a shared conformance sample (from
karrioapi/karrio, LGPL-3.0; its ``.source.txt`` next to it says where and how it was taken).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from carriers import aftership, australiapost, dhl_express, fedex
from carriers.status import PROGRESS, Status

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def auspost() -> dict[str, list[tuple[str, Status]]]:
    body = (FIXTURES / "australiapost_track_items_multi.json").read_bytes()
    return {
        result.tracking_number: [(event.description, event.status) for event in result.events]
        for result in australiapost.parse_tracking(body)
    }


def test_australia_post_export_clearance_is_export_cleared(auspost) -> None:
    assert ("Cleared and awaiting international departure", Status.export_cleared) in auspost[
        "ET123456789AU"
    ]


def test_australia_post_inbound_parcel_waiting_for_clearance_is_held_at_customs(auspost) -> None:
    assert ("Arrived awaiting clearance (Inbound)", Status.held_at_customs) in auspost[
        "LX123456789US"
    ]


def test_australia_post_customs_hold_then_release_in_new_zealand(auspost) -> None:
    statuses = [status for _, status in auspost["00123456789000123400"]]
    held = statuses.index(Status.held_at_customs)
    assert statuses[held + 1] == Status.import_cleared


def test_australia_post_export_facility_scans_stay_in_transit(auspost) -> None:
    assert ("Processed at Export Facility", Status.in_transit) in auspost["00123456789000123400"]


@pytest.mark.parametrize(
    ("table", "code", "status"),
    [
        (fedex.STATUS_TABLE, "CC", Status.import_cleared),
        (fedex.STATUS_TABLE, "CD", Status.held_at_customs),
        (fedex.STATUS_TABLE, "CP", Status.held_at_customs),
        (dhl_express.STATUS_TABLE, "CD", Status.held_at_customs),
        (dhl_express.STATUS_TABLE, "IC", Status.held_at_customs),
        (dhl_express.STATUS_TABLE, "CR", Status.import_cleared),
        (aftership.STATUS_TABLE, "Exception_004", Status.held_at_customs),
    ],
)
def test_carrier_customs_codes_map_to_customs_statuses(table, code, status) -> None:
    assert table.resolve(code).status == status


def test_dhl_clearance_delay_keeps_its_delay_flag() -> None:
    assert dhl_express.STATUS_TABLE.resolve("CD").sub_status == "delayed"


def test_duties_due_text_wins_over_a_bare_customs_word() -> None:
    rule = australiapost.STATUS_TABLE.resolve(text="Held for payment of duties and taxes")
    assert rule.status == Status.duties_due


def test_customs_stages_rank_between_transit_and_delivery() -> None:
    assert PROGRESS[Status.in_transit] <= PROGRESS[Status.export_cleared]
    assert PROGRESS[Status.export_cleared] < PROGRESS[Status.held_at_customs]
    assert PROGRESS[Status.import_cleared] < PROGRESS[Status.out_for_delivery]
