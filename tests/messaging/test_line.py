"""LINE as a channel customers talk to: webhook signatures, follow/unfollow consent, account link,
Flex Messages, status answers, and the tracking page's LINE/SMS opt-in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from sqlmodel import select

from carriers.status import Status
from postpurchase import signals
from postpurchase.inbox.signing import Verdict, verify_line
from postpurchase.lookup import order_link_path
from postpurchase.messaging.catalogue import CATALOGUE
from postpurchase.messaging.line.flex import flex_message
from postpurchase.messaging.operations import queue_test_message
from postpurchase.messaging.optin import optin_token
from postpurchase.messaging.outbox import send_due
from postpurchase.models import AuditEntry, Channel, Customer, OutboxState, Shipment
from tests.messaging import line_fake
from tests.messaging.conftest import NOW
from tests.messaging.flex_schema import problems
from tests.messaging.helpers import messages

SECRET = "line-channel-secret"
USER = "U" + "4af4980629" * 3 + "ab"
OTHER_USER = "U" + "0123456789" * 3 + "cd"


@pytest.fixture
def line(app) -> Iterator[line_fake.FakeLine]:
    """The brand's LINE account, answered by a local fake of the Messaging API."""
    for fake in line_fake.serve():
        app.config.update(
            LINE_CHANNEL_TOKEN=line_fake.TOKEN,
            LINE_CHANNEL_SECRET=SECRET,
            LINE_BASE_URL=fake.base_url,
            LINE_BASIC_ID="@acme",
        )
        yield fake


def signature(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def post_events(client, line, brand_slug: str, *events: dict[str, Any]) -> Any:
    """Deliver a webhook body as LINE does; reply tokens in it become valid at the fake."""
    body = json.dumps({"destination": "Uacme", "events": list(events)}).encode()
    line.reply_tokens.update(e["replyToken"] for e in events if "replyToken" in e)
    return client.post(
        f"/webhooks/line/{brand_slug}",
        data=body,
        headers={"X-Line-Signature": signature(body), "Content-Type": "application/json"},
    )


def event(kind: str, user: str = USER, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "mode": "active",
        "timestamp": int(NOW.timestamp() * 1000),
        "source": {"type": "user", "userId": user},
        "webhookEventId": f"01H{kind.upper()}{len(json.dumps(fields))}",
        "deliveryContext": {"isRedelivery": False},
        **fields,
    }


def text(words: str, token: str, user: str = USER) -> dict[str, Any]:
    return event(
        "message", user, replyToken=token, message={"type": "text", "id": "1", "text": words}
    )


def link_customer(client, line, shop, *, everything: bool = False) -> None:
    """Walk LINE's account link for ``shop``'s order, as the customer would from the page."""
    token = optin_token(client.application.config["SECRET_KEY"], shop.brand.id, shop.order.id)
    start = client.get(f"/{shop.brand.slug}/line/start/{token}" + ("?all=1" if everything else ""))
    code = unquote(start.headers["Location"].split("/?", 1)[1])
    post_events(client, line, shop.brand.slug, text(code, f"rt-code-{shop.order.id}"))
    uri = line.replies()[-1].body["messages"][0]["template"]["actions"][0]["uri"]
    page = client.get(uri.removeprefix("https://pp.example"))
    nonce = parse_qs(urlsplit(page.headers["Location"]).query)["nonce"][0]
    post_events(
        client,
        line,
        shop.brand.slug,
        event(
            "accountLink",
            replyToken=f"rt-link-{shop.order.id}",
            link={"result": "ok", "nonce": nonce},
        ),
    )


# Signatures


def test_line_signature_matches_a_known_answer() -> None:
    body = b'{"destination":"U0123","events":[]}'
    # openssl dgst -sha256 -hmac line-channel-secret -binary | base64
    known = "DqJwnENfrQlJ3f3gOVFYUsNLL/PC/tuqIsLgbRHvlxs="
    assert verify_line(known, SECRET, body) == Verdict.ok


def test_line_signature_of_another_body_does_not_verify() -> None:
    known = "DqJwnENfrQlJ3f3gOVFYUsNLL/PC/tuqIsLgbRHvlxs="
    assert verify_line(known, SECRET, b'{"destination":"U0124","events":[]}') == Verdict.mismatch


def test_webhook_with_a_wrong_signature_is_a_401_naming_the_header(client, line, brand) -> None:
    body = b'{"destination":"U1","events":[]}'
    answer = client.post(
        f"/webhooks/line/{brand.slug}",
        data=body,
        headers={"X-Line-Signature": signature(body, "not-the-secret")},
    )
    assert answer.status_code == 401
    assert answer.json["error"]["details"][0]["loc"] == "header.X-Line-Signature"


def test_webhook_of_a_brand_without_a_line_secret_is_a_404(client, brand) -> None:
    body = b'{"destination":"U1","events":[]}'
    answer = client.post(
        f"/webhooks/line/{brand.slug}", data=body, headers={"X-Line-Signature": signature(body)}
    )
    assert answer.status_code == 404


def test_webhook_without_events_is_a_400_naming_the_body(client, line, brand) -> None:
    body = b'{"destination":"U1"}'
    answer = client.post(
        f"/webhooks/line/{brand.slug}", data=body, headers={"X-Line-Signature": signature(body)}
    )
    assert answer.status_code == 400
    assert answer.json["error"]["details"][0]["loc"] == "body"


def test_webhook_body_is_stored_through_the_inbox_once(client, line, brand) -> None:
    first = post_events(client, line, brand.slug, event("unfollow"))
    again = post_events(client, line, brand.slug, event("unfollow"))
    assert first.json["duplicate"] is False
    assert again.json == {**first.json, "duplicate": True}


# Follow / unfollow


def test_unfollow_turns_the_linked_customers_line_consent_off(
    client, line, make_shop, session
) -> None:
    shop = make_shop(line_user_id=USER)
    session.commit()
    post_events(client, line, shop.brand.slug, event("unfollow"))
    session.expire_all()
    consent = session.get(Customer, shop.customer.id).consent["line"]
    assert consent["transactional"] is False
    assert (consent["source"], consent["at"]) == ("line_unfollow", NOW.isoformat())


def test_unfollow_is_written_to_the_audit_log(client, line, make_shop, session) -> None:
    shop = make_shop(line_user_id=USER)
    session.commit()
    post_events(client, line, shop.brand.slug, event("unfollow"))
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "consent.line")).one()
    assert (entry.actor, entry.subject) == (f"line:{USER}", f"customer:{shop.customer.id}")


def test_follow_again_turns_line_consent_back_on(client, line, make_shop, session) -> None:
    shop = make_shop(line_user_id=USER, consent={"line": {"transactional": False}})
    session.commit()
    post_events(client, line, shop.brand.slug, event("follow", replyToken="rt-follow"))
    session.expire_all()
    assert session.get(Customer, shop.customer.id).consent["line"]["transactional"] is True


def test_follow_is_answered_once_with_its_reply_token(client, line, brand) -> None:
    post_events(client, line, brand.slug, event("follow", replyToken="rt-follow"))
    [reply] = line.replies()
    assert reply.body["replyToken"] == "rt-follow" and line.problems == []


# Account link


def test_link_code_from_the_page_gets_a_link_token_for_that_user(
    client, line, make_shop, session
) -> None:
    shop = make_shop()
    session.commit()
    link_customer(client, line, shop)
    [call] = line.on(f"/v2/bot/user/{USER}/linkToken")
    assert call.body is None and call.headers["authorization"] == f"Bearer {line_fake.TOKEN}"


def test_account_link_binds_the_line_user_to_the_orders_customer(
    client, line, make_shop, session
) -> None:
    shop = make_shop()
    session.commit()
    link_customer(client, line, shop)
    session.expire_all()
    customer = session.get(Customer, shop.customer.id)
    assert customer.line_user_id == USER
    assert customer.consent["line"]["source"] == "line_account_link"


def test_account_link_covers_this_orders_parcels_only(client, line, make_shop, session) -> None:
    shop = make_shop()
    session.commit()
    link_customer(client, line, shop)
    session.expire_all()
    consent = session.get(Customer, shop.customer.id).consent["line"]
    assert (consent["scope"], consent["shipments"]) == ("parcel", [shop.shipment.id])


def test_account_link_covers_every_order_when_the_customer_chooses_so(
    client, line, make_shop, session
) -> None:
    shop = make_shop()
    session.commit()
    link_customer(client, line, shop, everything=True)
    session.expire_all()
    assert session.get(Customer, shop.customer.id).consent["line"]["scope"] == "all"


def test_account_link_with_a_forged_nonce_binds_nobody(client, line, make_shop, session) -> None:
    shop = make_shop()
    session.commit()
    post_events(
        client,
        line,
        shop.brand.slug,
        event("accountLink", replyToken="rt-l", link={"result": "ok", "nonce": "forged-nonce"}),
    )
    session.expire_all()
    assert session.get(Customer, shop.customer.id).line_user_id is None


def test_account_link_nonce_expires_after_ten_minutes(
    client, line, make_shop, session, clock
) -> None:
    shop = make_shop()
    session.commit()
    token = optin_token(client.application.config["SECRET_KEY"], shop.brand.id, shop.order.id)
    page = client.get(f"/{shop.brand.slug}/line/link?linkToken=LT1&optin={token}")
    nonce = parse_qs(urlsplit(page.headers["Location"]).query)["nonce"][0]
    clock.advance(minutes=11)
    post_events(
        client,
        line,
        shop.brand.slug,
        event("accountLink", replyToken="rt-l", link={"result": "ok", "nonce": nonce}),
    )
    session.expire_all()
    assert session.get(Customer, shop.customer.id).line_user_id is None


def test_link_page_redirects_to_lines_account_link_dialog(client, line, make_shop, session) -> None:
    shop = make_shop()
    session.commit()
    token = optin_token(client.application.config["SECRET_KEY"], shop.brand.id, shop.order.id)
    page = client.get(f"/{shop.brand.slug}/line/link?linkToken=LT1&optin={token}")
    location = urlsplit(page.headers["Location"])
    assert (location.netloc, location.path) == ("access.line.me", "/dialog/bot/accountLink")
    assert parse_qs(location.query)["linkToken"] == ["LT1"]


def test_link_page_without_a_link_token_is_a_400(client, line, make_shop, session) -> None:
    shop = make_shop()
    session.commit()
    token = optin_token(client.application.config["SECRET_KEY"], shop.brand.id, shop.order.id)
    page = client.get(f"/{shop.brand.slug}/line/link?optin={token}&lang=en")
    assert page.status_code == 400 and "link token" in page.text


def test_link_page_of_another_brands_order_is_a_400(
    client, line, make_shop, make_brand, session
) -> None:
    other = make_brand(slug="other")
    shop = make_shop()
    session.commit()
    token = optin_token(client.application.config["SECRET_KEY"], shop.brand.id, shop.order.id)
    assert client.get(f"/{other.slug}/line/link?linkToken=LT&optin={token}").status_code == 400


# Flex Messages


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_every_trigger_renders_a_valid_flex_message(app, messaging, brand, session, locale) -> None:
    from postpurchase.models import Brand

    b = session.get(Brand, brand.brand_id)
    app.config["LINE_CHANNEL_TOKEN"] = "token"
    found = {}
    for trigger in CATALOGUE:
        row = queue_test_message(
            session=session,
            messaging=messaging,
            brand=b,
            trigger=trigger,
            channel=Channel.line,
            recipient=USER,
            locale=locale,
            now=NOW,
        )
        found[str(trigger)] = problems(row.payload["line_flex"])
    assert found == {str(trigger): [] for trigger in CATALOGUE}


def _context(stage: str, locale: str = "ja") -> dict[str, Any]:
    return {
        "locale": locale,
        "brand": {"name": "Acme", "color": "#1f4f8b"},
        "order": {"number": "#1001"},
        "tracking_page_url": "https://pp.example/acme/track/t",
        "returns_url": "https://pp.example/acme/returns/order/t",
        "shipment": {
            "stage": stage,
            "expected_day": "11月25日(水)",
            "time_slot": "19時〜21時",
            "tracking_number": "1234",
            "redelivery_url": "https://redeliver.example/?no=1234",
        },
    }


def _buttons(flex: dict[str, Any]) -> list[str]:
    return [b["action"]["uri"] for b in flex["contents"].get("footer", {}).get("contents", [])]


def test_flex_shows_the_expected_day_and_time_slot(app) -> None:
    with app.app_context():
        flex = flex_message(subject="発送しました", context=_context("in_transit"))
    shown = json.dumps(flex, ensure_ascii=False)
    assert "11月25日(水)" in shown and "19時〜21時" in shown and "お届け予定" in shown


def test_flex_after_a_missed_attempt_offers_redelivery(app) -> None:
    with app.app_context():
        flex = flex_message(subject="不在", context=_context("attempt_failed"))
    assert "https://redeliver.example/?no=1234" in _buttons(flex)


def test_flex_after_delivery_offers_a_return(app) -> None:
    with app.app_context():
        flex = flex_message(subject="Delivered", context=_context("delivered", "en"))
    assert _buttons(flex) == [
        "https://pp.example/acme/track/t",
        "https://pp.example/acme/returns/order/t",
    ]


def test_flex_alt_text_is_cut_to_400_characters(app) -> None:
    with app.app_context():
        flex = flex_message(subject="長" * 500, context=_context("in_transit"))
    assert len(flex["altText"]) == 400 and problems(flex) == []


def test_flex_validator_refuses_eleven_buttons_and_a_long_alt_text() -> None:
    button = {"type": "button", "action": {"type": "uri", "label": "x", "uri": "https://a.example"}}
    message = {
        "type": "flex",
        "altText": "a" * 401,
        "contents": {
            "type": "bubble",
            "footer": {"type": "box", "layout": "vertical", "contents": [button] * 11},
        },
    }
    assert problems(message) == ["$.altText: 1–400 characters", "$.contents: at most 10 buttons"]


def test_flex_validator_refuses_an_unknown_action_and_a_button_in_a_baseline_box() -> None:
    button = {"type": "button", "action": {"type": "open", "label": "x"}}
    message = {
        "type": "flex",
        "altText": "a",
        "contents": {
            "type": "bubble",
            "body": {"type": "box", "layout": "baseline", "contents": [button]},
        },
    }
    assert problems(message) == [
        "$.contents.body.contents[0]: a baseline box cannot hold a button",
        "$.contents.body.contents[0].action: unknown action type",
    ]


# Status answers


def test_status_question_is_answered_with_the_linked_customers_parcels(
    client, line, make_shop, session
) -> None:
    shop = make_shop(line_user_id=USER)
    session.commit()
    post_events(client, line, shop.brand.slug, text("注文状況を教えて", "rt-status"))
    answer = line.replies()[-1].body["messages"][0]["text"]
    assert shop.order.number in answer and "輸送中" in answer


def test_order_number_of_another_customer_is_not_answered(client, line, make_shop, session) -> None:
    mine = make_shop(line_user_id=USER)
    theirs = make_shop(line_user_id=OTHER_USER)
    session.commit()
    post_events(client, line, mine.brand.slug, text(theirs.order.number, "rt-n"))
    answer = line.replies()[-1].body["messages"][0]["text"]
    assert theirs.order.number not in answer and theirs.shipment.tracking_number not in answer


def test_status_question_from_an_unlinked_user_names_no_order(
    client, line, make_shop, session
) -> None:
    shop = make_shop(line_user_id=OTHER_USER)
    session.commit()
    post_events(client, line, shop.brand.slug, text("where is my order", "rt-x"))
    assert shop.order.number not in line.replies()[-1].body["messages"][0]["text"]


def test_status_answers_are_rate_limited_per_user(client, line, make_shop, session) -> None:
    shop = make_shop(line_user_id=USER)
    session.commit()
    for n in range(6):
        post_events(client, line, shop.brand.slug, text("注文状況", f"rt-{n}"))
    answers = [call.body["messages"][0]["text"] for call in line.replies()]
    assert len(answers) == 4 and shop.order.number not in answers[-1]


def test_a_reply_token_is_used_once(client, line, make_shop, session) -> None:
    shop = make_shop(line_user_id=USER)
    session.commit()
    post_events(client, line, shop.brand.slug, text("注文状況", "rt-1"), text("注文状況", "rt-2"))
    assert [c.body["replyToken"] for c in line.replies()] == ["rt-1", "rt-2"]
    assert line.problems == []


# The walk


def test_line_walk_follow_link_shipped_flex_status_and_unfollow(
    app, client, line, make_shop, session
) -> None:
    shop = make_shop(email="hanako@example.jp")
    later = Shipment(
        brand_id=shop.brand.id,
        order_id=shop.order.id,
        external_id="S-later",
        carrier_code="testpost",
        tracking_number="5555-0001",
        status=Status.info_received,
        shipped_at=NOW,
    )
    session.add(later)
    shop.configure(sender={}, triggers={"shipped": {"channels": ["line"]}})
    session.commit()
    page = client.get(
        order_link_path(app.config["SECRET_KEY"], shop.brand.slug, shop.brand.id, shop.order.id)
    )
    assert "LINEで配送状況を受け取る" in page.text
    start = re.search(r'action="(/[^"]+/line/start/[^"]+)"', page.text)[1]
    post_events(client, line, shop.brand.slug, event("follow", replyToken="rt-follow"))
    code = unquote(client.get(start).headers["Location"].split("/?", 1)[1])
    post_events(client, line, shop.brand.slug, text(code, "rt-code"))
    uri = line.replies()[-1].body["messages"][0]["template"]["actions"][0]["uri"]
    nonce = parse_qs(
        urlsplit(client.get(uri.removeprefix("https://pp.example")).headers["Location"]).query
    )["nonce"][0]
    post_events(
        client,
        line,
        shop.brand.slug,
        event("accountLink", replyToken="rt-link", link={"result": "ok", "nonce": nonce}),
    )

    session.expire_all()  # the webhook's own session bound the customer
    signals.shipment_created.send(
        shop.brand.id, session=session, shipment_id=shop.shipment.id, now=NOW
    )
    session.commit()
    send_due(app, now=NOW)
    [push] = line.pushes()
    assert push.body["to"] == USER and push.body["messages"][0]["type"] == "flex"
    assert problems(push.body["messages"][0]) == []
    assert push.headers["x-line-retry-key"]

    post_events(client, line, shop.brand.slug, text("注文状況", "rt-status"))
    status = line.replies()[-1]
    assert status.body["replyToken"] == "rt-status"
    assert shop.order.number in status.body["messages"][0]["text"]

    post_events(client, line, shop.brand.slug, event("unfollow"))
    session.expire_all()
    signals.shipment_created.send(shop.brand.id, session=session, shipment_id=later.id, now=NOW)
    session.commit()
    send_due(app, now=NOW)
    assert len(line.pushes()) == 1 and line.problems == []
    first, second = messages(session, "shipped")
    assert first.state == OutboxState.sent
    assert (second.state, second.reason) == (
        OutboxState.suppressed,
        {"why": "no_consent", "args": {"purpose": "transactional", "channel": "line"}},
    )


# The tracking page's opt-in block and SMS


TWILIO = {"TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "t", "TWILIO_FROM": "+15005550006"}


def _page(app, client, shop, lang: str = "ja") -> Any:
    path = order_link_path(app.config["SECRET_KEY"], shop.brand.slug, shop.brand.id, shop.order.id)
    return client.get(f"{path}?lang={lang}")


def _csrf(page_text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_text)[1]


def test_tracking_page_without_line_or_sms_shows_no_optin(app, client, make_shop, session) -> None:
    shop = make_shop()
    session.commit()
    assert "optin-heading" not in _page(app, client, shop).text


def test_tracking_page_offers_sms_updates_when_sms_is_set_up(
    app, client, make_shop, session
) -> None:
    app.config.update(TWILIO)
    shop = make_shop()
    session.commit()
    page = _page(app, client, shop, "en").text
    assert "Get delivery updates by SMS" in page and "on LINE" not in page


def test_sms_optin_with_a_landline_is_a_400_naming_the_phone(
    app, client, make_shop, session
) -> None:
    app.config.update(TWILIO)
    shop = make_shop()
    session.commit()
    page = _page(app, client, shop, "en")
    action = re.search(r'action="(/[^"]+/optin/sms/[^"]+)"', page.text)[1]
    answer = client.post(action, data={"csrf_token": _csrf(page.text), "phone": "03-1234-5678"})
    assert answer.status_code == 400 and "mobile phone number" in answer.text


def test_sms_optin_records_consent_for_this_parcel_with_source_and_time(
    app, client, make_shop, session
) -> None:
    app.config.update(TWILIO)
    shop = make_shop(phone=None)
    session.commit()
    page = _page(app, client, shop)
    action = re.search(r'action="(/[^"]+/optin/sms/[^"]+)"', page.text)[1]
    answer = client.post(action, data={"csrf_token": _csrf(page.text), "phone": "090-1111-2222"})
    assert answer.status_code == 200
    session.expire_all()
    customer = session.get(Customer, shop.customer.id)
    assert customer.phone == "+819011112222"
    assert customer.consent["sms"] == {
        "transactional": True,
        "marketing": False,
        "scope": "parcel",
        "shipments": [shop.shipment.id],
        "source": "tracking_page",
        "at": NOW.isoformat(),
    }


def test_sms_optin_for_one_parcel_does_not_cover_another_order(
    app, client, make_shop, session
) -> None:
    app.config.update(TWILIO)
    shop = make_shop(email=None)
    other = make_shop(customer=shop.customer)
    shop.configure(sender={}, triggers={"shipped": {"channels": ["sms"]}})
    session.commit()
    page = _page(app, client, shop)
    action = re.search(r'action="(/[^"]+/optin/sms/[^"]+)"', page.text)[1]
    client.post(action, data={"csrf_token": _csrf(page.text), "phone": "090-1111-2222"})
    session.expire_all()
    signals.shipment_created.send(
        shop.brand.id, session=session, shipment_id=other.shipment.id, now=NOW
    )
    session.commit()
    [message] = messages(session, "shipped")
    assert message.state == OutboxState.suppressed and "consent" in message.error


def test_sms_optin_without_the_form_token_is_refused(app, client, make_shop, session) -> None:
    app.config.update(TWILIO)
    shop = make_shop()
    session.commit()
    token = optin_token(app.config["SECRET_KEY"], shop.brand.id, shop.order.id)
    answer = client.post(f"/{shop.brand.slug}/optin/sms/{token}", data={"phone": "090-1111-2222"})
    assert answer.status_code in (400, 403)
