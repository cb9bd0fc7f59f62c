"""``postpurchase demo``: a demo brand with a few hundred Japanese orders, then the service.

Everything goes through the production paths: the orders and parcels are intake events, the
parcels are tracked by the poll planner on the sandbox carrier (standing in for Yamato, Sagawa
and Japan Post, which cannot be reached from a demo), delivery dates are learned from the parcels
the sandbox delivers, and messages go to a local SMTP sink.

The demo's weeks are replayed in order on a simulated clock: each event is taken in at the moment
it happened, the planner polls every couple of hours and the delivery-date models are refitted
nightly. So a parcel's promise is made when it is handed over, from what the brand knew then, and
the insights compare that promise with what the carrier then did.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlmodel import Session, col, select

from carriers import sandbox
from carriers.status import Status
from postpurchase import clock, db
from postpurchase.branding import logo_file
from postpurchase.brands import create_brand, get_brand
from postpurchase.clock import utcnow
from postpurchase.config import running_app
from postpurchase.demo_data import Handover, demo_catalog, demo_comment, demo_envelopes
from postpurchase.models import Order, Shipment
from postpurchase.models.types import id_of
from postpurchase.returns.dropoffs import SAMPLE_DROPOFFS, import_dropoffs, parse_dropoffs
from postpurchase.settings.model import GENERAL_REASONS, SIZE_REASONS, stored, validate
from postpurchase.tracking.routing import configure_adapter

DEMO_USER = "demo@example.com"
#: Statuses of a parcel worth showing first: its route is half travelled.
ON_THE_WAY = (Status.in_transit, Status.out_for_delivery, Status.available_for_pickup)
DEMO_PASSWORD = "demo-password"  # noqa: S105 (the demo's published sign-in, README)


#: What each kind of product needs after it arrives (shown on the tracking page once delivered,
#: and in the unboxing message), by the demo products' categories.
DEMO_CARE: dict[str, dict[str, dict[str, str]]] = {
    "tea": {
        "ja": {
            "title": "おいしい淹れ方",
            "body": "開封後は密閉して冷暗所へ。80℃のお湯で1分蒸らしてください。",
        },
        "en": {
            "title": "How to brew",
            "body": "Keep sealed in a cool, dark place once opened. Steep 1 minute at 80 °C.",
        },
    },
    "ceramics": {
        "ja": {
            "title": "焼き物のお手入れ",
            "body": "初めてお使いになる前に、ぬるま湯で洗ってください。電子レンジ・食洗機は避けてください。",
        },
        "en": {
            "title": "Caring for your ceramics",
            "body": "Rinse in warm water before first use. Not for the microwave or the dishwasher.",
        },
    },
    "towel": {
        "ja": {
            "title": "今治タオルのお手入れ",
            "body": "最初に一度洗うと吸水性が増します。柔軟剤は控えめに。",
        },
        "en": {
            "title": "Caring for Imabari towels",
            "body": "Wash once before use: they absorb better. Go easy on fabric softener.",
        },
    },
    "skincare": {
        "ja": {
            "title": "お使いいただく前に",
            "body": "腕の内側で試してからお使いください。開封後は3か月以内にお使いください。",
        },
        "en": {
            "title": "Before you start",
            "body": "Try a little on your inner arm first. Use within three months of opening.",
        },
    },
    "textile": {
        "ja": {
            "title": "藍染めのお手入れ",
            "body": "色移りを防ぐため、はじめの数回は単独で手洗いしてください。",
        },
        "en": {
            "title": "Caring for indigo",
            "body": "Hand-wash on its own the first few times: indigo can bleed.",
        },
    },
    "apparel": {
        "ja": {"title": "藍染め衣類のお手入れ", "body": "裏返して単独で洗い、陰干ししてください。"},
        "en": {
            "title": "Caring for indigo clothing",
            "body": "Wash inside out on its own and dry in the shade.",
        },
    },
}


#: The demo brand's unboxing kits: a welcome for first orders, gift wrap for gifts, and a care
#: card with tea ware.
DEMO_KITS: list[dict[str, Any]] = [
    {
        "name": "welcome",
        "first_order": True,
        "inserts": ["LEAFLET-BREWING"],
        "samples": ["TEA-HOJI-5"],
        "card": {
            "ja": "{name}、はじめてのご注文ありがとうございます。おいしい一杯を。",
            "en": "Thank you for your first order, {name}. Enjoy your tea.",
        },
    },
    {
        "name": "gift",
        "gift": True,
        "gift_wrap": "noshi",
        "card": {"ja": "心ばかりの品をお届けします。", "en": "A small gift, with best wishes."},
    },
    {"name": "tea-ware-care", "categories": ["ceramics"], "inserts": ["CARE-CARD-CERAMICS"]},
]


#: What the demo shop calls its product categories (the codes are those of ``demo_data.PRODUCTS``).
DEMO_CATEGORY_NAMES: dict[str, dict[str, str]] = {
    "tea": {"ja": "お茶", "en": "tea"},
    "ceramics": {"ja": "茶器", "en": "tea ware"},
    "towel": {"ja": "今治タオル", "en": "Imabari towels"},
    "skincare": {"ja": "スキンケア", "en": "skincare"},
    "textile": {"ja": "風呂敷", "en": "furoshiki"},
    "apparel": {"ja": "藍染めの衣類", "en": "indigo clothing"},
}


def demo_settings(logo: str | None = None) -> dict[str, Any]:
    """The demo brand's settings, checked by the typed model as any brand's are (``logo``: the
    stored file name of its uploaded logo)."""
    document = {
        "carrier_routes": {"*": "sandbox"},
        "branding": {
            "color": "#3d5a40",
            "logo": logo,
            "shop_url": "https://hinoki.example/",
            "contact_url": "https://hinoki.example/contact",
            "faq_url": "https://hinoki.example/faq",
            "footer": "ひのき生活 · 東京都渋谷区神宮前1-2-3 · 03-1234-5678",
        },
        "messaging": {
            "sender": {
                "name": "ひのき生活",
                "email": "shop@hinoki.example",
                "address": "東京都渋谷区神宮前1-2-3",
                "contact": "03-1234-5678",
            },
            # No quiet hours (equal start and end), so the demo's mailbox fills at any hour.
            "quiet_hours": {"start": "00:00", "end": "00:00"},
            "care": {"sku": {}, "category": DEMO_CARE},
            "catalog": demo_catalog(),
        },
        "edd": {"promise_level": 0.9},
        "kitting": {"rules": DEMO_KITS},
        "category_names": DEMO_CATEGORY_NAMES,
        "returns": {
            # Tea is food (never back once delivered), soap and lotion come back only when the
            # shop is at fault, and only the clothes are asked about their size.
            "categories": [
                {"category": "tea", "food": True},
                {"category": "food", "food": True},
                {"category": "skincare", "hygiene": True},
                {"category": "apparel", "reasons": [*SIZE_REASONS, *GENERAL_REASONS]},
            ],
            # The clothes come in two price levels (samue, socks): without a price band a return of
            # one can be exchanged for the other, so the demo shows an exchange for another product.
            "exchange": {"other_products": True, "price_band_percent": None},
            "credit_bonus_percent": 10,
            # Convenience stores near the customer come from the sample drop-off table (load_demo).
            "methods": [
                "convenience_store",
                "carrier_office",
                "pickup",
                "post_office",
                "printed_label",
            ],
        },
    }
    return stored(validate(document))


def demo_logo() -> bytes:
    """The demo brand's logo: its name in white on the transparent header (Noto Sans CJK when
    installed, as on Debian with the PDF fonts; else a plain mark)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGBA", (240, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((4, 8, 52, 56), outline="white", width=4)
    draw.polygon([(28, 16), (42, 44), (14, 44)], fill="white")  # a cypress
    try:
        font = ImageFont.truetype("NotoSansCJK-Bold.ttc", 30)
    except OSError:
        try:
            font = ImageFont.truetype("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 30)
        except OSError:
            font = None
    if font is not None:
        draw.text((64, 10), "ひのき生活", font=font, fill="white")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def install_demo_logo(app: Flask, slug: str) -> str:
    """Store the demo logo where an upload in the console puts it; its stored file name."""
    data = demo_logo()
    name = f"{hashlib.sha256(data).hexdigest()}.png"
    path = logo_file(app.instance_path, slug, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return name


#: The sandbox's service profile per carrier the demo ships with (label digit, profile): Yamato is
#: the fastest with the fewest failed attempts, Sagawa misses the customer most often, Japan Post
#: is the cheapest (see ``demo_data.RATES``) and the slowest.
CARRIER_PROFILES: dict[str, tuple[int, sandbox.Profile]] = {
    "yamato": (
        1,
        sandbox.Profile(
            sandbox.Rates(attempt_fail=0.06, delay=0.03, exception=0.02, lost=0.3),
            extra_days=(0.85, 0.13, 0.02),
        ),
    ),
    "sagawa": (
        2,
        sandbox.Profile(
            sandbox.Rates(attempt_fail=0.22, delay=0.06, exception=0.05, lost=0.3),
            extra_days=(0.65, 0.28, 0.07),
        ),
    ),
    "japanpost": (
        3,
        sandbox.Profile(
            sandbox.Rates(attempt_fail=0.10, delay=0.10, exception=0.04, lost=0.3),
            extra_days=(0.40, 0.42, 0.18),
        ),
    ),
}
#: How often the replay runs the tracking planner, and how far back the demo's orders go.
POLL_EVERY = timedelta(hours=3)
DEMO_DAYS = 45


def use_demo_carriers(app: Flask) -> None:
    """Give the sandbox the carriers' profiles, so a parcel's label decides how its journey goes."""
    configure_adapter(app, sandbox.CODE, profiles=dict(CARRIER_PROFILES.values()))


def demo_tracking_number(handover: Handover) -> str:
    """A labelled sandbox number: the parcel's route, its carrier's profile, store pickup or not."""
    label = sandbox.Label(
        origin=handover.origin_postal_code,
        destination=handover.destination_postal_code,
        profile=CARRIER_PROFILES[handover.carrier][0],
        store_pickup=handover.store_pickup,
    )
    return sandbox.tracking_number(handover.at, handover.serial, label)


class SimulatedClock:
    """A clock the replay moves forward; the planner's pacing sleeps advance it instead of waiting."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def load_demo(
    app: Flask, *, slug: str, orders: int, seed: int, days: int = DEMO_DAYS
) -> int | None:
    """Create the demo brand and replay its weeks through intake and tracking; None if it exists already."""
    from postpurchase.accounts import add_merchant_user

    now = utcnow()
    start = now - timedelta(days=days + 2)
    with db.session_scope(app) as session:
        if get_brand(session=session, slug=slug) is not None:
            return None
        created = create_brand(
            session=session,
            slug=slug,
            name="ひのき生活",
            settings=demo_settings(install_demo_logo(app, slug)),
        )
        add_merchant_user(
            session=session,
            brand_id=created.brand_id,
            email=DEMO_USER,
            password=DEMO_PASSWORD,
            name="デモ担当",
        )
        brand_id = created.brand_id
        import_dropoffs(
            session=session,
            brand_id=brand_id,
            rows=parse_dropoffs(SAMPLE_DROPOFFS.read_text(encoding="utf-8")),
        )
        start_demo_experiment(session=session, brand_id=brand_id, now=start)
    envelopes = demo_envelopes(
        seed=seed, orders=orders, now=now, days=days, tracking_number=demo_tracking_number
    )
    replay(app, brand_id=brand_id, envelopes=envelopes, start=start, until=now)
    add_demo_comments(app, brand_id=brand_id, seed=seed, until=now)
    fit_demo_personas(app, brand_id=brand_id, now=now)
    return brand_id


def fit_demo_personas(app: Flask, *, brand_id: int, now: datetime) -> None:
    """Learn the demo customers' personas, so the segments page shows them at once (a brand fits
    its own with ``postpurchase personas fit``); a demo too small to learn from has none."""
    from postpurchase.personas.model import NotEnoughCustomers
    from postpurchase.personas.operations import fit_personas
    from postpurchase.profiles import refresh_brand_profiles

    with db.session_scope(app) as session:
        refresh_brand_profiles(session=session, brand_id=brand_id, now=now)
        try:
            made = fit_personas(session=session, brand_id=brand_id, actor="demo", now=now)
        except NotEnoughCustomers:
            return
    click.echo(f"personas: {len(made)}")


def add_demo_comments(app: Flask, *, brand_id: int, seed: int, until: datetime) -> None:
    """Answer the NPS survey for about half the delivered parcels (most of those that went wrong), a
    day after delivery, with a comment that fits what the parcel went through (so the VoC page links
    complaints to real facts)."""
    import random

    from postpurchase.messaging.operations import save_feedback
    from postpurchase.models import ShipmentFigures

    rng = random.Random(seed)  # noqa: S311 (reproducible demo data, not a secret)
    with db.session_scope(app) as session:
        delivered = session.exec(
            select(Shipment, ShipmentFigures)
            .join(ShipmentFigures, col(ShipmentFigures.shipment_id) == col(Shipment.id))
            .where(Shipment.brand_id == brand_id, col(Shipment.delivered_at).is_not(None))
            .order_by(col(Shipment.id))
        ).all()
        for shipment, facts in delivered:
            answered_at = (shipment.delivered_at or until) + timedelta(days=1)
            late = facts.promised and not facts.on_time
            failed_attempt = shipment.failed_attempts > 0
            # Customers whose parcel went wrong answer surveys far more often than the others.
            answers = 0.9 if late or failed_attempt else 0.5
            if rng.random() > answers or answered_at > until:
                continue
            score, comment = demo_comment(rng, late=late, failed_attempt=failed_attempt)
            save_feedback(
                session=session,
                data={"b": brand_id, "o": shipment.order_id, "s": shipment.id},
                score=score,
                comment=comment,
                now=answered_at,
            )


def start_demo_experiment(*, session: Session, brand_id: int, now: datetime) -> None:
    """One running experiment before the weeks are replayed, so its results come from them."""
    from postpurchase.experiments import operations
    from postpurchase.models.enums import Trigger

    experiment = operations.create(
        session=session,
        brand_id=brand_id,
        actor="demo",
        name="配送完了メール: 件名に「お手入れのコツ」",
        trigger=Trigger.delivered,
        variants=[
            {"key": "control", "weight": 50},
            {
                "key": "care_tips",
                "weight": 50,
                "subject": "お届けしました: 長く使うためのお手入れのコツ",
            },
        ],
    )
    operations.start(session=session, experiment=experiment, actor="demo", now=now)


def replay(
    app: Flask,
    *,
    brand_id: int,
    envelopes: Sequence[dict[str, Any]],
    start: datetime,
    until: datetime,
) -> None:
    """Take each event in at the moment it happened, polling, sending due messages and refitting
    as time passes in between (messages sent only at the end would be past their use: stale)."""
    from postpurchase.edd.service import refit_all
    from postpurchase.inbox import process_pending, receive
    from postpurchase.messaging.outbox import send_due
    from postpurchase.tracking.planner import poll_due

    use_demo_carriers(app)
    simulated = SimulatedClock(start)
    next_poll, next_fit = start, start + timedelta(days=1)
    failed = 0

    def run_until(moment: datetime) -> None:
        nonlocal next_poll, next_fit
        while next_poll <= moment:
            simulated.now = next_poll
            if next_poll >= next_fit:
                refit_all(app)
                next_fit += timedelta(days=1)
            poll_due(app, clock=simulated, sleep=simulated.sleep)
            send_due(app, now=simulated.now, sleep=simulated.sleep)
            next_poll = max(next_poll + POLL_EVERY, simulated.now)
        simulated.now = max(simulated.now, moment)

    with (
        clock.use(simulated),
        click.progressbar(envelopes, label="replaying demo weeks", file=None) as bar,
    ):
        for envelope in bar:
            run_until(datetime.fromisoformat(envelope["occurred_at"]))
            with db.session_scope(app) as session:
                receive(
                    session=session,
                    brand_id=brand_id,
                    source="wms",
                    external_id=envelope["id"],
                    raw_body=json.dumps(envelope, ensure_ascii=False).encode(),
                    event_type=envelope["type"],
                    now=simulated.now,
                )
            failed += process_pending(app, now=simulated.now).failed
        run_until(until)
    click.echo(f"replayed {len(envelopes)} events ({failed} failed)")


def catch_up_tracking(app: Flask, *, sleep: Callable[[float], None] = time.sleep) -> None:
    """Poll every parcel now so the demo opens with what happened since, then learn delivery dates from it.

    ``sleep`` paces the requests to the sandbox carrier; tests pass one that does not wait.
    """
    from sqlalchemy import update

    from postpurchase.edd.service import refit_all
    from postpurchase.models import Shipment
    from postpurchase.tracking.planner import poll_due

    use_demo_carriers(app)
    now = utcnow()
    with db.session_scope(app) as session:
        session.exec(
            update(Shipment).where(col(Shipment.next_poll_at) > now).values(next_poll_at=now)
        )
    report = poll_due(app, sleep=sleep)
    click.echo(f"tracking: {report}")
    refit_all(app)


@click.command("demo")
@click.option("--brand-slug", default="demo", show_default=True)
@click.option("--orders", default=300, show_default=True, type=click.IntRange(1, 20000))
@click.option("--seed", default=7, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--smtp-port", default=8025, show_default=True, type=int, help="Port of the local mail sink."
)
@click.option("--no-serve", is_flag=True, help="Load the data and exit.")
@with_appcontext
def demo(
    brand_slug: str, orders: int, seed: int, host: str, port: int, smtp_port: int, no_serve: bool
) -> None:
    """Fill a demo brand with realistic Japanese orders and parcels, then serve."""
    from postpurchase.commands import serve
    from postpurchase.messaging import sink
    from postpurchase.messaging.outbox import send_due

    app: Flask = running_app()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_port, BASE_URL=f"http://{host}:{port}")
    db.upgrade(str(app.config["DATABASE_URL"]))
    mail_dir = sink.mail_dir(app.instance_path)
    controller, _handler = sink.start(mail_dir, "127.0.0.1", smtp_port)
    loaded = load_demo(app, slug=brand_slug, orders=orders, seed=seed)
    if loaded is None:
        click.echo(f"brand {brand_slug!r} exists; serving its data")
    catch_up_tracking(app)
    report = send_due(app)
    click.echo(f"messages: {report}")
    base = f"http://{host}:{port}"
    with db.session_scope(app) as session:
        brand = get_brand(session=session, slug=brand_slug)
        on_the_way = session.exec(
            select(Order)
            .join(Shipment, col(Shipment.order_id) == col(Order.id))
            .where(
                col(Order.brand_id) == id_of(brand),
                col(Shipment.status).in_(ON_THE_WAY),
            )
            .order_by(col(Shipment.shipped_at).desc())
        ).first()
        returnable = session.exec(
            select(Order)
            .join(Shipment, col(Shipment.order_id) == col(Order.id))
            .where(
                col(Order.brand_id) == id_of(brand),
                Shipment.status == Status.delivered,
            )
            .order_by(col(Shipment.delivered_at).desc())
        ).first()
    click.echo("")
    click.echo(
        f"  tracking page   {base}/{brand_slug}/track   (a parcel on its way: {_example(on_the_way)})"
    )
    click.echo(
        f"  returns portal  {base}/{brand_slug}/returns   (a delivered order: {_example(returnable)})"
    )
    click.echo(
        f"  merchant pages  {base}/merchant/   ({DEMO_USER} / {DEMO_PASSWORD}): messages, returns, insights"
    )
    click.echo(f"  demo mailbox    {base}/merchant/messages/mailbox   (emails land in {mail_dir})")
    click.echo(f"  API             {base}/api/v1/openapi.json")
    if no_serve:
        controller.stop()
        return
    serve(app, host=host, port=port, scheduler=True)


def _example(order: Order | None) -> str:
    """How to look an order up on the customer pages: its number and postal code."""
    return f"{order.number}, postal code {order.shipping_postal_code}" if order else "-"
