"""Merchant message log, preview, test send; open pixel and click redirect."""

from __future__ import annotations

import re

from flask_babel import refresh
from sqlmodel import select

from postpurchase import signals
from postpurchase.db import get_db
from postpurchase.messaging import sink
from postpurchase.messaging.catalogue import Trigger
from postpurchase.messaging.operations import queue_test_message
from postpurchase.messaging.outbox import send_due
from postpurchase.messaging.reasons import Why, because, reason_columns
from postpurchase.models import Brand, Channel, MessageEvent, Order, OutboxMessage, OutboxState
from postpurchase.profiles import current_profile, refresh_job, stored_profile
from postpurchase.web.merchant import add_merchant_user
from tests.messaging.conftest import NOW
from tests.messaging.helpers import failed_while_smtp_was_down, messages


def _sign_in(app, client, brand_id: int) -> str:
    with app.app_context():
        s = get_db(app).session()
        add_merchant_user(session=s, brand_id=brand_id, email="ops@acme.example", password="pw")
        s.commit()
        s.close()
    token = (
        re.search(rb'name="csrf_token" value="([^"]+)"', client.get("/merchant/login").data)
        .group(1)
        .decode()
    )
    client.post(
        "/merchant/login", data={"csrf_token": token, "email": "ops@acme.example", "password": "pw"}
    )
    page = client.get(
        "/merchant/messages/"
    ).data  # signing in starts a new session with a new token
    return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()


def _shipped(shop, session):
    """``shop`` after its parcel was created: its shipped message waits in the outbox."""
    signals.shipment_created.send(
        shop.brand.id, session=session, shipment_id=shop.shipment.id, now=NOW
    )
    session.commit()
    return shop


def test_message_log_needs_a_signed_in_merchant(client) -> None:
    assert client.get("/merchant/messages/").status_code == 302


def test_message_log_filters_by_order_number(app, client, make_shop, session) -> None:
    first, second = make_shop(), make_shop()
    for shop in (first, second):
        _shipped(shop, session)
    _sign_in(app, client, first.brand.id)
    page = client.get("/merchant/messages/", query_string={"order": first.order.number}).get_data(
        as_text=True
    )
    assert page.count('data-state="pending"') == 1


def test_message_log_shows_the_subject_of_a_message_not_yet_sent(
    app, client, make_shop, session
) -> None:
    shop = _shipped(make_shop(), session)
    _sign_in(app, client, shop.brand.id)
    page = client.get("/merchant/messages/").get_data(as_text=True)
    assert 'data-state="pending"' in page and "発送しました" in page


def test_message_log_speaks_the_merchants_language_and_time(
    app, client, make_shop, session
) -> None:
    shop = _shipped(make_shop(), session)
    _sign_in(app, client, shop.brand.id)
    row = re.search(
        r'<tr data-state="pending">(.*?)</tr>',
        client.get("/merchant/messages/", headers={"Accept-Language": "ja"}).get_data(as_text=True),
    ).group(1)
    assert "<td>発送</td>" in row and "<td>メール</td>" in row and ">送信待ち</td>" in row
    assert re.search(
        r"<td>\d+月\d+日\(.\) \d+:\d\d</td>", row
    )  # e.g. 11月24日(火) 12:00, local time


def test_merchant_home_links_to_the_message_log(app, client, brand) -> None:
    _sign_in(app, client, brand.brand_id)
    assert 'href="/merchant/messages/"' in client.get("/merchant/").get_data(as_text=True)


def _shipped_email_pixel_and_link(app, session, shop, inbox) -> tuple[str, str]:
    """Send the shop's shipped email; the paths of its open pixel and its first tracked link."""
    _shipped(shop, session)
    send_due(app, now=NOW)
    html = inbox.messages[0].get_body(("html",)).get_content()
    pixel = re.search(r'src="https://pp.example(/m/o/[^"]+)"', html).group(1)
    link = re.search(r'href="https://pp.example(/m/c/[^"]+)"', html).group(1)
    return pixel, link


def test_open_pixel_and_click_redirect_are_counted_in_the_log(
    app, client, make_shop, session, inbox
) -> None:
    shop = make_shop()
    pixel, link = _shipped_email_pixel_and_link(app, session, shop, inbox)
    assert client.get(pixel).mimetype == "image/gif"
    response = client.get(link)
    assert response.status_code == 302 and response.headers["Location"].startswith(
        "https://pp.example/acme/track/"
    )
    kinds = sorted(e.kind for e in session.exec(select(MessageEvent)).all())
    assert kinds == ["click", "open"]
    _sign_in(app, client, shop.brand.id)
    row = re.search(
        r'<tr data-state="sent">(.*?)</tr>',
        client.get("/merchant/messages/").get_data(as_text=True),
    )
    assert "<td>1</td><td>1</td>" in row.group(1)


def test_an_open_and_a_click_show_in_the_customers_profile_at_once_and_are_stored_by_the_job(
    app, client, make_shop, session, inbox
) -> None:
    shop = make_shop()
    pixel, link = _shipped_email_pixel_and_link(app, session, shop, inbox)
    client.get(pixel)
    client.get(link)
    session.expire_all()
    ids = {"session": session, "brand_id": shop.brand.id, "customer_id": shop.customer.id}
    profile = current_profile(**ids, now=NOW)
    assert (profile.opens, profile.clicks) == (1, 1)
    session.rollback()
    refresh_job(app)
    session.expire_all()
    profile = stored_profile(**ids)
    assert (profile.opens, profile.clicks) == (1, 1)


def test_click_redirect_refuses_a_forged_token(client) -> None:
    assert client.get("/m/c/forged").status_code == 404


def test_preview_renders_sample_data_in_english(app, client, brand) -> None:
    _sign_in(app, client, brand.brand_id)
    page = client.get("/merchant/messages/preview?trigger=arriving_tomorrow&locale=en").get_data(
        as_text=True
    )
    assert "Arriving tomorrow" in page and "morning (8:00–12:00)" in page


def test_preview_renders_a_real_parcel(app, client, make_shop, session) -> None:
    shop = make_shop()
    session.commit()
    _sign_in(app, client, shop.brand.id)
    page = client.get(
        f"/merchant/messages/preview?trigger=shipped&shipment_id={shop.shipment.id}"
    ).get_data(as_text=True)
    assert shop.shipment.tracking_number in page


def test_preview_rejects_an_unknown_trigger(app, client, brand) -> None:
    _sign_in(app, client, brand.brand_id)
    assert client.get("/merchant/messages/preview?trigger=nope").status_code == 400


def test_test_send_needs_csrf_and_then_sends(app, client, brand, session, inbox) -> None:
    token = _sign_in(app, client, brand.brand_id)
    form = {
        "trigger": "shipped",
        "channel": "email",
        "locale": "en",
        "recipient": "me@acme.example",
    }
    assert client.post("/merchant/messages/test", data=form).status_code == 400
    assert (
        client.post("/merchant/messages/test", data={**form, "csrf_token": token}).status_code
        == 302
    )
    assert send_due(app, now=NOW).sent == 1
    assert inbox.messages[0]["To"] == "me@acme.example"
    assert session.exec(select(OutboxMessage)).one().trigger == Trigger.shipped


def test_console_sends_one_failed_message_again_with_csrf(
    app, client, make_shop, session, inbox
) -> None:
    first, _second = failed_while_smtp_was_down(app, make_shop, session)
    token = _sign_in(app, client, first.brand_id)
    assert f'action="/merchant/messages/{first.id}/retry"' in client.get(
        "/merchant/messages/"
    ).get_data(as_text=True)
    assert client.post(f"/merchant/messages/{first.id}/retry").status_code == 400
    assert (
        client.post(f"/merchant/messages/{first.id}/retry", data={"csrf_token": token}).status_code
        == 302
    )
    assert [m.state for m in messages(session, Trigger.shipped)] == [
        OutboxState.pending,
        OutboxState.failed,
    ]
    assert send_due(app, now=NOW).sent == 1 and len(inbox.messages) == 1


def test_console_retry_refuses_a_message_that_did_not_fail(
    app, client, make_shop, session, inbox
) -> None:
    shop = _shipped(make_shop(), session)
    send_due(app, now=NOW)
    token = _sign_in(app, client, shop.brand.id)
    sent = messages(session, Trigger.shipped)[0]
    assert (
        client.post(f"/merchant/messages/{sent.id}/retry", data={"csrf_token": token}).status_code
        == 400
    )


def test_console_retry_of_another_brands_message_is_a_404(
    app, client, make_brand, make_shop, session
) -> None:
    [message] = failed_while_smtp_was_down(app, make_shop, session, count=1)
    other = make_brand("other")
    token = _sign_in(app, client, other.brand_id)
    assert (
        client.post(
            f"/merchant/messages/{message.id}/retry", data={"csrf_token": token}
        ).status_code
        == 404
    )
    assert messages(session, Trigger.shipped)[0].state == OutboxState.failed


def test_console_sends_every_failed_message_in_the_filter_again(
    app, client, make_shop, session
) -> None:
    first, second = failed_while_smtp_was_down(app, make_shop, session)
    token = _sign_in(app, client, first.brand_id)
    order = session.get(Order, second.order_id)
    response = client.post(
        "/merchant/messages/retry", data={"csrf_token": token, "order": order.number}
    )
    assert response.status_code == 302 and "order=%23" in response.headers["Location"]
    assert [m.state for m in messages(session, Trigger.shipped)] == [
        OutboxState.failed,
        OutboxState.pending,
    ]


def test_message_log_with_an_unknown_state_is_a_400_naming_state(app, client, brand) -> None:
    _sign_in(app, client, brand.brand_id)
    response = client.get("/merchant/messages/?state=x")
    assert response.status_code == 400 and "state: must be one of" in response.get_data(
        as_text=True
    )


def test_preview_with_a_30_digit_shipment_id_is_a_400_naming_it(app, client, brand) -> None:
    _sign_in(app, client, brand.brand_id)
    response = client.get("/merchant/messages/preview", query_string={"shipment_id": "1" * 30})
    assert response.status_code == 400 and "shipment_id" in response.get_data(as_text=True)


def test_preview_of_another_brands_parcel_is_a_404(
    app, client, make_shop, make_brand, session
) -> None:
    shop = make_shop()
    session.commit()
    other = make_brand("beta")
    _sign_in(app, client, other.brand_id)
    response = client.get(f"/merchant/messages/preview?shipment_id={shop.shipment.id}")
    assert response.status_code == 404 and shop.shipment.tracking_number not in response.get_data(
        as_text=True
    )


def test_test_send_in_an_unsupported_locale_is_a_400_naming_locale(app, client, brand) -> None:
    token = _sign_in(app, client, brand.brand_id)
    response = client.post(
        "/merchant/messages/test",
        data={
            "trigger": "shipped",
            "recipient": "me@acme.example",
            "locale": "xx",
            "csrf_token": token,
        },
    )
    assert response.status_code == 400 and "locale: must be one of ja, en" in response.get_data(
        as_text=True
    )


def test_mailbox_shows_only_the_signed_in_brands_mail(
    app, client, brand, make_brand, session, smtp_port, messaging
) -> None:
    beta = make_brand("beta")
    for brand_id, recipient in (
        (brand.brand_id, "ops@acme.example"),
        (beta.brand_id, "ops@beta.example"),
    ):
        queue_test_message(
            session=session,
            messaging=messaging,
            brand=session.get(Brand, brand_id),
            trigger=Trigger.shipped,
            channel=Channel.email,
            recipient=recipient,
            locale="en",
            now=NOW,
        )
    session.commit()
    controller, _handler = sink.start(sink.mail_dir(app.instance_path), port=smtp_port)
    try:
        assert send_due(app, now=NOW).sent == 2
    finally:
        controller.stop()
    _sign_in(app, client, brand.brand_id)
    page = client.get("/merchant/messages/mailbox").get_data(as_text=True)
    assert "ops@acme.example" in page and "ops@beta.example" not in page


def test_the_log_says_why_a_message_was_not_sent_in_the_merchants_language(
    app, client, make_shop, session
) -> None:
    shop = _shipped(make_shop(), session)
    message = only_message(session)
    reason = because(Why.no_consent, purpose="marketing", channel=Channel.email)
    for name, value in {"state": OutboxState.suppressed, **reason_columns(reason)}.items():
        setattr(message, name, value)
    session.commit()
    _sign_in(app, client, shop.brand.id)

    def reason_cell(language: str) -> str:
        refresh()  # the test's app context would keep the first request's locale
        page = client.get("/merchant/messages/", query_string={"lang": language})
        row = re.search(r'<tr data-state="suppressed">(.*?)</tr>', page.get_data(as_text=True))
        state = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), flags=re.S)[5]
        return re.search(r'<span class="muted">(.*?)</span>', state).group(1)

    assert reason_cell("ja") == "メールでの「おすすめ・レビュー依頼」に同意がありません。"
    assert reason_cell("en") == "No consent to &#34;Offers and review requests&#34; on Email."


def only_message(session) -> OutboxMessage:
    (message,) = session.exec(select(OutboxMessage)).all()
    return message
