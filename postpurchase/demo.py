"""``postpurchase demo``: a demo brand with a few hundred Japanese orders, then the service.

Everything goes through the production paths: the orders and parcels are intake events, the
parcels are tracked by the poll planner on the sandbox carrier (standing in for Yamato, Sagawa
and Japan Post, which cannot be reached from a demo), delivery dates are learned from the parcels
the sandbox delivers, and messages go to a local SMTP sink.
"""

from __future__ import annotations

import json
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlmodel import col, select

from carriers.sandbox import tracking_number
from postpurchase import db
from postpurchase.brands import create_brand, get_brand
from postpurchase.clock import utcnow
from postpurchase.demo_data import demo_envelopes
from postpurchase.models import Order, Shipment, ShipmentStatus

DEMO_USER = "demo@example.com"
DEMO_PASSWORD = "demo-password"


def demo_settings() -> dict[str, Any]:
    return {
        "carrier_routes": {"*": "sandbox"},
        "branding": {"color": "#3d5a40"},
        "messaging": {
            "sender": {"name": "ひのき生活", "email": "shop@hinoki.example", "address": "東京都渋谷区神宮前1-2-3",
                       "contact": "03-1234-5678"},
            # No quiet hours (equal start and end), so the demo's mailbox fills at any hour.
            "quiet_hours": {"start": "00:00", "end": "00:00"},
        },
        "edd": {"promise_level": 0.9},
    }


def load_demo(app: Flask, *, slug: str, orders: int, seed: int) -> int | None:
    """Create the demo brand and post its events through intake; None if the brand exists already."""
    from postpurchase.intake.inbox import process_pending, receive
    from postpurchase.web.merchant import add_merchant_user

    with db.session_scope(app) as session:
        if get_brand(session=session, slug=slug) is not None:
            return None
        created = create_brand(session=session, slug=slug, name="ひのき生活", settings=demo_settings())
        add_merchant_user(session=session, brand_id=created.brand_id, email=DEMO_USER, password=DEMO_PASSWORD,
                          name="デモ担当")
        brand_id = created.brand_id
    envelopes = demo_envelopes(seed=seed, orders=orders, now=utcnow(), tracking_number=tracking_number)
    with click.progressbar(envelopes, label="posting demo events", file=None) as bar:
        with db.session_scope(app) as session:
            for envelope in bar:
                receive(session=session, brand_id=brand_id, source="wms", external_id=envelope["id"],
                        raw_body=json.dumps(envelope, ensure_ascii=False).encode(), event_type=envelope["type"])
    stats = process_pending(app)
    click.echo(f"processed {stats.processed} events ({stats.failed} failed, {stats.deferred} deferred)")
    return brand_id


def catch_up_tracking(app: Flask) -> None:
    """Poll every parcel now so the demo opens with history, then learn delivery dates from it."""
    from sqlalchemy import update

    from postpurchase.edd.service import refit_all
    from postpurchase.models import Shipment
    from postpurchase.tracking.planner import poll_due

    now = utcnow()
    with db.session_scope(app) as session:
        session.exec(update(Shipment).where(Shipment.next_poll_at > now).values(next_poll_at=now))  # type: ignore[call-overload]
    report = poll_due(app)
    click.echo(f"tracking: {report}")
    refit_all(app)


@click.command("demo")
@click.option("--brand-slug", default="demo", show_default=True)
@click.option("--orders", default=300, show_default=True, type=click.IntRange(1, 20000))
@click.option("--seed", default=7, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--smtp-port", default=8025, show_default=True, type=int, help="Port of the local mail sink.")
@click.option("--no-serve", is_flag=True, help="Load the data and exit.")
@with_appcontext
def demo(brand_slug: str, orders: int, seed: int, host: str, port: int, smtp_port: int, no_serve: bool) -> None:
    """Fill a demo brand with realistic Japanese orders and parcels, then serve."""
    from postpurchase.cli import serve
    from postpurchase.messaging import sink
    from postpurchase.messaging.outbox import send_due

    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
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
        sample = session.exec(select(Order).where(Order.brand_id == brand.id)  # type: ignore[union-attr]
                              .order_by(col(Order.placed_at).desc()).offset(3)).first()
        returnable = session.exec(select(Order).join(Shipment, col(Shipment.order_id) == col(Order.id))
                                  .where(Order.brand_id == brand.id,  # type: ignore[union-attr]
                                         Shipment.status == ShipmentStatus.delivered)
                                  .order_by(col(Shipment.delivered_at).desc())).first()
    click.echo("")
    click.echo(f"  tracking page   {base}/{brand_slug}/track   (e.g. order {_example(sample)})")
    click.echo(f"  returns portal  {base}/{brand_slug}/returns   (a delivered order: {_example(returnable)})")
    click.echo(f"  merchant pages  {base}/merchant/   ({DEMO_USER} / {DEMO_PASSWORD}): messages, returns, insights")
    click.echo(f"  demo mailbox    {base}/merchant/messages/mailbox   (emails land in {mail_dir})")
    click.echo(f"  API             {base}/api/v1/openapi.json")
    if no_serve:
        controller.stop()
        return
    serve(app, host=host, port=port, scheduler=True)


def _example(order: Order | None) -> str:
    """How to look an order up on the customer pages: its number and postal code."""
    return f"{order.number}, postal code {order.shipping_postal_code}" if order else "-"
