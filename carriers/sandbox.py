"""Sandbox Express: a simulated carrier for demos, tests and the polling benchmark.

A parcel's whole journey is derived from its tracking number: the number encodes the hand-over
time (``SB`` + ``YYYYMMDDHHMM`` in UTC + a serial) and seeds the random choices, so every process
that asks about a number sees the same scans. What :meth:`SandboxCarrier.track` answers depends
only on "now", which comes from the ``clock`` option (simulated time) optionally sped up by
``time_scale`` (demo: 60 = one real minute is one simulated hour).

Journeys follow a Japanese domestic carrier: 荷物受付 → 発送済み → 輸送中 (hubs) → 配達店到着 →
配達中 → 配達完了, with failed attempts (持戻) and redelivery, delays, exceptions (調査中), returns
to the sender and convenience-store pickups at configurable rates. Deliveries happen between
08:00 and 21:00 Japan time; an out-for-delivery answer may carry a two-hour delivery window
(``extra["delivery_window"]``, like お届け予定時間帯 notices).

The adapter counts calls and looked-up numbers and enforces a token-bucket rate limit on its own
(simulated) clock, raising :class:`RateLimited` like a real API would.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from carriers.base import Capabilities, RateLimited, TrackingEvent, TrackingResult, Unsupported
from carriers.registry import CarrierSettings, register
from carriers.status import Status

CODE = "sandbox"
PREFIX = "SB"
JST = ZoneInfo("Asia/Tokyo")
_STAMP = "%Y%m%d%H%M"

#: (prefecture + city, delivery depot) pairs destinations are drawn from.
DESTINATIONS: tuple[tuple[str, str], ...] = (
    ("東京都世田谷区", "世田谷三軒茶屋センター"),
    ("東京都江東区", "江東豊洲センター"),
    ("神奈川県横浜市港北区", "横浜港北センター"),
    ("埼玉県さいたま市浦和区", "浦和常盤センター"),
    ("千葉県船橋市", "船橋本町センター"),
    ("大阪府大阪市北区", "大阪梅田センター"),
    ("京都府京都市左京区", "京都北白川センター"),
    ("愛知県名古屋市中区", "名古屋栄センター"),
    ("福岡県福岡市中央区", "福岡天神センター"),
    ("北海道札幌市中央区", "札幌大通センター"),
    ("宮城県仙台市青葉区", "仙台一番町センター"),
    ("広島県広島市中区", "広島紙屋町センター"),
)
ORIGINS: tuple[tuple[str, str, str], ...] = (
    ("千葉県市川市", "市川塩浜営業所", "羽田クロノゲートベース"),
    ("埼玉県戸田市", "戸田美女木営業所", "埼玉ベース"),
    ("大阪府茨木市", "茨木彩都営業所", "関西ゲートウェイ"),
)
STORES: tuple[str, ...] = ("ファミリーマート", "ローソン", "セブン-イレブン")
SURNAMES: tuple[str, ...] = ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤")
#: Delivery windows (local hours) announced once out for delivery: the Japanese time slots
#: (午前中, 14–16, 16–18, 18–20, 19–21; the 12–14 slot was abolished in 2017).
WINDOWS: tuple[tuple[int, int], ...] = ((8, 12), (14, 16), (16, 18), (18, 20), (19, 21))
WINDOW_WEIGHTS: tuple[float, ...] = (0.34, 0.20, 0.18, 0.16, 0.12)


@dataclass(frozen=True)
class Rates:
    """How often each complication happens (probability per parcel)."""

    attempt_fail: float = 0.12
    delay: float = 0.08
    exception: float = 0.03
    #: Of the exceptions, how many end in a return to the sender instead of a late delivery.
    exception_return: float = 0.3
    pickup: float = 0.05
    #: Out-for-delivery answers that include a delivery window.
    window: float = 0.85
    #: Deliveries that miss the announced window (up to 90 minutes late).
    window_miss: float = 0.05


@dataclass(frozen=True)
class Scan:
    """One planned scan; ``estimate`` and ``window`` are what the carrier says from then on."""

    at: datetime
    status: Status
    code: str
    description: str
    location: str
    estimate: date | None = None
    window: tuple[datetime, datetime] | None = None
    signed_by: str | None = None
    sub_status: str | None = None


def tracking_number(handed_over_at: datetime, serial: int) -> str:
    """The sandbox number of a parcel handed over at ``handed_over_at`` (minute precision)."""
    return f"{PREFIX}{handed_over_at.astimezone(UTC).strftime(_STAMP)}{serial:06d}"


def handed_over_at(number: str) -> datetime | None:
    """The hand-over time encoded in a sandbox number, or None when it is not one."""
    if not (number.startswith(PREFIX) and len(number) == 20 and number[2:].isdigit()):
        return None
    try:
        return datetime.strptime(number[2:14], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def _minutes(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(minutes=round(rng.uniform(low, high)))


def _at(day: date, hour: float, rng: random.Random, spread_minutes: float = 0) -> datetime:
    minutes = hour * 60 + rng.uniform(0, spread_minutes)
    return datetime.combine(day, time(0), JST) + timedelta(minutes=round(minutes))


def journey(number: str, rates: Rates = Rates(), handed_over: datetime | None = None) -> list[Scan]:
    """Every scan the parcel will ever get, in time order; deterministic for a number and rates."""
    start = handed_over or handed_over_at(number)
    if start is None:
        return []
    return sorted(_plan(number, start, rates), key=lambda scan: scan.at)


def _plan(number: str, start: datetime, rates: Rates) -> list[Scan]:
    rng = random.Random(int.from_bytes(hashlib.sha256(number.encode()).digest()[:8], "big"))
    origin_city, origin_office, origin_hub = rng.choice(ORIGINS)
    city, depot = rng.choice(DESTINATIONS)
    start_local = start.astimezone(JST)
    days = rng.choices((1, 2, 3), weights=(0.55, 0.35, 0.10))[0]
    if start_local.hour >= 20:
        days += 1
    day = start_local.date() + timedelta(days=days)
    estimate = day
    scans = [Scan(start, Status.info_received, "RECEIVED", "荷物受付", f"{origin_city} {origin_office}", estimate)]
    picked = start + _minutes(rng, 60, 240)
    scans.append(Scan(picked, Status.in_transit, "SHIPPED", "発送済み", f"{origin_city} {origin_office}", estimate))
    scans.append(Scan(picked + _minutes(rng, 120, 300), Status.in_transit, "IN_TRANSIT",
                      "輸送中", origin_hub, estimate))
    if rng.random() < rates.delay:
        planned = day
        day += timedelta(days=rng.choice((1, 1, 2)))
        scans.append(Scan(_at(planned, 5, rng, 120), Status.in_transit, "DELAYED",
                          "輸送中(天候不良のため遅延しています)", origin_hub, day, sub_status="delayed"))
    scans.append(Scan(_at(day, 4, rng, 90), Status.in_transit, "IN_TRANSIT", "輸送中", f"{city} ベース", day))
    arrived = _at(day, 6, rng, 75)
    scans.append(Scan(arrived, Status.in_transit, "ARRIVED", "配達店到着", f"{city} {depot}", day))
    if rng.random() < rates.exception:
        scans.append(Scan(arrived + _minutes(rng, 30, 120), Status.exception, "INVESTIGATING",
                          "調査中(お問い合わせください)", f"{city} {depot}", None, sub_status="investigating"))
        if rng.random() < rates.exception_return:
            back = _at(day + timedelta(days=1), 10, rng, 240)
            scans.append(Scan(back, Status.returning_to_sender, "RETURNING", "返品(依頼主へ返送中)",
                              f"{city} {depot}"))
            scans.append(Scan(_at(day + timedelta(days=3), 10, rng, 360), Status.returned, "RETURNED",
                              "返品完了", f"{origin_city} {origin_office}"))
            return scans
        day += timedelta(days=1)
        scans.append(Scan(_at(day, 6, rng, 60), Status.in_transit, "ARRIVED", "配達店到着(調査完了)",
                          f"{city} {depot}", day))
    if rng.random() < rates.pickup:
        store = f"{rng.choice(STORES)} {city}店"
        ready = _at(day, 10, rng, 240)
        scans.append(Scan(ready, Status.available_for_pickup, "AT_STORE", "コンビニ到着(お受け取り可能)", store,
                          sub_status="store"))
        scans.append(Scan(_collected(ready, rng), Status.delivered, "PICKED_UP", "お渡し済み", store,
                          signed_by="ご本人"))
        return scans
    fails = 0
    if rng.random() < rates.attempt_fail:
        fails = 2 if rng.random() < 0.2 else 1
    for attempt in range(fails + 1):
        out, window, delivered = _delivery_day(day, rng, rates)
        redelivery = "(再配達)" if attempt else ""
        scans.append(Scan(out, Status.out_for_delivery, "OUT_FOR_DELIVERY", f"配達中{redelivery}",
                          f"{city} {depot}", day, window))
        if attempt < fails:
            scans.append(Scan(delivered, Status.attempt_fail, "ABSENT", "持戻(ご不在)", f"{city} {depot}",
                              day + timedelta(days=1), sub_status="absent"))
            day += timedelta(days=1)
            if attempt == 1:
                kept = delivered + _minutes(rng, 30, 90)
                scans.append(Scan(kept, Status.available_for_pickup, "HELD", "営業所でお預かりしています",
                                  f"{city} {depot}", sub_status="depot"))
                scans.append(Scan(_collected(kept, rng), Status.delivered, "PICKED_UP", "窓口でお渡し済み",
                                  f"{city} {depot}", signed_by=rng.choice(SURNAMES)))
                return scans
            continue
        scans.append(Scan(delivered, Status.delivered, "DELIVERED", "配達完了", f"{city} {depot}",
                          signed_by=rng.choice(SURNAMES)))
    return scans


def _collected(ready: datetime, rng: random.Random) -> datetime:
    """When the customer collects a parcel held for pickup: within three days, 07:00–23:00."""
    while True:
        day = ready.astimezone(JST).date() + timedelta(days=rng.choice((0, 1, 1, 2)))
        taken = _at(day, 7, rng, 16 * 60)
        if taken > ready + timedelta(hours=1):
            return taken


def _delivery_day(
    day: date, rng: random.Random, rates: Rates
) -> tuple[datetime, tuple[datetime, datetime] | None, datetime]:
    """Out-for-delivery time, the announced window (or None) and the delivery (or attempt) time."""
    out = _at(day, 7.75, rng, 90)
    first, last = rng.choices(WINDOWS, weights=WINDOW_WEIGHTS)[0]
    start = max(_at(day, first, rng), out + timedelta(minutes=15))
    end = _at(day, last, rng)
    when = start + timedelta(seconds=round((end - start).total_seconds() * rng.random()))
    if rng.random() < rates.window_miss:
        when = end + _minutes(rng, 5, 90)
    window = (_at(day, first, rng), end) if rng.random() < rates.window else None
    return out, window, when


@dataclass
class _Bucket:
    rate: float
    capacity: float
    tokens: float
    at: datetime | None = None

    def take(self, now: datetime) -> float:
        """Take one token; return 0 or the seconds until one is available."""
        if self.at is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.at).total_seconds() * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class SandboxCarrier:
    """The simulated carrier. Options (``CarrierSettings.options``):

    ``clock``: callable returning aware "now" (default: real time). ``time_scale``: speed-up of
    the clock from the moment the adapter is created (default 1; also read from the credential
    ``time_scale``, i.e. ``POSTPURCHASE_CARRIER_SANDBOX_TIME_SCALE``). ``rates``: :class:`Rates` or a
    mapping of its fields. ``max_batch`` (40), ``requests_per_second`` (10), ``burst`` (same as
    the rate): the capabilities and the enforced limit. ``handovers``: mapping of tracking numbers
    that are not sandbox-formatted to their hand-over time.
    """

    clock: Callable[[], datetime]
    time_scale: float = 1.0
    rates: Rates = field(default_factory=Rates)
    capabilities: Capabilities = field(default_factory=Capabilities)
    handovers: Mapping[str, datetime] = field(default_factory=dict)
    burst: float = 10.0
    code: str = CODE
    name: str = "Sandbox Express (simulated)"
    #: Requests answered (including rate-limited ones) and numbers looked up.
    calls: int = 0
    numbers: int = 0
    rejected: int = 0
    _started_real: datetime | None = None
    _started_sim: datetime | None = None
    _bucket: _Bucket | None = None

    def __post_init__(self) -> None:
        self._started_real = self.clock()
        self._started_sim = self._started_real
        rps = self.capabilities.requests_per_second
        self._bucket = _Bucket(rate=rps, capacity=max(self.burst, 1.0), tokens=max(self.burst, 1.0))
        self._journeys: dict[str, list[Scan]] = {}

    def now(self) -> datetime:
        """Simulated "now": the clock, sped up by ``time_scale`` since the adapter was created."""
        real = self.clock()
        if self.time_scale == 1:
            return real
        assert self._started_real is not None and self._started_sim is not None
        return self._started_sim + (real - self._started_real) * self.time_scale

    def journey(self, number: str) -> list[Scan]:
        if number not in self._journeys:
            self._journeys[number] = journey(number, self.rates, self.handovers.get(number))
        return self._journeys[number]

    def track(self, numbers: Sequence[str]) -> list[TrackingResult]:
        """Answer for the numbers the carrier knows by now; unknown numbers are left out."""
        if len(numbers) > self.capabilities.max_batch:
            raise ValueError(f"at most {self.capabilities.max_batch} numbers per request")
        now = self.now()
        self.calls += 1
        assert self._bucket is not None
        wait = self._bucket.take(now)
        if wait:
            self.rejected += 1
            raise RateLimited("too many requests", carrier=self.code, retry_after=wait)
        self.numbers += len(numbers)
        results = []
        for number in numbers:
            result = self.result_at(number, now)
            if result is not None:
                results.append(result)
        return results

    def result_at(self, number: str, now: datetime) -> TrackingResult | None:
        """What the carrier answers about ``number`` at ``now`` (None: not handed over yet)."""
        seen = [scan for scan in self.journey(number) if scan.at <= now]
        if not seen:
            return None
        last = seen[-1]
        extra: dict[str, Any] = {"service": "宅急便"}
        if last.window is not None:
            extra["delivery_window"] = {"start": last.window[0].isoformat(), "end": last.window[1].isoformat()}
        return TrackingResult(
            carrier=self.code,
            tracking_number=number,
            status=last.status,
            sub_status=last.sub_status,
            events=tuple(
                TrackingEvent(scan.at, scan.status, scan.code, scan.description, scan.location) for scan in seen
            ),
            estimated_delivery=last.estimate,
            signed_by=last.signed_by,
            raw_ref=f"sandbox:{number}:{len(seen)}",
            extra=extra,
        )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[TrackingResult]:
        raise Unsupported("the sandbox carrier only answers polls", carrier=self.code)


def _rates(value: Any) -> Rates:
    if isinstance(value, Rates):
        return value
    return replace(Rates(), **{key: float(v) for key, v in dict(value or {}).items()})


@register(CODE)
def create(settings: CarrierSettings) -> SandboxCarrier:
    options = settings.options
    rps = float(options.get("requests_per_second", 10))
    capabilities = Capabilities(
        max_batch=int(options.get("max_batch", 40)),
        requests_per_second=rps,
        auth="none",
        supports_webhooks=False,
        tracking_url=None,
    )
    clock = options.get("clock") or (lambda: datetime.now(UTC))
    return SandboxCarrier(
        clock=clock,
        time_scale=float(options.get("time_scale", settings.credentials.get("time_scale", 1))),
        rates=_rates(options.get("rates")),
        capabilities=capabilities,
        handovers=dict(options.get("handovers") or {}),
        burst=float(options.get("burst", rps)),
    )
