"""Liberal in, strict out: real samples in the shapes real answers come in parse the same, or fail
with a typed error (never a crash, never a silent empty list)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carriers import registry
from carriers.base import CarrierError, NotFound, ParseError
from carriers.parsing import estimate_date
from tests.carriers.test_carriers_properties import JP, NOW, SAMPLE_CASES

JSON_CASES = [(c, p) for c, p in SAMPLE_CASES if p.suffix == ".json"]
XML_CASES = [(c, p) for c, p in SAMPLE_CASES if p.suffix == ".xml"]
MUTATE = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _parse(code: str, body: Any) -> list[Any]:
    return registry.create(code).parse(body, **({"now": NOW} if code in JP else {}))


def _statuses(results: list[Any]) -> list[tuple[str, str]]:
    return sorted((r.tracking_number, r.status) for r in results)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path of a JSON document (objects' keys and list indexes)."""
    found = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else []
    )
    for key, child in items:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


def _at(document: Any, path: tuple[Any, ...]) -> tuple[Any, Any]:
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    return parent, path[-1]


@pytest.mark.parametrize(("code", "path"), JSON_CASES, ids=[f"{c}:{p.name}" for c, p in JSON_CASES])
@MUTATE
@given(data=st.data())
def test_a_dropped_or_retyped_field_parses_or_fails_typed(code, path, data) -> None:
    document = json.loads(path.read_bytes())
    target = data.draw(st.sampled_from(_paths(document)))
    parent, key = _at(document, target)
    if data.draw(st.booleans()):
        del parent[key]
    else:
        parent[key] = data.draw(
            st.one_of(st.none(), st.integers(), st.text(max_size=5), st.just({}), st.just([]))
        )
    try:
        results = _parse(code, json.dumps(document))
    except CarrierError as exc:
        assert isinstance(exc, ParseError | NotFound)  # noqa: PT017 (either outcome is fine)
        return
    assert all(r.tracking_number for r in results)


@pytest.mark.parametrize(("code", "path"), XML_CASES, ids=[f"{c}:{p.name}" for c, p in XML_CASES])
@MUTATE
@given(space=st.text(alphabet=" \t\r\n", max_size=6), envelope=st.booleans())
def test_xml_with_leading_whitespace_or_a_soap_envelope_parses_the_same(
    code, path, space, envelope
) -> None:
    raw = path.read_text(encoding="utf-8")
    expected = _statuses(_parse(code, raw))
    if envelope:
        inner = raw.split("?>", 1)[1] if raw.lstrip().startswith("<?xml") else raw
        raw = (
            '<?xml version="1.0"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header/>'
            f"<soapenv:Body>{inner}</soapenv:Body></soapenv:Envelope>"
        )
    assert _statuses(_parse(code, space + raw)) == expected


def test_a_soap_fault_is_a_parse_error() -> None:
    fault = (
        '<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><Fault>'
        "<faultstring>Service unavailable</faultstring></Fault></Body></Envelope>"
    )
    with pytest.raises(ParseError, match="Service unavailable"):
        _parse("usps", fault)


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-21",
        "2026-11-21T18:00:00+09:00",
        {"date": "2026-11-21"},
        {"estimatedDeliveryDate": "2026-11-21T10:00:00"},
        {"start": "2026-11-21", "end": "2026-11-22"},
        [{"date": "2026-11-21"}],
    ],
)
def test_an_estimate_is_read_as_a_string_or_an_object(value: Any) -> None:
    assert estimate_date(value) == date(2026, 11, 21)


@pytest.mark.parametrize("value", [None, "", "soon", 5, {"note": "x"}, []])
def test_an_unreadable_estimate_is_dropped_not_fatal(value: Any) -> None:
    assert estimate_date(value) is None


def test_a_ups_answer_with_only_a_not_found_warning_is_not_found() -> None:
    body = {
        "trackResponse": {
            "shipment": [
                {
                    "inquiryNumber": "1Z0000000000000000",
                    "warnings": [{"code": "TW0001", "message": "Tracking Information Not Found"}],
                }
            ]
        }
    }
    with pytest.raises(NotFound, match="Not Found"):
        _parse("ups", json.dumps(body))


def test_a_fedex_answer_that_only_says_not_found_is_not_found() -> None:
    body = {
        "output": {
            "completeTrackResults": [
                {
                    "trackingNumber": "123456789012",
                    "trackResults": [
                        {
                            "trackingNumberInfo": {"trackingNumber": "123456789012"},
                            "error": {"code": "TRACKING.TRACKINGNUMBER.NOTFOUND"},
                        }
                    ],
                }
            ]
        }
    }
    with pytest.raises(NotFound):
        _parse("fedex", json.dumps(body))
