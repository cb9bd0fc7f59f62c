"""Sandbox Express: a simulated carrier for demos, tests and the polling benchmark.

A parcel's whole journey is derived from its tracking number: the number encodes the hand-over
time (``SB`` + ``YYYYMMDDHHMM`` in UTC + a serial) and seeds the random choices, so every process
that asks about a number sees the same scans. A *labelled* number also carries what a shipping
label tells a real carrier (:class:`Label`): the origin and destination postal areas, the service
profile and whether the parcel waits at a convenience store. What :meth:`SandboxCarrier.track`
answers depends only on "now", which comes from the ``clock`` option (simulated time) optionally
sped up by ``time_scale`` (demo: 60 = one real minute is one simulated hour).

Journeys follow a Japanese domestic carrier along the parcel's route: 荷物受付 and 発送済み at the
origin office → 輸送中 at the origin region's hub (and the destination region's hub when it is
another region) → 配達店到着 at the destination's delivery office → 配達中 → 配達完了, with failed
attempts (持戻) and redelivery, delays, exceptions (調査中), lost parcels, returns to the sender and
convenience-store pickups at the rates of the parcel's :class:`Profile`. Transit takes the lane's
usual days (next day within a region, more to Hokkaido, Kyushu or Okinawa) plus the profile's extra
days. Deliveries happen between 08:00 and 21:00 Japan time; an out-for-delivery answer may carry a
two-hour delivery window (``extra["delivery_window"]``, like お届け予定時間帯 notices).

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

#: First two digits of a Japanese postal code → prefecture (postal areas follow prefectures).
_AREAS: tuple[tuple[int, int, str], ...] = (
    (0, 0, "北海道"),
    (1, 1, "秋田県"),
    (2, 2, "岩手県"),
    (3, 3, "青森県"),
    (4, 9, "北海道"),
    (10, 20, "東京都"),
    (21, 25, "神奈川県"),
    (26, 29, "千葉県"),
    (30, 31, "茨城県"),
    (32, 32, "栃木県"),
    (33, 36, "埼玉県"),
    (37, 37, "群馬県"),
    (38, 39, "長野県"),
    (40, 40, "山梨県"),
    (41, 43, "静岡県"),
    (44, 49, "愛知県"),
    (50, 50, "岐阜県"),
    (51, 51, "三重県"),
    (52, 52, "滋賀県"),
    (53, 59, "大阪府"),
    (60, 62, "京都府"),
    (63, 63, "奈良県"),
    (64, 64, "和歌山県"),
    (65, 67, "兵庫県"),
    (68, 68, "鳥取県"),
    (69, 69, "島根県"),
    (70, 71, "岡山県"),
    (72, 73, "広島県"),
    (74, 75, "山口県"),
    (76, 76, "香川県"),
    (77, 77, "徳島県"),
    (78, 78, "高知県"),
    (79, 79, "愛媛県"),
    (80, 83, "福岡県"),
    (84, 84, "佐賀県"),
    (85, 85, "長崎県"),
    (86, 86, "熊本県"),
    (87, 87, "大分県"),
    (88, 88, "宮崎県"),
    (89, 89, "鹿児島県"),
    (90, 90, "沖縄県"),
    (91, 91, "福井県"),
    (92, 92, "石川県"),
    (93, 93, "富山県"),
    (94, 95, "新潟県"),
    (96, 97, "福島県"),
    (98, 98, "宮城県"),
    (99, 99, "山形県"),
)
PREFECTURES: dict[str, str] = {
    f"{n:02d}": name for low, high, name in _AREAS for n in range(low, high + 1)
}
#: Prefecture → region; each region has one hub (sorting base) every parcel to or from it passes.
REGIONS: dict[str, tuple[str, ...]] = {
    "北海道": ("北海道",),
    "東北": ("青森県", "岩手県", "秋田県", "宮城県", "山形県", "福島県"),
    "関東": ("東京都", "神奈川県", "千葉県", "埼玉県", "茨城県", "栃木県", "群馬県", "山梨県"),
    "中部": (
        "長野県",
        "新潟県",
        "富山県",
        "石川県",
        "福井県",
        "静岡県",
        "愛知県",
        "岐阜県",
        "三重県",
    ),
    "関西": ("大阪府", "京都府", "兵庫県", "奈良県", "和歌山県", "滋賀県"),
    "中国": ("鳥取県", "島根県", "岡山県", "広島県", "山口県"),
    "四国": ("香川県", "徳島県", "高知県", "愛媛県"),
    "九州": ("福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県"),
    "沖縄": ("沖縄県",),
}
REGION_OF: dict[str, str] = {pref: region for region, prefs in REGIONS.items() for pref in prefs}
#: Region → (prefecture + city, hub). Hub names follow Yamato's bases and gateways.
HUBS: dict[str, tuple[str, str]] = {
    "北海道": ("北海道札幌市東区", "札幌ベース"),
    "東北": ("宮城県仙台市宮城野区", "仙台ベース"),
    "関東": ("東京都大田区", "羽田クロノゲートベース"),
    "中部": ("愛知県豊川市", "中部ゲートウェイ"),
    "関西": ("大阪府茨木市", "関西ゲートウェイ"),
    "中国": ("広島県広島市西区", "広島ベース"),
    "四国": ("香川県高松市", "高松ベース"),
    "九州": ("福岡県福岡市東区", "福岡ベース"),
    "沖縄": ("沖縄県那覇市", "那覇ベース"),
}
#: Where each region lies along the archipelago; the distance sets the lane's usual transit days.
_POSITION: dict[str, int] = {
    "北海道": -1,
    "東北": 1,
    "関東": 2,
    "中部": 3,
    "関西": 4,
    "中国": 5,
    "四国": 5,
    "九州": 6,
    "沖縄": 9,
}
#: First three digits of a postal code → (prefecture + city, office). Areas not listed get the
#: prefecture's main centre.
OFFICES: dict[str, tuple[str, str]] = {
    "060": ("北海道札幌市中央区", "札幌大通センター"),
    "135": ("東京都江東区", "江東豊洲センター"),
    "150": ("東京都渋谷区", "渋谷神宮前センター"),
    "154": ("東京都世田谷区", "世田谷三軒茶屋センター"),
    "211": ("神奈川県川崎市中原区", "川崎小杉センター"),
    "222": ("神奈川県横浜市港北区", "横浜港北センター"),
    "231": ("神奈川県横浜市中区", "横浜山下町センター"),
    "272": ("千葉県市川市", "市川塩浜営業所"),
    "273": ("千葉県船橋市", "船橋本町センター"),
    "330": ("埼玉県さいたま市浦和区", "浦和常盤センター"),
    "335": ("埼玉県戸田市", "戸田美女木営業所"),
    "420": ("静岡県静岡市葵区", "静岡追手町センター"),
    "460": ("愛知県名古屋市中区", "名古屋栄センター"),
    "530": ("大阪府大阪市北区", "大阪梅田センター"),
    "559": ("大阪府大阪市住之江区", "住之江南港営業所"),
    "567": ("大阪府茨木市", "茨木彩都営業所"),
    "604": ("京都府京都市中京区", "京都烏丸センター"),
    "606": ("京都府京都市左京区", "京都北白川センター"),
    "650": ("兵庫県神戸市中央区", "神戸三宮センター"),
    "730": ("広島県広島市中区", "広島紙屋町センター"),
    "760": ("香川県高松市", "高松番町センター"),
    "810": ("福岡県福岡市中央区", "福岡天神センター"),
    "860": ("熊本県熊本市中央区", "熊本手取センター"),
    "900": ("沖縄県那覇市", "那覇久茂地センター"),
    "950": ("新潟県新潟市中央区", "新潟万代センター"),
    "980": ("宮城県仙台市青葉区", "仙台一番町センター"),
}
#: Postal areas of unlabelled numbers: where they are handed over and where they go.
ORIGINS: tuple[str, ...] = ("272", "335", "567")
DESTINATIONS: tuple[str, ...] = (
    "154",
    "135",
    "222",
    "330",
    "273",
    "530",
    "606",
    "460",
    "810",
    "060",
    "980",
    "730",
)
STORES: tuple[str, ...] = ("ファミリーマート", "ローソン", "セブン-イレブン")
SURNAMES: tuple[str, ...] = (
    "佐藤",
    "鈴木",
    "高橋",
    "田中",
    "伊藤",
    "渡辺",
    "山本",
    "中村",
    "小林",
    "加藤",
)
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
    #: Of the exceptions not returned, how many are never found (the parcel stays 調査中, then 紛失).
    lost: float = 0.0
    #: Unlabelled parcels only (a label says whether the customer chose a store).
    pickup: float = 0.05
    #: Out-for-delivery answers that include a delivery window.
    window: float = 0.85
    #: Deliveries that miss the announced window (up to 90 minutes late).
    window_miss: float = 0.05


@dataclass(frozen=True)
class Profile:
    """How one service behaves: its complications, and how often it needs days beyond the lane's usual."""

    rates: Rates = field(default_factory=Rates)
    #: Probabilities of taking 0, 1 or 2 days longer than the lane's usual transit time.
    extra_days: tuple[float, float, float] = (0.55, 0.35, 0.10)


@dataclass(frozen=True)
class Label:
    """What the shipping label tells the carrier; encoded in a labelled sandbox number.

    ``origin`` and ``destination`` are postal codes (only their first three digits are kept),
    ``profile`` (0–9) picks one of the adapter's :class:`Profile` options, ``store_pickup`` sends
    the parcel to a convenience store near the customer instead of the door.
    """

    origin: str
    destination: str
    profile: int = 0
    store_pickup: bool = False


@dataclass(frozen=True)
class Place:
    prefecture: str
    #: Prefecture + city, as scans name them.
    city: str
    office: str

    @property
    def location(self) -> str:
        return f"{self.city} {self.office}"


@dataclass(frozen=True)
class Route:
    """Where a parcel goes: accepted at ``origin``, sorted at ``hubs``, delivered from ``destination``."""

    origin: Place
    hubs: tuple[Place, ...]
    destination: Place
    #: The lane's usual transit days (before the profile's extra days).
    days: int

    @property
    def locations(self) -> frozenset[str]:
        """Every place a scan of this parcel may name, except the pickup store."""
        return frozenset(p.location for p in (self.origin, *self.hubs, self.destination))


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


def tracking_number(handed_over_at: datetime, serial: int, label: Label | None = None) -> str:
    """The sandbox number of a parcel handed over at ``handed_over_at`` (minute precision).

    With a ``label``: ``…`` + profile digit + store digit + origin and destination postal areas.
    """
    number = f"{PREFIX}{handed_over_at.astimezone(UTC).strftime(_STAMP)}{serial:06d}"
    if label is None:
        return number
    origin, destination = _area(label.origin), _area(label.destination)
    if origin is None or destination is None or not 0 <= label.profile <= 9:
        raise ValueError(f"cannot label a sandbox parcel with {label!r}")
    return f"{number}{label.profile}{int(label.store_pickup)}{origin}{destination}"


def _area(postal_code: str) -> str | None:
    """The three-digit postal area of a Japanese postal code, when it is in a known prefecture."""
    digits = "".join(ch for ch in postal_code if ch.isdigit())
    return digits[:3] if len(digits) >= 3 and digits[:2] in PREFECTURES else None


def _valid(number: str) -> bool:
    return number.startswith(PREFIX) and len(number) in (20, 28) and number[2:].isdigit()


def handed_over_at(number: str) -> datetime | None:
    """The hand-over time encoded in a sandbox number, or None when it is not one."""
    if not _valid(number):
        return None
    try:
        return datetime.strptime(number[2:14], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def label_of(number: str) -> Label | None:
    """The label encoded in a labelled sandbox number, or None."""
    if not _valid(number) or len(number) != 28:
        return None
    tail = number[20:]
    return Label(
        origin=tail[2:5], destination=tail[5:8], profile=int(tail[0]), store_pickup=tail[1] == "1"
    )


def place(postal_code: str) -> Place | None:
    """The delivery office serving a postal code (its prefecture's main centre when not listed)."""
    area = _area(postal_code)
    if area is None:
        return None
    prefecture = PREFECTURES[area[:2]]
    if area in OFFICES:
        city, office = OFFICES[area]
        return Place(prefecture, city, office)
    short = prefecture if prefecture == "北海道" else prefecture[:-1]
    return Place(prefecture, prefecture, f"{short}主管センター")


def route(origin: str, destination: str) -> Route | None:
    """The route between two postal codes: origin office, hubs on the way, destination office."""
    start, end = place(origin), place(destination)
    if start is None or end is None:
        return None
    regions = list(dict.fromkeys((REGION_OF[start.prefecture], REGION_OF[end.prefecture])))
    hubs = tuple(Place(_prefecture_of(HUBS[r][0]), *HUBS[r]) for r in regions)
    distance = abs(_POSITION[regions[0]] - _POSITION[regions[-1]])
    days = 1 if distance <= 2 else 2 if distance <= 4 else 3
    return Route(start, hubs, end, days)


def _prefecture_of(city: str) -> str:
    return next(p for p in REGION_OF if city.startswith(p))


def route_of(number: str, rng: random.Random | None = None) -> Route | None:
    """A parcel's route: from its label, or (unlabelled numbers) drawn with ``rng``."""
    label = label_of(number)
    if label is not None:
        return route(label.origin, label.destination)
    if rng is None:
        return None
    return route(rng.choice(ORIGINS), rng.choice(DESTINATIONS))


def _minutes(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(minutes=round(rng.uniform(low, high)))


def _at(day: date, hour: float, rng: random.Random, spread_minutes: float = 0) -> datetime:
    minutes = hour * 60 + rng.uniform(0, spread_minutes)
    return datetime.combine(day, time(0), JST) + timedelta(minutes=round(minutes))


def journey(
    number: str,
    rates: Rates = Rates(),
    handed_over: datetime | None = None,
    *,
    profiles: Mapping[int, Profile] | None = None,
) -> list[Scan]:
    """Every scan the parcel will ever get, in time order; deterministic for a number and settings.

    A labelled number follows the profile its label names in ``profiles``; others (and unknown
    profiles) follow ``rates`` with the default extra days.
    """
    start = handed_over or handed_over_at(number)
    if start is None:
        return []
    label = label_of(number)
    profile = (profiles or {}).get(label.profile) if label else None
    return sorted(
        _plan(number, start, profile or Profile(rates=rates), label), key=lambda scan: scan.at
    )


def _plan(number: str, start: datetime, profile: Profile, label: Label | None) -> list[Scan]:
    # a reproducible journey per tracking number, not a secret: a seeded PRNG is the point
    rng = random.Random(int.from_bytes(hashlib.sha256(number.encode()).digest()[:8], "big"))  # noqa: S311
    rates = profile.rates
    lane = route_of(number, rng)
    assert lane is not None
    origin, depot = lane.origin.location, lane.destination.location
    start_local = start.astimezone(JST)
    days = lane.days + rng.choices((0, 1, 2), weights=profile.extra_days)[0]
    if start_local.hour >= 20:
        days += 1
    day = start_local.date() + timedelta(days=days)
    estimate = day
    scans = [Scan(start, Status.info_received, "RECEIVED", "荷物受付", origin, estimate)]
    picked = start + _minutes(rng, 60, 240)
    scans.append(Scan(picked, Status.in_transit, "SHIPPED", "発送済み", origin, estimate))
    sorted_at = picked + _minutes(rng, 120, 300)
    first_hub = lane.hubs[0].location
    scans.append(Scan(sorted_at, Status.in_transit, "IN_TRANSIT", "輸送中", first_hub, estimate))
    if rng.random() < rates.delay:
        planned = day
        day += timedelta(days=rng.choice((1, 1, 2)))
        scans.append(
            Scan(
                max(_at(planned, 5, rng, 120), sorted_at + timedelta(minutes=30)),
                Status.in_transit,
                "DELAYED",
                "輸送中(天候不良のため遅延しています)",
                first_hub,
                day,
                sub_status="delayed",
            )
        )
    if len(lane.hubs) > 1:
        scans.append(
            Scan(
                _at(day, 3, rng, 60),
                Status.in_transit,
                "IN_TRANSIT",
                "輸送中",
                lane.hubs[-1].location,
                day,
            )
        )
    arrived = _at(day, 6, rng, 75)
    scans.append(Scan(arrived, Status.in_transit, "ARRIVED", "配達店到着", depot, day))
    if rng.random() < rates.exception:
        scans.append(
            Scan(
                arrived + _minutes(rng, 30, 120),
                Status.exception,
                "INVESTIGATING",
                "調査中(お問い合わせください)",
                depot,
                None,
                sub_status="investigating",
            )
        )
        if rng.random() < rates.exception_return:
            back = _at(day + timedelta(days=1), 10, rng, 240)
            scans.append(
                Scan(back, Status.returning_to_sender, "RETURNING", "返品(依頼主へ返送中)", depot)
            )
            scans.append(
                Scan(
                    _at(day + timedelta(days=3), 10, rng, 360),
                    Status.returned,
                    "RETURNED",
                    "返品完了",
                    origin,
                )
            )
            return scans
        if rng.random() < rates.lost:
            scans.append(
                Scan(
                    _at(day + timedelta(days=5), 10, rng, 360),
                    Status.exception,
                    "LOST",
                    "所在不明(補償手続き中)",
                    depot,
                    sub_status="lost",
                )
            )
            return scans
        day += timedelta(days=1)
        scans.append(
            Scan(
                _at(day, 6, rng, 60),
                Status.in_transit,
                "ARRIVED",
                "配達店到着(調査完了)",
                depot,
                day,
            )
        )
    pickup = label.store_pickup if label else rng.random() < rates.pickup
    if pickup:
        area = lane.destination.office.removesuffix("センター").removesuffix("営業所")
        store = f"{lane.destination.city} {rng.choice(STORES)} {area}店"
        ready = _at(day, 10, rng, 240)
        scans.append(
            Scan(
                ready,
                Status.available_for_pickup,
                "AT_STORE",
                "コンビニ到着(お受け取り可能)",
                store,
                sub_status="store",
            )
        )
        scans.append(
            Scan(
                _collected(ready, rng),
                Status.delivered,
                "PICKED_UP",
                "お渡し済み",
                store,
                signed_by="ご本人",
            )
        )
        return scans
    fails = 0
    if rng.random() < rates.attempt_fail:
        fails = 2 if rng.random() < 0.2 else 1
    for attempt in range(fails + 1):
        out, window, delivered = _delivery_day(day, rng, rates)
        redelivery = "(再配達)" if attempt else ""
        scans.append(
            Scan(
                out,
                Status.out_for_delivery,
                "OUT_FOR_DELIVERY",
                f"配達中{redelivery}",
                depot,
                day,
                window,
            )
        )
        if attempt < fails:
            scans.append(
                Scan(
                    delivered,
                    Status.attempt_fail,
                    "ABSENT",
                    "持戻(ご不在)",
                    depot,
                    day + timedelta(days=1),
                    sub_status="absent",
                )
            )
            day += timedelta(days=1)
            if attempt == 1:
                kept = delivered + _minutes(rng, 30, 90)
                scans.append(
                    Scan(
                        kept,
                        Status.available_for_pickup,
                        "HELD",
                        "営業所でお預かりしています",
                        depot,
                        sub_status="depot",
                    )
                )
                scans.append(
                    Scan(
                        _collected(kept, rng),
                        Status.delivered,
                        "PICKED_UP",
                        "窓口でお渡し済み",
                        depot,
                        signed_by=rng.choice(SURNAMES),
                    )
                )
                return scans
            continue
        scans.append(
            Scan(
                delivered,
                Status.delivered,
                "DELIVERED",
                "配達完了",
                depot,
                signed_by=rng.choice(SURNAMES),
            )
        )
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
            self.tokens = min(
                self.capacity, self.tokens + (now - self.at).total_seconds() * self.rate
            )
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
    mapping of its fields (unlabelled parcels and unknown profiles). ``profiles``: mapping of a label's
    profile digit to a :class:`Profile` or a mapping (``rates``, ``extra_days``). ``max_batch`` (40), ``requests_per_second`` (10), ``burst`` (same as
    the rate): the capabilities and the enforced limit. ``handovers``: mapping of tracking numbers
    that are not sandbox-formatted to their hand-over time.
    """

    clock: Callable[[], datetime]
    time_scale: float = 1.0
    rates: Rates = field(default_factory=Rates)
    profiles: Mapping[int, Profile] = field(default_factory=dict)
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
            self._journeys[number] = journey(
                number, self.rates, self.handovers.get(number), profiles=self.profiles
            )
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
            extra["delivery_window"] = {
                "start": last.window[0].isoformat(),
                "end": last.window[1].isoformat(),
            }
        return TrackingResult(
            carrier=self.code,
            tracking_number=number,
            status=last.status,
            sub_status=last.sub_status,
            events=tuple(
                TrackingEvent(scan.at, scan.status, scan.code, scan.description, scan.location)
                for scan in seen
            ),
            estimated_delivery=last.estimate,
            signed_by=last.signed_by,
            raw_ref=f"sandbox:{number}:{len(seen)}",
            extra=extra,
        )

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        raise Unsupported("the sandbox carrier only answers polls", carrier=self.code)

    def parse_webhook(self, body: bytes) -> list[TrackingResult]:
        raise Unsupported("the sandbox carrier only answers polls", carrier=self.code)


def _rates(value: Any) -> Rates:
    if isinstance(value, Rates):
        return value
    return replace(Rates(), **{key: float(v) for key, v in dict(value or {}).items()})


def _profile(value: Any) -> Profile:
    if isinstance(value, Profile):
        return value
    raw = dict(value or {})
    extra = raw.get("extra_days")
    return Profile(
        rates=_rates(raw.get("rates")),
        extra_days=Profile().extra_days if extra is None else _weights(extra),
    )


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
        profiles={
            int(key): _profile(value) for key, value in dict(options.get("profiles") or {}).items()
        },
        capabilities=capabilities,
        handovers=dict(options.get("handovers") or {}),
        burst=float(options.get("burst", rps)),
    )


def _weights(raw: Any) -> tuple[float, float, float]:
    """Three weights of 0, 1 and 2 extra days, e.g. from JSON settings."""
    first, second, third = (float(w) for w in raw)
    return first, second, third
