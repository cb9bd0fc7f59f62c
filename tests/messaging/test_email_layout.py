"""Every customer email, in both languages, follows the rules of an email that works on a phone.

Rendered with the sample data of the merchant's preview (each trigger, ja and en) and checked the
way an email client sees it: table layout no wider than 600 px, no external CSS, absolute links,
buttons instead of raw URLs, alt text, a plain-text part, and every tracking link pointing at the
brand's own tracking page on this service.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from sqlmodel import Session

from postpurchase.branding import branding_for
from postpurchase.clock import utcnow
from postpurchase.messaging import operations
from postpurchase.messaging.catalogue import CATALOGUE, Trigger
from postpurchase.messaging.channels.base import Envelope
from postpurchase.messaging.channels.email import build_email
from postpurchase.messaging.render import Rendered
from postpurchase.messaging.settings import MessagingSettings
from postpurchase.models import Brand, Channel

CUSTOMER_TRIGGERS = [trigger for trigger in Trigger if trigger in CATALOGUE]
#: Punctuation that belongs to Japanese text only.
JAPANESE_PUNCTUATION = re.compile("[\u301c\uff5e\u3002\u3001\u300c\u300d\uff08\uff09]")


class Parsed(HTMLParser):
    """Tags with their attributes, and each link's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.links: list[tuple[str, str]] = []
        self._link: list[str] | None = None
        self._href = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.tags.append((tag, values))
        if tag == "a":
            self._link, self._href = [], values.get("href", "")

    def handle_data(self, data: str) -> None:
        if self._link is not None:
            self._link.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._link is not None:
            self.links.append((self._href, "".join(self._link).strip()))
            self._link = None


def parse(html: str) -> Parsed:
    parsed = Parsed()
    parsed.feed(html)
    return parsed


def render(
    session: Session, messaging: MessagingSettings, brand_id: int, trigger: str, locale: str
) -> Rendered:
    brand = session.get(Brand, brand_id)
    now = utcnow()
    return operations.preview(
        session=session,
        messaging=messaging,
        brand=brand,
        trigger=trigger,
        locale=locale,
        channel=Channel.email,
        today=now.date(),
        now=now,
    )


#: An uploaded logo's stored name (the hash of its bytes).
LOGO = "ab" * 32 + ".png"


@pytest.fixture
def branded(session: Session, brand) -> int:
    row = session.get(Brand, brand.brand_id)
    row.settings = {
        **row.settings,
        "branding": {"color": "#3d5a40", "logo": LOGO, "footer": "Acme · Tokyo"},
        "messaging": {
            "sender": {
                "name": "Acme",
                "email": "hello@acme.example",
                "address": "Tokyo",
                "contact": "hello@acme.example",
            }
        },
    }
    session.add(row)
    session.commit()
    return row.id


@pytest.fixture(params=["ja", "en"])
def locale(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def emails(session, messaging, branded) -> dict[tuple[str, str], Rendered]:
    """Every customer email in both languages, by (trigger, locale)."""
    return {
        (trigger, locale): render(session, messaging, branded, trigger, locale)
        for trigger in CUSTOMER_TRIGGERS
        for locale in ("ja", "en")
    }


def test_every_email_has_its_own_html_and_a_text_part(
    emails: dict[tuple[str, str], Rendered],
) -> None:
    for email in emails.values():
        assert email.html and "<table" in email.html
        assert email.text.strip()


def test_no_email_is_wider_than_600_px(emails: dict[tuple[str, str], Rendered]) -> None:
    for email in emails.values():
        parsed = parse(email.html)
        widths = [
            int(attrs["width"]) for _, attrs in parsed.tags if attrs.get("width", "").isdigit()
        ]
        styled = [int(px) for px in re.findall(r"(?<![-\w])width:\s*(\d+)px", email.html)]
        assert max(widths + styled) <= 600


def test_no_email_loads_external_css(emails: dict[tuple[str, str], Rendered]) -> None:
    for email in emails.values():
        parsed = parse(email.html)
        assert not [attrs for tag, attrs in parsed.tags if tag == "link"]
        assert "@import" not in email.html


def test_every_link_and_image_of_an_email_is_absolute(
    emails: dict[tuple[str, str], Rendered],
) -> None:
    for email in emails.values():
        parsed = parse(email.html)
        targets = [
            attrs[name] for _, attrs in parsed.tags for name in ("href", "src") if name in attrs
        ]
        assert targets
        assert all(re.match(r"^https?://", target) for target in targets), targets


def test_no_email_shows_a_raw_url_as_link_text(emails: dict[tuple[str, str], Rendered]) -> None:
    for email in emails.values():
        assert not [text for _, text in parse(email.html).links if re.search(r"https?://", text)]


def test_every_image_of_an_email_has_alt_text(emails: dict[tuple[str, str], Rendered]) -> None:
    for email in emails.values():
        images = [attrs for tag, attrs in parse(email.html).tags if tag == "img"]
        assert images  # the brand's logo
        assert all(attrs.get("alt", "").strip() for attrs in images)


def test_tracking_links_go_to_the_brands_own_tracking_page(
    emails: dict[tuple[str, str], Rendered], messaging: MessagingSettings
) -> None:
    for email in emails.values():
        own = f"{messaging.base_url}/acme/track/"
        hrefs = [href for href, _ in parse(email.html).links]
        assert not [href for href in hrefs if "carrier.example/track" in href]
        tracking = [href for href in hrefs if "/track" in href]
        assert all(href.startswith(own) for href in tracking), tracking
        for href in tracking:
            assert href in email.text  # the plain-text part has the same link


def test_the_header_carries_the_brands_logo_and_colour(
    emails: dict[tuple[str, str], Rendered],
) -> None:
    for email in emails.values():
        header = parse(email.html).tags
        logo = next(attrs for tag, attrs in header if tag == "img")
        assert logo["src"] == f"https://pp.example/acme/logo/{LOGO}" and logo["alt"] == "Acme"
        assert 'bgcolor="#3d5a40"' in email.html


def test_english_emails_have_no_japanese_punctuation(
    emails: dict[tuple[str, str], Rendered],
) -> None:
    found = {
        trigger: JAPANESE_PUNCTUATION.findall(email.subject + email.text + email.html)
        for (trigger, locale), email in emails.items()
        if locale == "en"
    }
    assert {trigger: marks for trigger, marks in found.items() if marks} == {}


def test_the_failed_attempt_subject_uses_the_carriers_words(session, messaging, branded) -> None:
    rendered = render(session, messaging, branded, Trigger.attempt_fail, "ja")
    assert rendered.subject == "ご不在のためお届けできませんでした"
    assert "持ち帰" not in rendered.text + rendered.html


def test_the_nps_email_holds_one_link_per_score(session, messaging, branded, locale) -> None:
    rendered = render(session, messaging, branded, Trigger.review_request, locale)
    links = parse(rendered.html).links
    scores = [(href, text) for href, text in links if "/feedback/" in href]
    assert [text for _, text in scores] == [str(n) for n in range(11)]
    assert all(href.endswith(f"?score={n}") for n, (href, _) in enumerate(scores))


def test_an_email_is_sent_as_text_and_html_alternatives(session, messaging, branded) -> None:
    rendered = render(session, messaging, branded, Trigger.shipped, "ja")
    message = build_email(
        Envelope(
            message_id=1,
            brand_slug="acme",
            channel=Channel.email,
            recipient="hanako@example.jp",
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            idempotency_key="k",
            sender_name="Acme",
            sender_email="hello@acme.example",
        )
    )
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]


def test_a_light_brand_colour_gets_dark_text() -> None:
    light = Brand(slug="x", name="X", settings={"branding": {"color": "#f5d90a"}})
    dark = Brand(slug="y", name="Y", settings={"branding": {"color": "#3d5a40"}})
    assert branding_for(light).on_color == "#1b1b1b"
    assert branding_for(dark).on_color == "#ffffff"


def test_a_colour_that_is_not_a_hex_colour_is_ignored() -> None:
    brand = Brand(slug="x", name="X", settings={"branding": {"color": "red;background:url(x)"}})
    assert branding_for(brand).color == "#1f4f8b"


@pytest.mark.parametrize(
    ("trigger", "locale"),
    [
        (Trigger.shipped, "ja"),
        (Trigger.review_request, "ja"),
        (Trigger.attempt_fail, "en"),
        (Trigger.order_confirmed, "en"),
    ],
)
def test_emails_fit_a_390_px_phone(
    browser, shoot, session, messaging, branded, trigger, locale
) -> None:
    rendered = render(session, messaging, branded, trigger, locale)
    browser.get("data:text/html;charset=utf-8," + quote(rendered.html))
    shoot(f"email-{trigger}-{locale}", widths=(390,))
    dark = {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", dark)
    shoot(f"email-{trigger}-{locale}-dark", widths=(390,))
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    browser.set_window_size(390, 900)
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
