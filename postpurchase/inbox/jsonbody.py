"""Parse an untrusted JSON body without recursing on it, and only into values the database can store.

Python's parser (and everything after it) recurses once per nesting level, so a signed body of
``[[[[...]]]]`` would end in ``RecursionError``; the depth is measured on the bytes first, with
regular expressions, before anything recursive runs. ``NaN``, ``Infinity``, numbers too large for a
float, NUL characters and lone surrogates are refused too: PostgreSQL cannot store them, so an
event carrying one would be accepted and then fail in processing forever.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Deepest nesting of objects and arrays accepted (an event envelope needs about six).
MAX_DEPTH = 32

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
#: Objects count like arrays: ``{`` becomes ``[``; mismatched brackets are json's to report.
_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


class BadJson(ValueError):
    """The body is not JSON we accept; ``code`` is a stable error code, ``message`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def depth_within(raw: bytes, max_depth: int = MAX_DEPTH) -> bool:
    """Whether the arrays and objects in ``raw`` nest at most ``max_depth`` levels.

    Strings are blanked out, everything but brackets dropped, then innermost pairs removed once per
    level: at most ``max_depth`` C-speed passes over the bytes, however deep the input.
    """
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return True  # every level opens a bracket, so this many cannot nest deeper
    brackets = _STRING.sub(b"", raw).translate(_AS_SQUARE, _NOT_A_BRACKET)
    for _ in range(max_depth):
        if not brackets:
            return True
        brackets = brackets.replace(b"[]", b"")  # one level: replace never rescans its output
    return not brackets


def _refuse_constant(name: str) -> Any:
    raise BadJson("invalid_number", f"The body contains {name}, which is not a JSON number.")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise BadJson("invalid_number", f"The number {text[:40]} is too large.")
    return value


def _strings_may_be_unstorable(raw: bytes) -> bool:
    """Whether a decoded string of ``raw`` could hold a NUL or a lone surrogate.

    In UTF-8 JSON a NUL is either a zero byte (refused by the parser) or ``\\u0000``, and a
    surrogate either a ``\\u`` escape or a UTF-8 sequence starting with ``0xED``; other
    encodings (UTF-16/32) contain zero bytes. Bodies with none of these, almost every event, skip
    the walk over the decoded value.
    """
    return b"\\u" in raw or b"\x00" in raw or b"\xed" in raw


def _check_strings(value: Any) -> None:
    """Refuse NUL characters and lone surrogates in any key or string (depth is already bounded)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise BadJson("invalid_string", "Strings must not contain NUL (\\u0000).")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise BadJson(
                    "invalid_string", "Strings must not contain lone surrogates."
                ) from None


def loads(raw: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` for untrusted bodies; raises :class:`BadJson` instead of recursing deeply."""
    if not depth_within(raw, max_depth):
        raise BadJson("too_deep", f"The body nests arrays/objects deeper than {max_depth} levels.")
    try:
        value = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except BadJson:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and integers longer than Python's digit limit.
        raise BadJson("malformed_json", f"The body is not valid JSON: {exc}.") from None
    if _strings_may_be_unstorable(raw):
        _check_strings(value)
    return value
