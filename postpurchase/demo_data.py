"""Realistic Japanese demo data: customers, products, orders and parcels for a D2C brand.

Deterministic for a seed, so screenshots and tests see the same shop. Produces the generic intake
envelopes a WMS/OMS would post, so the demo goes through the same path as production data: stock
levels per fulfilment centre, then orders and their parcels in the order they happened.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")
FAMILY_NAMES = (
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
    "吉田",
    "山田",
    "佐々木",
    "山口",
    "松本",
    "井上",
    "木村",
    "林",
    "斎藤",
    "清水",
)
GIVEN_NAMES = (
    "陽子",
    "花子",
    "美咲",
    "結衣",
    "さくら",
    "健太",
    "翔太",
    "大輔",
    "直樹",
    "愛",
    "真由美",
    "恵",
    "拓也",
    "裕子",
    "彩",
    "亮",
    "舞",
    "誠",
    "由美",
    "蓮",
)
ROMAJI = (
    "sato",
    "suzuki",
    "takahashi",
    "tanaka",
    "ito",
    "watanabe",
    "yamamoto",
    "nakamura",
    "kobayashi",
    "kato",
    "yoshida",
    "yamada",
    "sasaki",
    "yamaguchi",
    "matsumoto",
    "inoue",
    "kimura",
    "hayashi",
    "saito",
    "shimizu",
)


@dataclass(frozen=True)
class Place:
    prefecture: str
    city: str
    postal_code: str
    region: str  # the carrier's delivery region (関東, 関西, ...)
    weight: float  # share of orders


PLACES: tuple[Place, ...] = (
    Place("東京都", "渋谷区神宮前", "150-0001", "関東", 9),
    Place("東京都", "世田谷区三軒茶屋", "154-0024", "関東", 8),
    Place("東京都", "江東区豊洲", "135-0061", "関東", 5),
    Place("神奈川県", "横浜市中区山下町", "231-0023", "関東", 7),
    Place("神奈川県", "川崎市中原区小杉町", "211-0063", "関東", 4),
    Place("埼玉県", "さいたま市浦和区高砂", "330-0063", "関東", 5),
    Place("千葉県", "船橋市本町", "273-0005", "関東", 4),
    Place("大阪府", "大阪市北区梅田", "530-0001", "関西", 7),
    Place("京都府", "京都市中京区烏丸通", "604-8005", "関西", 3),
    Place("兵庫県", "神戸市中央区三宮町", "650-0021", "関西", 3),
    Place("愛知県", "名古屋市中区栄", "460-0008", "中部", 5),
    Place("静岡県", "静岡市葵区追手町", "420-0853", "中部", 2),
    Place("宮城県", "仙台市青葉区一番町", "980-0811", "東北", 2),
    Place("北海道", "札幌市中央区北一条西", "060-0001", "北海道", 3),
    Place("広島県", "広島市中区紙屋町", "730-0031", "中国", 2),
    Place("福岡県", "福岡市中央区天神", "810-0001", "九州", 4),
    Place("熊本県", "熊本市中央区手取本町", "860-0806", "九州", 1),
    Place("沖縄県", "那覇市久茂地", "900-0015", "沖縄", 1),
    Place("新潟県", "新潟市中央区万代", "950-0088", "中部", 1),
    Place("香川県", "高松市番町", "760-0017", "四国", 1),
)


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    price: int  # JPY
    weight_g: int


PRODUCTS: tuple[Product, ...] = (
    Product("TEA-HOJI-100", "有機ほうじ茶 100g", "tea", 1490, 120),
    Product("TEA-SENCHA-80", "八女煎茶 80g", "tea", 1980, 100),
    Product("TEA-MATCHA-30", "宇治抹茶 30g缶", "tea", 2800, 80),
    Product("KYUSU-TOKONAME", "常滑焼 急須 300ml", "ceramics", 6800, 650),
    Product("YUNOMI-HAGI-2", "萩焼 湯呑 ペア", "ceramics", 5400, 520),
    Product("TOWEL-IMABARI-F", "今治タオル フェイス 2枚組", "towel", 2640, 300),
    Product("TOWEL-IMABARI-B", "今治タオル バス", "towel", 4950, 650),
    Product("SOAP-YUZU", "柚子の石鹸", "skincare", 1320, 110),
    Product("LOTION-RICE-150", "米ぬか化粧水 150ml", "skincare", 3300, 220),
    Product("FUROSHIKI-M", "風呂敷 中判 藍染", "textile", 3850, 90),
    # Sized items: a return may exchange one for another size (same SKU family, see returns).
    Product("SAMUE-AI-S", "藍染 作務衣 S", "apparel", 12800, 900),
    Product("SAMUE-AI-M", "藍染 作務衣 M", "apparel", 12800, 950),
    Product("SAMUE-AI-L", "藍染 作務衣 L", "apparel", 12800, 1000),
    Product("TABI-SOCKS-S", "足袋ソックス 22-24cm", "apparel", 1650, 60),
    Product("TABI-SOCKS-M", "足袋ソックス 24-26cm", "apparel", 1650, 60),
    Product("TABI-SOCKS-L", "足袋ソックス 26-28cm", "apparel", 1650, 60),
)
#: Sizes sold out at every centre, so the returns portal shows an exchange that is not possible.
SOLD_OUT: frozenset[str] = frozenset({"SAMUE-AI-L"})

#: What goes with what in the shop's eyes: tea with a teapot and cups, towels with soap.
GOES_WITH: dict[str, tuple[str, ...]] = {
    "KYUSU-TOKONAME": ("TEA-HOJI-100", "TEA-SENCHA-80", "TEA-MATCHA-30"),
    "YUNOMI-HAGI-2": ("TEA-HOJI-100", "TEA-SENCHA-80", "KYUSU-TOKONAME"),
    "SOAP-YUZU": ("TOWEL-IMABARI-F", "TOWEL-IMABARI-B"),
    "FUROSHIKI-M": ("YUNOMI-HAGI-2", "TOWEL-IMABARI-F"),
}
#: A tile per category for the recommendations (inline, so the demo needs no image host).
TILE_COLOURS: dict[str, str] = {
    "tea": "#6b8e23",
    "ceramics": "#a0522d",
    "towel": "#5f9ea0",
    "skincare": "#daa520",
    "textile": "#2f4f7f",
    "apparel": "#3d5a40",
}


def _size(product: Product) -> str | None:
    """``SAMUE-AI-M`` → ``M``: sized items end in their size."""
    return product.sku.rsplit("-", 1)[-1] if product.category == "apparel" else None


def demo_catalog() -> list[dict[str, Any]]:
    """The brand's recommendation catalogue: every product, sized families as one item per size."""
    families: dict[str, list[Product]] = {}
    for product in PRODUCTS:
        key = product.sku.rsplit("-", 1)[0] if _size(product) else product.sku
        families.setdefault(key, []).append(product)
    catalog = []
    for key, members in families.items():
        first = members[0]
        colour = TILE_COLOURS[first.category].replace("#", "%23")
        item: dict[str, Any] = {
            "sku": key,
            "name": first.name.rsplit(" ", 1)[0] if _size(first) else first.name,
            "categories": [first.category],
            "accessory_for": list(GOES_WITH.get(key, ())),
            "price": first.price,
            "url": f"https://hinoki.example/products/{key.lower()}",
            "image_url": "data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' "
            f"width='160' height='160'><rect width='160' height='160' fill='{colour}'/></svg>",
        }
        if _size(first):
            item["variants"] = {_size(p): p.sku for p in members}
            item["size_category"] = first.category
        catalog.append(item)
    return catalog


#: Carrier code, service, share of parcels.
CARRIERS: tuple[tuple[str, str, float], ...] = (
    ("yamato", "takkyubin", 0.5),
    ("sagawa", "hikyaku", 0.3),
    ("japanpost", "yu-pack", 0.2),
)
#: What each carrier charges the brand (JPY) for a parcel within the centre's region, and per
#: region further away: Japan Post is the cheapest, Yamato the dearest.
RATES: dict[str, tuple[int, int]] = {
    "yamato": (930, 110),
    "sagawa": (860, 100),
    "japanpost": (780, 90),
}
#: Regions (as in :data:`PLACES`) in rough order along the archipelago, for distance-based rates.
REGION_ORDER: tuple[str, ...] = (
    "北海道",
    "東北",
    "関東",
    "中部",
    "関西",
    "中国",
    "四国",
    "九州",
    "沖縄",
)
TIME_SLOTS = (None, None, None, "morning", "14-16", "18-20", "19-21")
DELIVERY_OPTIONS = ("door", "door", "door", "leave_at_door", "leave_at_door", "convenience_store")


@dataclass(frozen=True)
class DemoCustomer:
    external_id: str
    name: str
    email: str
    phone: str
    place: Place
    locale: str


def make_customers(rng: random.Random, count: int) -> list[DemoCustomer]:
    customers = []
    weights = [p.weight for p in PLACES]
    for n in range(count):
        family = rng.randrange(len(FAMILY_NAMES))
        given = rng.choice(GIVEN_NAMES)
        place = rng.choices(PLACES, weights=weights)[0]
        customers.append(
            DemoCustomer(
                external_id=f"cust-{n + 1:05d}",
                name=f"{FAMILY_NAMES[family]} {given}",
                email=f"{ROMAJI[family]}.{n + 1}@example.jp",
                phone=f"090-{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}",
                place=place,
                locale="en" if rng.random() < 0.08 else "ja",
            )
        )
    return customers


@dataclass(frozen=True)
class Handover:
    """A parcel as the carrier receives it: what its label says."""

    at: datetime
    serial: int
    carrier: str
    origin_postal_code: str
    destination_postal_code: str
    store_pickup: bool


def _plain_number(handover: Handover) -> str:
    return f"{491200000000 + handover.serial}"


def demo_envelopes(
    *,
    seed: int = 7,
    orders: int = 300,
    now: datetime | None = None,
    days: int = 45,
    tracking_number: Callable[[Handover], str] = _plain_number,
) -> list[dict[str, Any]]:
    """Generic intake envelopes in time order: stock per centre, then ``order.created`` and ``shipment.created``.

    Orders are spread over the last ``days`` days; those from the last day are not shipped yet.
    ``tracking_number(handover)`` numbers the parcels; the demo passes the sandbox's, whose
    simulated journeys start at the hand-over time and follow the label's route.
    """
    rng = random.Random(seed)  # noqa: S311 (reproducible demo data, not a secret)
    now = now or datetime.now(UTC)
    customers = make_customers(rng, max(20, orders * 2 // 3))
    events: list[tuple[datetime, dict[str, Any]]] = inventory_envelopes(
        rng, now - timedelta(days=days + 1)
    )
    carrier_weights = [c[2] for c in CARRIERS]
    for n in range(orders):
        customer = rng.choice(customers)
        placed = now - timedelta(days=rng.uniform(0, days))
        lines: list[dict[str, Any]] = []
        for product in rng.sample(PRODUCTS, k=rng.choice((1, 1, 1, 2, 2, 3))):
            lines.append(
                {
                    "line_id": f"{n + 1}-{product.sku}",
                    "sku": product.sku,
                    "name": product.name,
                    "category": product.category,
                    "variant": _size(product),
                    "quantity": rng.choice((1, 1, 1, 2)),
                    "unit_price": product.price,
                }
            )
        subtotal = sum(line["unit_price"] * line["quantity"] for line in lines)
        shipping = 0 if subtotal >= 5000 else 660
        number = f"{10001 + n}"
        order_id = f"ord-{number}"
        address = {
            "name": customer.name,
            "postal_code": customer.place.postal_code,
            "region": customer.place.prefecture,
            "city": customer.place.city,
            "country": "JP",
        }
        events.append(
            (
                placed,
                {
                    "id": f"evt-{order_id}-created",
                    "type": "order.created",
                    "occurred_at": placed.isoformat(),
                    "data": {
                        "order_id": order_id,
                        "number": number,
                        "placed_at": placed.isoformat(),
                        "channel": rng.choice(("online", "online", "online", "app", "store")),
                        "currency": "JPY",
                        "total_amount": subtotal + shipping,
                        "shipping_amount": shipping,
                        "customer": {
                            "customer_id": customer.external_id,
                            "email": customer.email,
                            "phone": customer.phone,
                            "name": customer.name,
                            "locale": customer.locale,
                            "consent": {
                                "email": {"transactional": True, "marketing": rng.random() < 0.6}
                            },
                        },
                        "shipping_address": address,
                        "lines": lines,
                        # Every ninth order is a gift (by number, so the random draws stay as they were).
                        "attributes": {"gift": True} if n % 9 == 4 else {},
                    },
                },
            )
        )
        handed_over = carrier_pickup(rng, placed + timedelta(hours=rng.uniform(2, 20)))
        if handed_over > now:
            continue
        carrier, service, _ = rng.choices(CARRIERS, weights=carrier_weights)[0]
        weight = (
            sum(
                next(p.weight_g for p in PRODUCTS if p.sku == line["sku"]) * line["quantity"]
                for line in lines
            )
            + 150
        )
        far = customer.place.region in ("関西", "中国", "四国", "九州")
        centre = FULFILLMENT_CENTRES[1 if far and rng.random() < 0.7 else 0]
        option = rng.choice(DELIVERY_OPTIONS)
        handover = Handover(
            at=handed_over,
            serial=n,
            carrier=carrier,
            origin_postal_code=centre["postal_code"],
            destination_postal_code=customer.place.postal_code,
            store_pickup=option == "convenience_store",
        )
        events.append(
            (
                handed_over,
                {
                    "id": f"evt-{order_id}-shipped",
                    "type": "shipment.created",
                    "occurred_at": handed_over.isoformat(),
                    "data": {
                        "shipment_id": f"shp-{number}",
                        "order_id": order_id,
                        "fulfillment_centre": centre,
                        "carrier": carrier,
                        "service": service,
                        "tracking_number": tracking_number(handover),
                        "shipped_at": handed_over.isoformat(),
                        "weight_g": weight,
                        "cost": shipping_cost(
                            carrier, CENTRE_REGIONS[centre["code"]], customer.place.region, weight
                        ),
                        "currency": "JPY",
                        "time_slot": None if handover.store_pickup else rng.choice(TIME_SLOTS),
                        "delivery_option": option,
                        "lines": [
                            {"sku": line["sku"], "quantity": line["quantity"]} for line in lines
                        ],
                    },
                },
            )
        )
    events.sort(key=lambda pair: pair[0])
    return [envelope for _, envelope in events]


def carrier_pickup(rng: random.Random, ready: datetime) -> datetime:
    """When the carrier takes a parcel packed at ``ready``: its daily round at the centre, 14:00–19:00
    Japan time, to the minute (labels carry minutes)."""
    local = ready.astimezone(JST)
    day = local.date() + timedelta(days=1 if local.hour >= 18 else 0)
    pickup = max(
        datetime.combine(day, time(14), JST) + timedelta(minutes=rng.randrange(300)), ready
    )
    return pickup.astimezone(UTC).replace(second=0, microsecond=0)


def shipping_cost(carrier: str, origin_region: str, destination_region: str, weight_g: int) -> int:
    """The carrier's charge: a base rate, more per region further away and for heavy parcels."""
    base, per_region = RATES[carrier]
    distance = abs(REGION_ORDER.index(origin_region) - REGION_ORDER.index(destination_region))
    return base + per_region * distance + (220 if weight_g > 2000 else 0)


def inventory_envelopes(rng: random.Random, at: datetime) -> list[tuple[datetime, dict[str, Any]]]:
    """``inventory.updated`` per centre: most items in stock, :data:`SOLD_OUT` and a few others not."""
    envelopes = []
    for centre in FULFILLMENT_CENTRES:
        items = [
            {
                "sku": p.sku,
                "variant": _size(p),
                "available": 0
                if p.sku in SOLD_OUT or rng.random() < 0.08
                else rng.randrange(8, 160),
            }
            for p in PRODUCTS
        ]
        envelopes.append(
            (
                at,
                {
                    "id": f"evt-inventory-{centre['code']}",
                    "type": "inventory.updated",
                    "occurred_at": at.isoformat(),
                    "data": {"fc_code": centre["code"], "items": items},
                },
            )
        )
    return envelopes


FULFILLMENT_CENTRES: tuple[dict[str, Any], ...] = (
    {
        "code": "TOKYO-FC1",
        "name": "東京第1物流センター",
        "postal_code": "272-0002",
        "region": "千葉県",
        "city": "市川市",
        "street": "二俣新町20-1 第1物流棟",
        "phone": "047-000-1234",
    },
    {
        "code": "OSAKA-FC1",
        "name": "大阪物流センター",
        "postal_code": "559-0031",
        "region": "大阪府",
        "city": "大阪市住之江区",
        "street": "南港東9-1",
        "phone": "06-0000-5678",
    },
)
#: The region (as in :data:`PLACES`) of each centre, for rates.
CENTRE_REGIONS: dict[str, str] = {"TOKYO-FC1": "関東", "OSAKA-FC1": "関西"}


#: NPS comments of the demo's customers, by what happened to their parcel: a late parcel draws a
#: late complaint, a missed delivery a redelivery one; the others speak of the goods or praise.
#: (score range, comments) per situation.
COMMENTS: dict[str, tuple[tuple[int, int], tuple[str, ...]]] = {
    "late": (
        (0, 6),
        (
            "指定日に間に合わなかったので残念でした。",
            "配達が予定より遅れました。",
            "到着予定日を過ぎても届かず不安でした。",
            "届くまでかなり待ちました。",
        ),
    ),
    "failed_attempt": (
        (3, 7),
        (
            "不在票が入っていて再配達をお願いしました。",
            "在宅していたのに不在扱いでした。",
            "再配達の手続きが面倒でした。置き配にしてほしいです。",
        ),
    ),
    "other": (
        (6, 10),
        (
            "とても満足しています。また利用します。",
            "梱包がとても丁寧でした。",
            "サイズがぴったりでした。",
            "サイズが少し小さかったです。",
            "生地がしっかりしていて品質が良いです。",
            "色がきれいで気に入りました。",
            "問い合わせへの対応が親切でした。",
            "送料が少し高いと感じました。",
            "箱が大きすぎて過剰包装だと思います。",
            "Great quality, the fabric feels lovely.",
        ),
    ),
}


def demo_comment(rng: random.Random, *, late: bool, failed_attempt: bool) -> tuple[int, str]:
    """A score and comment for a delivered parcel, in keeping with what happened to it."""
    situation = "late" if late else "failed_attempt" if failed_attempt else "other"
    (low, high), texts = COMMENTS[situation]
    return rng.randint(low, high), rng.choice(texts)
