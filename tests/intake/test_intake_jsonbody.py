"""The untrusted-JSON reader's fast paths keep every refusal of the full checks."""

from __future__ import annotations

import pytest

from postpurchase.inbox import jsonbody


def test_an_everyday_body_is_not_walked_for_unstorable_strings(monkeypatch):
    def walked(_value):
        raise AssertionError("walked")

    monkeypatch.setattr(jsonbody, "_check_strings", walked)
    body = '{"id": "evt-1", "data": {"name": "山田 花子", "lines": [{"sku": "TEA-1"}]}}'
    assert jsonbody.loads(body.encode())["data"]["name"] == "山田 花子"


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "\\u0000"}',
        b'{"name": "\\ud800"}',
        b'{"name": "\xed\xa0\x80"}',  # a lone surrogate written as raw (CESU-style) bytes
        '{"name": "\\ud800"}'.encode("utf-16"),
    ],
    ids=["escaped NUL", "escaped surrogate", "raw surrogate", "utf-16 body"],
)
def test_unstorable_strings_are_still_refused(body):
    with pytest.raises(jsonbody.BadJson) as refused:
        jsonbody.loads(body)
    assert refused.value.code == "invalid_string"


def test_brackets_inside_strings_do_not_count_as_nesting():
    body = b'{"note": "' + b"[" * 40 + b'"}'
    assert jsonbody.loads(body) == {"note": "[" * 40}
