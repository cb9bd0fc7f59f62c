"""Building blocks every carrier parser uses: status tables, result assembly, loud failures.

* :class:`StatusTable` maps a carrier's code (first) or text (second) to a normalized
  :class:`Status`; unknown codes fall back to a safe default and are logged once per code.
* :func:`build_result` merges, sorts and de-duplicates events and derives the shipment status
  from the newest event, so "newest first" vs "oldest first" lists and repeated results for one
  number (FedEx) all end up the same.
* :func:`parser` turns any structural surprise inside a parse function into a
  :class:`ParseError` naming the carrier, and counts it in :mod:`carriers.metrics`.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from carriers import metrics
from carriers.base import ParseError, PickupPoint, TrackingEvent, TrackingResult
from carriers.status import HANDOVER_SUB_STATUS, Handover, Status, handover_place

log = logging.getLogger("carriers.status")

JST = ZoneInfo("Asia/Tokyo")


@dataclass(frozen=True)
class Rule:
    """What one scan means. ``status=None`` marks an informational scan (keeps the status)."""

    status: Status | None
    sub_status: str | None = None
    #: Where the scan says the parcel was left or waits, when its word says it (窓口でお渡し).
    place: Handover | None = None

    @property
    def informational(self) -> bool:
        return self.status is None


INFO = Rule(None)


@dataclass(frozen=True)
class ByText:
    """A code whose meaning depends on its description (e.g. UPS type ``X``)."""

    rules: Sequence[tuple[str, Status | Rule]]
    default: Status | Rule


Mapped = Status | Rule | ByText


def normalize_text(text: str) -> str:
    """NFKC, casefolded, without whitespace and the arrows Sagawa prefixes (「↓集荷」「⇒配達完了」)."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return re.sub(r"[\s↓⇒→▼]+", "", text)


def _rule(value: Status | Rule) -> Rule:
    return value if isinstance(value, Rule) else Rule(value)


#: Customs wording carriers share (Australia Post's own, FedEx's and DHL's scan texts), for tables
#: that map by text; the more precise phrases first, so "awaiting clearance" is not read as cleared.
CUSTOMS_TEXTS: tuple[tuple[str, Status], ...] = (
    ("duties due", Status.duties_due),
    ("duties and taxes due", Status.duties_due),
    ("awaiting payment of duties", Status.duties_due),
    ("held for payment", Status.duties_due),
    ("cleared and awaiting international departure", Status.export_cleared),
    ("export clearance complete", Status.export_cleared),
    ("cleared for export", Status.export_cleared),
    ("awaiting clearance", Status.held_at_customs),
    ("available for clearance", Status.held_at_customs),
    ("clearance delay", Status.held_at_customs),
    ("held by customs", Status.held_at_customs),
    ("held at customs", Status.held_at_customs),
    ("is in customs", Status.held_at_customs),
    ("cleared by customs", Status.import_cleared),
    ("released by customs", Status.import_cleared),
    ("clearance completed", Status.import_cleared),
    ("clearance processing complete", Status.import_cleared),
)

#: The families every carrier's scan texts fall into, for a code its table does not know: the
#: more precise phrases first ("not delivered" before "delivered", "out for delivery" before both).
FAMILY_WORDS: tuple[tuple[str, Status], ...] = (
    *CUSTOMS_TEXTS,
    ("out for delivery", Status.out_for_delivery),
    ("with delivery courier", Status.out_for_delivery),
    ("delivery attempt", Status.attempt_fail),
    ("attempted delivery", Status.attempt_fail),
    ("notice left", Status.attempt_fail),
    ("card left", Status.attempt_fail),
    ("return to sender", Status.returning_to_sender),
    ("returned to sender", Status.returning_to_sender),
    ("return to shipper", Status.returning_to_sender),
    ("returned to shipper", Status.returning_to_sender),
    ("returning to", Status.returning_to_sender),
    ("ready for pickup", Status.available_for_pickup),
    ("available for pickup", Status.available_for_pickup),
    ("ready for collection", Status.available_for_pickup),
    ("awaiting collection", Status.available_for_pickup),
    ("not delivered", Status.exception),
    ("undeliverable", Status.exception),
    ("unable to deliver", Status.exception),
    ("exception", Status.exception),
    ("refused", Status.exception),
    ("damaged", Status.exception),
    ("lost", Status.exception),
    ("delivered", Status.delivered),
    ("label created", Status.info_received),
    ("shipment information received", Status.info_received),
    ("shipping information received", Status.info_received),
    ("pre-shipment", Status.info_received),
)


@dataclass(frozen=True)
class CodeClasses:
    """What an unknown code of an international carrier means, by its class.

    Carriers add codes faster than tables follow. A code the table does not know still says which
    family it is in: by its prefix where the carrier's codes carry one (UPS activity type letters,
    DHL status categories), else by the family words of its text (:data:`FAMILY_WORDS`). The scan
    keeps its raw code and text; the unknown code is logged once so it can be added to the table.
    """

    #: ``(code prefix, status)``, matched against every key the adapter tries, in order.
    prefixes: Sequence[tuple[str, Status]] = ()

    def classify(self, codes: Iterable[str], folded_text: str) -> Status | None:
        """The family of an unknown code (the keys tried) and its folded text, or None."""
        for code in codes:
            for prefix, status in self.prefixes:
                if normalize_text(code).startswith(normalize_text(prefix)):
                    return status
        return next((status for word, status in _FAMILY if word in folded_text), None)


_FAMILY = tuple((normalize_text(word), status) for word, status in FAMILY_WORDS)

_unknown_seen: set[tuple[str, str]] = set()


class StatusTable:
    """A carrier's documented mapping: ``codes`` looked up first, then ``texts`` (substrings, in
    order), then the code's class (``classes``, international carriers), then ``default``;
    an unknown code is logged once so it gets added here."""

    def __init__(
        self,
        carrier: str,
        codes: Mapping[str, Mapped] | None = None,
        *,
        texts: Sequence[tuple[str, Status | Rule]] = (),
        default: Status | Rule = Status.in_transit,
        case_sensitive_codes: bool = False,
        classes: CodeClasses | None = None,
    ) -> None:
        self.carrier = carrier
        self._fold = (lambda c: c) if case_sensitive_codes else (lambda c: normalize_text(c))
        self.codes: dict[str, Mapped] = {self._fold(k): v for k, v in (codes or {}).items()}
        self.texts = tuple((normalize_text(pattern), _rule(value)) for pattern, value in texts)
        self.default = _rule(default)
        self.classes = classes

    def __contains__(self, code: str) -> bool:
        return self._fold(code) in self.codes

    def resolve(self, *codes: str | None, text: str = "") -> Rule:
        """The rule for the first of ``codes`` that the table knows, else by ``text``."""
        folded_text = normalize_text(text)
        for code in codes:
            if not code:
                continue
            value = self.codes.get(self._fold(code))
            if value is None:
                continue
            if isinstance(value, ByText):
                return self._by_text(value, folded_text)
            return _rule(value)
        for pattern, rule in self.texts:
            if pattern and pattern in folded_text:
                return rule
        family = (
            self.classes.classify((c for c in codes if c), folded_text)
            if self.classes is not None
            else None
        )
        rule = Rule(family) if family is not None else self.default
        key = next((c for c in codes if c), None) or text or "(empty)"
        if (self.carrier, key) not in _unknown_seen:
            _unknown_seen.add((self.carrier, key))
            log.warning(
                "%s: unknown status code %r (%r); using %s%s",
                self.carrier,
                key,
                text[:80],
                rule.status,
                " (by its class)" if family is not None else "",
            )
        return rule

    @staticmethod
    def _by_text(value: ByText, folded_text: str) -> Rule:
        for pattern, rule in value.rules:
            if normalize_text(pattern) in folded_text:
                return _rule(rule)
        return _rule(value.default)


def forget_unknown_codes() -> None:
    """Forget which unknown codes were logged (tests)."""
    _unknown_seen.clear()


def scan(
    table: StatusTable,
    occurred_at: datetime,
    code: str,
    description: str,
    location: str | None = None,
    *,
    keys: Iterable[str | None] | None = None,
) -> TrackingEvent:
    """A :class:`TrackingEvent` mapped through ``table`` (``keys`` default to ``[code]``)."""
    if occurred_at.tzinfo is None:
        raise ParseError(f"event time {occurred_at} has no zone", carrier=table.carrier)
    rule = table.resolve(*(keys if keys is not None else [code]), text=description)
    return TrackingEvent(
        occurred_at=occurred_at,
        status=rule.status or Status.in_transit,
        code=code or description,
        description=(description or "").strip(),
        location=location or None,
        sub_status=rule.sub_status,
        informational=rule.informational,
        delivered_to=rule.place,
    )


def order_events(events: Iterable[TrackingEvent]) -> list[TrackingEvent]:
    """Chronological, duplicates removed, informational scans carrying the status before them.

    Lists that a carrier gives newest-first are reversed before the stable sort so that two scans
    with the same timestamp keep the carrier's own order.
    """
    events = list(events)
    if len(events) > 1 and events[0].occurred_at > events[-1].occurred_at:
        events.reverse()
    seen: set[tuple[datetime, str, str]] = set()
    unique = []
    for event in sorted(events, key=lambda e: e.occurred_at):
        key = (event.occurred_at, event.code, event.description)
        if key not in seen:
            seen.add(key)
            unique.append(event)
    current = Status.info_received
    ordered = []
    for event in unique:
        if event.informational:
            event = replace(event, status=current)
        else:
            current = event.status
        ordered.append(event)
    return ordered


def build_result(
    carrier: str,
    tracking_number: str,
    events: Iterable[TrackingEvent],
    *,
    fallback: Status = Status.pending,
    status: Status | None = None,
    sub_status: str | None = None,
    estimated_delivery: date | None = None,
    signed_by: str | None = None,
    raw_ref: str | None = None,
    extra: Mapping[str, Any] | None = None,
    delivered_to: Handover | None = None,
    pickup: PickupPoint | None = None,
) -> TrackingResult:
    """One shipment: its status is the newest non-informational event's, else ``fallback``.

    ``status`` overrides that (aggregators whose tracking-level tag already merges everything).
    ``delivered_to`` and ``pickup`` default to what the delivery and pickup scans say.
    """
    ordered = [_with_place(e) for e in order_events(events)]
    if not str(tracking_number or "").strip():
        raise ParseError("result without a tracking number", carrier=carrier)
    newest = ordered[-1] if ordered else None
    final = status or (newest.status if newest else fallback)
    return TrackingResult(
        carrier=carrier,
        tracking_number=str(tracking_number).strip(),
        status=final,
        events=tuple(ordered),
        sub_status=sub_status
        if sub_status is not None
        else (newest.sub_status if newest else None),
        estimated_delivery=estimated_delivery,
        signed_by=signed_by or None,
        raw_ref=raw_ref,
        extra=dict(extra or {}),
        delivered_to=delivered_to or _place(ordered, final),
        pickup=pickup or _pickup(ordered, final),
    )


_PLACED = (Status.delivered, Status.available_for_pickup)


def _with_place(event: TrackingEvent) -> TrackingEvent:
    """The event with the place its words say, for delivery and pickup scans.

    A delivery scan's location is the office it left from, so only its description and code
    count; a pickup scan's location is where it waits.
    """
    if event.delivered_to is not None or event.status not in _PLACED:
        return event
    if event.status is Status.delivered:
        place = handover_place(event.description, event.code)
    else:
        place = handover_place(event.description, event.code, event.location)
        place = place or HANDOVER_SUB_STATUS.get(event.sub_status or "")
    return replace(event, delivered_to=place) if place else event


def _place(events: Sequence[TrackingEvent], status: Status) -> Handover | None:
    """Where a delivered or waiting parcel is: the newest delivery or pickup scan that says it."""
    if status not in _PLACED:
        return None
    return next(
        (e.delivered_to for e in reversed(events) if e.status in _PLACED and e.delivered_to),
        None,
    )


def _pickup(events: Sequence[TrackingEvent], status: Status) -> PickupPoint | None:
    """The newest pickup scan's location as the pickup point, while or after it waited there."""
    if status not in _PLACED:
        return None
    event = next((e for e in reversed(events) if e.status is Status.available_for_pickup), None)
    if event is None or not event.location:
        return None
    return PickupPoint(name=event.location)


def merge_results(results: Iterable[TrackingResult]) -> list[TrackingResult]:
    """Merge results that name the same number (FedEx lists one number in several results)."""
    grouped: dict[str, list[TrackingResult]] = {}
    for result in results:
        grouped.setdefault(result.tracking_number, []).append(result)
    merged = []
    for number, group in grouped.items():
        if len(group) == 1:
            merged.append(group[0])
            continue
        first = group[0]
        newest = max(
            group,
            key=lambda r: (
                r.events[-1].occurred_at if r.events else datetime.min.replace(tzinfo=UTC)
            ),
        )
        combined = build_result(
            first.carrier,
            number,
            [e for r in group for e in r.events],
            fallback=newest.status,
            estimated_delivery=newest.estimated_delivery or first.estimated_delivery,
            signed_by=next((r.signed_by for r in reversed(group) if r.signed_by), None),
            raw_ref=first.raw_ref,
            extra={**first.extra, **newest.extra, "merged_results": len(group)},
            delivered_to=newest.delivered_to or first.delivered_to,
            pickup=newest.pickup or first.pickup,
        )
        merged.append(combined)
    return merged


# -- loading ---------------------------------------------------------------------------------

Body = bytes | str | Mapping[str, Any] | list[Any]


def load_json(body: Body, carrier: str) -> Any:
    if isinstance(body, Mapping | list):
        return body
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ParseError(f"not JSON: {exc}", carrier=carrier) from exc


def load_xml(body: Body, carrier: str) -> ET.Element:
    """Parse XML with namespaces stripped from tags; DTDs are refused (no entity expansion).

    Liberal in what it takes: whitespace or a byte-order mark before the XML declaration, and a
    legacy SOAP reply still inside its ``Envelope``/``Body`` (the payload inside is returned; a
    SOAP ``Fault`` is a :class:`ParseError`).
    """
    if not isinstance(body, bytes | str):
        raise ParseError("expected an XML document", carrier=carrier)
    raw = (body.encode() if isinstance(body, str) else body).lstrip().removeprefix(b"\xef\xbb\xbf")
    raw = raw.lstrip()
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        raise ParseError("XML with a DTD is refused", carrier=carrier)
    try:
        root = ET.fromstring(raw)  # noqa: S314 (DTDs and entities are refused just above)
    except ET.ParseError as exc:
        raise ParseError(f"not XML: {exc}", carrier=carrier) from exc
    for element in root.iter():
        if isinstance(element.tag, str) and "}" in element.tag:
            element.tag = element.tag.split("}", 1)[1]
    return _unwrap_soap(root, carrier)


def _unwrap_soap(root: ET.Element, carrier: str) -> ET.Element:
    if root.tag != "Envelope":
        return root
    body = root.find("Body")
    payload = next(iter(body), None) if body is not None else None
    if payload is None:
        raise ParseError("SOAP envelope without a body", carrier=carrier)
    if payload.tag == "Fault":
        raise ParseError(f"SOAP fault: {xml_text(payload, 'faultstring')[:200]}", carrier=carrier)
    return payload


def xml_text(element: ET.Element | None, path: str, default: str = "") -> str:
    if element is None:
        return default
    found = element.find(path)
    return " ".join((found.text or "").split()) if found is not None and found.text else default


def looks_like_xml(body: Body) -> bool:
    if isinstance(body, bytes):
        return body.lstrip()[:1] == b"<"
    return isinstance(body, str) and body.lstrip()[:1] == "<"


def decode_text(body: Body, carrier: str) -> str:
    """Bytes of an HTML page as text: UTF-8, else the Shift_JIS family (CP932)."""
    if isinstance(body, str):
        return body
    if not isinstance(body, bytes):
        raise ParseError("expected an HTML page", carrier=carrier)
    head = body[:2048].lower()
    encodings = (
        ("cp932", "utf-8") if b"shift_jis" in head or b"sjis" in head else ("utf-8", "cp932")
    )
    for encoding in encodings:
        try:
            return body.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ParseError("page is neither UTF-8 nor Shift_JIS", carrier=carrier)


# -- times -----------------------------------------------------------------------------------


def parse_instant(value: Any, *, default_tz: tzinfo = UTC) -> datetime:
    """An ISO 8601 timestamp as an aware datetime; a missing offset means ``default_tz``."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not a timestamp: {value!r}")
    parsed = datetime.fromisoformat(value.strip())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=default_tz)


def estimate_date(value: Any, *, default_tz: tzinfo = UTC) -> date | None:
    """An estimated delivery day from whatever shape the carrier sends it in; None when unreadable.

    Seen in real answers: an ISO date or timestamp string, an object (``{"date": ...}``,
    ``{"estimatedDeliveryDate": ...}``, a window ``{"start": ..., "end": ...}``), or a list of
    those. The estimate is optional, so an unreadable one is dropped rather than failing the parse.
    """
    if isinstance(value, list):
        return next(
            (d for d in (estimate_date(v, default_tz=default_tz) for v in value) if d), None
        )
    if isinstance(value, Mapping):
        for key in (
            "date",
            "estimatedDeliveryDate",
            "estimated_delivery_date",
            "datetime",
            "value",
        ):
            if key in value:
                return estimate_date(value[key], default_tz=default_tz)
        for key in ("start", "from", "begins", "end", "to"):
            if key in value:
                return estimate_date(value[key], default_tz=default_tz)
        return None
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return parse_instant(value, default_tz=default_tz).date()
    except ValueError:
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None


_US_ZONES = {
    **dict.fromkeys(
        [
            "CT",
            "DE",
            "DC",
            "FL",
            "GA",
            "IN",
            "KY",
            "ME",
            "MD",
            "MA",
            "MI",
            "NH",
            "NJ",
            "NY",
            "NC",
            "OH",
            "PA",
            "RI",
            "SC",
            "VT",
            "VA",
            "WV",
        ],
        "America/New_York",
    ),
    **dict.fromkeys(
        [
            "AL",
            "AR",
            "IL",
            "IA",
            "KS",
            "LA",
            "MN",
            "MS",
            "MO",
            "NE",
            "ND",
            "OK",
            "SD",
            "TN",
            "TX",
            "WI",
        ],
        "America/Chicago",
    ),
    **dict.fromkeys(["CO", "MT", "NM", "UT", "WY", "ID"], "America/Denver"),
    **dict.fromkeys(["CA", "NV", "OR", "WA"], "America/Los_Angeles"),
    "AZ": "America/Phoenix",
    "AK": "America/Anchorage",
    "HI": "Pacific/Honolulu",
    "PR": "America/Puerto_Rico",
    "GU": "Pacific/Guam",
    "VI": "America/St_Thomas",
}


def us_state_zone(*states: str | None, default: tzinfo = UTC) -> tzinfo:
    """The main time zone of the first known US state code (local scan times carry no zone)."""
    for state in states:
        zone = _US_ZONES.get((state or "").strip().upper())
        if zone:
            return ZoneInfo(zone)
    return default


def parse_local(value: str, fmt: str, tz: tzinfo) -> datetime:
    return datetime.strptime(" ".join(value.split()), fmt).replace(tzinfo=tz)


def infer_year(
    month: int, day: int, hour: int, minute: int, *, now: datetime, tz: tzinfo = JST
) -> datetime:
    """A year-less local time (「06/27 11:19」) placed in the latest year not after ``now``.

    Japanese tracking pages omit the year; a scan cannot be in the future, so a December scan
    read in January belongs to last year. ``now`` is passed in so tests and replays are exact.
    """
    local_now = now.astimezone(tz)
    for year in (local_now.year, local_now.year - 1, local_now.year - 2, local_now.year - 4):
        try:
            candidate = datetime(year, month, day, hour, minute, tzinfo=tz)
        except ValueError:  # 29 February in a non-leap year
            continue
        if candidate <= local_now + timedelta(minutes=5):
            return candidate
    raise ValueError(f"no year places {month:02d}/{day:02d} before {now.isoformat()}")


# -- guard -----------------------------------------------------------------------------------

P = ParamSpec("P")
T = TypeVar("T")

#: Exceptions that mean "the payload is not shaped as expected".
STRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    KeyError,
    IndexError,
    TypeError,
    ValueError,
    AttributeError,
    ET.ParseError,
    UnicodeError,
    RecursionError,
    OverflowError,
    AssertionError,
)


def parser(carrier: str) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorate a parse function: structural surprises become a counted :class:`ParseError`."""

    def decorate(func: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return func(*args, **kwargs)
            except ParseError:
                metrics.record_parse_error(carrier)
                raise
            except STRUCTURE_ERRORS as exc:
                metrics.record_parse_error(carrier)
                raise ParseError(
                    f"unexpected response structure ({type(exc).__name__}: {exc})", carrier=carrier
                ) from exc

        return wrapper

    return decorate


def require(condition: Any, message: str, carrier: str) -> None:
    """Fail loudly (ParseError) when the payload lacks what the parser relies on."""
    if not condition:
        raise ParseError(message, carrier=carrier)


def as_list(value: Any) -> list[Any]:
    """A JSON field that should be a list; ``None`` means empty, anything else is an error."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def as_dict(value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value


def join_location(*parts: Any) -> str | None:
    text = ", ".join(str(p).strip() for p in parts if p is not None and str(p).strip())
    return text or None
