"""Property-based: random bytes, truncations and mutated JSON never escape as anything but
``ParseError`` (naming the carrier) or a list of results."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carriers import registry
from carriers.base import NotFound, ParseError
from tests.conftest import CONFORMANCE

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2025, 1, 14, tzinfo=UTC)
SAMPLES = {
    "ups": [CONFORMANCE / "carrier_tracking/ups_track_v1_delivered.json"],
    "fedex": [
        CONFORMANCE / "carrier_tracking/fedex_track_api_exception_then_delivered.json",
        CONFORMANCE / "carrier_tracking/fedex_ws_trackreply_legacy_shipment_exception.xml",
    ],
    "dhl": [CONFORMANCE / "carrier_tracking/dhl_unified_tracking_doc_sample.json"],
    "dhl_express": [
        CONFORMANCE / "carrier_tracking/dhl_express_mydhl_api_tracking.json",
        CONFORMANCE / "carrier_tracking/dhl_express_xmlpi_known_tracking_delivered.xml",
    ],
    "usps": [
        CONFORMANCE / "carrier_tracking/usps_v3_tracking_delivered_parcel_locker.json",
        CONFORMANCE / "carrier_tracking/usps_trackv2_legacy_delivered_mailbox.xml",
    ],
    "canadapost": [
        CONFORMANCE / "carrier_tracking/canadapost_tracking_detail_notice_card_pickup_delivered.xml"
    ],
    "royalmail": [CONFORMANCE / "carrier_tracking/royalmail_tracking_v2_events.json"],
    "australiapost": [CONFORMANCE / "carrier_tracking/australiapost_track_items_multi.json"],
    "aftership": [
        CONFORMANCE / "aggregator_webhooks/aftership_tracking_fedex_cn_to_jp_delivered.json"
    ],
    "easypost": [CONFORMANCE / "aggregator_webhooks/easypost_event_tracker_updated.json"],
    "shippo": [CONFORMANCE / "aggregator_webhooks/shippo_track_usps_delivered.json"],
    "yamato": [FIXTURES / "yamato_multi_constructed.html"],
    "sagawa": [FIXTURES / "sagawa_delivered_constructed.html"],
    "japanpost": [FIXTURES / "japanpost_delivered_constructed.html"],
}
SAMPLE_CASES = [(code, path) for code, paths in SAMPLES.items() for path in paths]
IDS = [f"{code}:{path.name}" for code, path in SAMPLE_CASES]
JP = {"yamato", "sagawa", "japanpost"}
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def parse_or_parse_error(code: str, body: object) -> None:
    adapter = registry.create(code)
    kwargs = {"now": NOW} if code in JP else {}
    try:
        results = adapter.parse(body, **kwargs)
    except (ParseError, NotFound) as exc:
        # A refusal, or (a body left with nothing but the carrier's own warnings) "not found".
        assert exc.carrier == code  # noqa: PT017 (many bodies parse; only a refusal is checked here)
        return
    assert isinstance(results, list)
    for result in results:
        assert result.tracking_number
        assert all(e.occurred_at.tzinfo is not None for e in result.events)


def test_every_registered_adapter_is_fuzzed() -> None:
    # sandbox simulates parcels and parses no carrier payload; seventeentrack is fuzzed below with a built body
    assert set(registry.codes()) - set(SAMPLES) - {"sandbox"} == {"seventeentrack"}


@pytest.mark.parametrize("code", [*sorted(SAMPLES), "seventeentrack"])
@FUZZ
@given(body=st.binary(max_size=300))
def test_random_bytes(code: str, body: bytes) -> None:
    parse_or_parse_error(code, body)


@pytest.mark.parametrize(("code", "path"), SAMPLE_CASES, ids=IDS)
@FUZZ
@given(cut=st.floats(min_value=0, max_value=0.999))
def test_truncated_samples(code: str, path: Path, cut: float) -> None:
    raw = path.read_bytes()
    parse_or_parse_error(code, raw[: int(len(raw) * cut)])


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replace(value: object, path: tuple, new: object) -> object:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)  # type: ignore[arg-type]
    copy[path[0]] = _replace(copy[path[0]], path[1:], new)  # type: ignore[index]
    return copy


JSON_CASES = [(code, path) for code, path in SAMPLE_CASES if path.suffix == ".json"]


@pytest.mark.parametrize(("code", "path"), JSON_CASES, ids=[f"{c}:{p.name}" for c, p in JSON_CASES])
@FUZZ
@given(data=st.data())
def test_mutated_json(code: str, path: Path, data: st.DataObject) -> None:
    document = json.loads(path.read_text())
    paths = _paths(document)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        target = data.draw(st.sampled_from(paths))
        try:
            document = _replace(document, target, data.draw(JUNK))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this path
    parse_or_parse_error(code, json.dumps(document).encode())


@FUZZ
@given(status=JUNK, events=JUNK, number=JUNK)
def test_mutated_seventeentrack_bodies(status: object, events: object, number: object) -> None:
    body = {
        "event": "TRACKING_UPDATED",
        "data": {
            "number": number,
            "track_info": {
                "latest_status": {"status": status},
                "tracking": {"providers": [{"events": events}]},
            },
        },
    }
    parse_or_parse_error("seventeentrack", json.dumps(body).encode())
