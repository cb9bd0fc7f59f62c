"""One complete, realistic example per event type, as a Japanese D2C brand's WMS would send it.

They are published in the OpenAPI document, and a test posts each of them exactly as written, so
they always work. Posted in the order of :data:`STORY` they tell one story: order #10234 is placed, changed,
shipped by Yamato in two parcels (個口), its delivery slot is changed, stock is updated, one
item comes back, and finally the shipment and the order are cancelled.
"""

from __future__ import annotations

from typing import Any

from postpurchase.intake.schemas import EventType

ORDER: dict[str, Any] = {
    "order_id": "SO-2026-10234",
    "number": "#10234",
    "placed_at": "2026-11-20T21:14:05+09:00",
    "channel": "online",
    "currency": "JPY",
    "total_amount": 12760,
    "shipping_amount": 0,
    "customer": {
        "customer_id": "C-58213",
        "email": "hanako.yamada@example.jp",
        "phone": "090-1234-5678",
        "name": "山田 花子",
        "locale": "ja",
        "consent": {
            "email": {"transactional": True, "marketing": False},
            "line": {"transactional": True, "marketing": True},
        },
        "attributes": {"tier": "ゴールド会員", "tags": ["リピーター"]},
    },
    "shipping_address": {
        "name": "山田 花子",
        "postal_code": "150-0001",
        "region": "東京都",
        "city": "渋谷区",
        "country": "JP",
    },
    "lines": [
        {
            "line_id": "1",
            "sku": "TEA-SENCHA-100",
            "variant": "100g",
            "name": "静岡 深蒸し煎茶 100g",
            "category": "日本茶",
            "quantity": 2,
            "unit_price": 1980,
            "final_sale": False,
        },
        {
            "line_id": "2",
            "sku": "CUP-HAGI-WHT",
            "variant": "白",
            "name": "萩焼 湯呑み 白",
            "category": "器",
            "quantity": 1,
            "unit_price": 4800,
            "final_sale": False,
        },
        {
            "line_id": "3",
            "sku": "SNACK-YOKAN-1",
            "name": "本練り羊羹 1本",
            "category": "和菓子",
            "quantity": 1,
            "unit_price": 4000,
            "final_sale": True,
        },
    ],
    "attributes": {"gift_wrapping": "のし紙（御歳暮）"},
}

EXAMPLES: dict[EventType, dict[str, Any]] = {
    EventType.order_created: {
        "id": "evt_01JD8Z3K2M9Q4TQ7N5X0ORDC",
        "type": "order.created",
        "occurred_at": "2026-11-20T21:14:06+09:00",
        "data": ORDER,
    },
    EventType.order_updated: {
        "id": "evt_01JD8ZB7V1C2R6W3K8Y4ORDU",
        "type": "order.updated",
        "occurred_at": "2026-11-20T22:03:40+09:00",
        "data": {
            **ORDER,
            "total_amount": 14740,
            "lines": [
                *ORDER["lines"],
                {
                    "line_id": "4",
                    "sku": "TEA-HOJI-50",
                    "variant": "50g",
                    "name": "京都 ほうじ茶 50g",
                    "category": "日本茶",
                    "quantity": 1,
                    "unit_price": 1980,
                },
            ],
        },
    },
    EventType.shipment_created: {
        "id": "evt_01JD9M0F4H7S2A8D6G1JSHPC",
        "type": "shipment.created",
        "occurred_at": "2026-11-21T14:32:10+09:00",
        "data": {
            "shipment_id": "SH-883201",
            "order_id": "SO-2026-10234",
            "fc_code": "ICHIKAWA-1",
            "fulfillment_centre": {
                "code": "ICHIKAWA-1",
                "name": "市川第1物流センター",
                "postal_code": "272-0002",
                "region": "千葉県",
                "city": "市川市",
                "street": "二俣新町20-1",
                "phone": "047-000-1234",
            },
            "carrier": "yamato",
            "service": "宅急便",
            "parcels": [
                {
                    "tracking_number": "4912-3456-7890",
                    "weight_g": 1450,
                    "cost": 930,
                    "lines": [
                        {"sku": "TEA-SENCHA-100", "quantity": 2, "line_id": "1"},
                        {"sku": "TEA-HOJI-50", "quantity": 1, "line_id": "4"},
                    ],
                },
                {
                    "tracking_number": "4912-3456-7901",
                    "weight_g": 820,
                    "cost": 930,
                    "lines": [
                        {"sku": "CUP-HAGI-WHT", "quantity": 1, "line_id": "2"},
                        {"sku": "SNACK-YOKAN-1", "quantity": 1, "line_id": "3"},
                    ],
                },
            ],
            "shipped_at": "2026-11-21T14:30:00+09:00",
            "currency": "JPY",
            "requested_date": "2026-11-23",
            "time_slot": "morning",
            "delivery_option": "leave_at_door",
            "destination": {"postal_code": "150-0001", "region": "東京都", "country": "JP"},
        },
    },
    EventType.shipment_updated: {
        "id": "evt_01JD9T6W8E3N5B1C7H2KSHPU",
        "type": "shipment.updated",
        "occurred_at": "2026-11-22T09:05:00+09:00",
        "data": {
            "shipment_id": "SH-883201",
            "requested_date": "2026-11-24",
            "time_slot": "19-21",
            "delivery_option": "door",
        },
    },
    EventType.shipment_cancelled: {
        "id": "evt_01JD9V2P5R8T0Y4U6I3OSHPX",
        "type": "shipment.cancelled",
        "occurred_at": "2026-11-22T10:12:00+09:00",
        "data": {
            "shipment_id": "SH-883201",
            "order_id": "SO-2026-10234",
            "cancelled_at": "2026-11-22T10:11:30+09:00",
            "reason": "出荷前に顧客都合でキャンセル",
        },
    },
    EventType.order_cancelled: {
        "id": "evt_01JDA0C3X6Z9L2M5N8B1ORDX",
        "type": "order.cancelled",
        "occurred_at": "2026-11-22T10:15:00+09:00",
        "data": {
            "order_id": "SO-2026-10234",
            "cancelled_at": "2026-11-22T10:14:00+09:00",
            "reason": "お客様都合",
        },
    },
    EventType.inventory_updated: {
        "id": "evt_01JD9W1Q3S5U7W9Y1A3CINVU",
        "type": "inventory.updated",
        "occurred_at": "2026-11-21T15:00:00+09:00",
        "data": {
            "fc_code": "ICHIKAWA-1",
            "items": [
                {"sku": "TEA-SENCHA-100", "variant": "100g", "available": 148},
                {"sku": "CUP-HAGI-WHT", "variant": "白", "available": 12},
                {"sku": "SNACK-YOKAN-1", "available": 0},
            ],
        },
    },
    EventType.return_received: {
        "id": "evt_01JDC4E7G0J3L6N9Q2T5RETR",
        "type": "return.received",
        "occurred_at": "2026-11-27T11:20:00+09:00",
        "data": {
            "rma_number": "RMA-20261127-0042",
            "order_id": "SO-2026-10234",
            "received_at": "2026-11-27T11:18:00+09:00",
            "carrier": "yamato",
            "tracking_number": "4912-3456-8123",
            "lines": [
                {
                    "sku": "CUP-HAGI-WHT",
                    "variant": "白",
                    "quantity": 1,
                    "reason_code": "damaged",
                    "condition": "欠けあり",
                    "comment": "届いた時点で縁が欠けていました",
                }
            ],
        },
    },
}

#: The order in which the examples tell their story.
STORY: tuple[EventType, ...] = (
    EventType.order_created,
    EventType.order_updated,
    EventType.shipment_created,
    EventType.shipment_updated,
    EventType.inventory_updated,
    EventType.return_received,
    EventType.shipment_cancelled,
    EventType.order_cancelled,
)
