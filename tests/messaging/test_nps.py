"""One-click NPS: a score link in the email records the score, then the page offers a comment."""

from __future__ import annotations

import pytest
from sqlmodel import select

from postpurchase.models import Feedback
from postpurchase.tokens import make_token


@pytest.fixture
def survey(app, make_shop, session) -> str:
    """The path of the survey page of one delivered order (as the review email links it)."""
    shop = make_shop()
    session.commit()
    token = make_token(
        app.config["SECRET_KEY"],
        "feedback",
        {"b": shop.brand.id, "o": shop.order.id, "s": shop.shipment.id, "c": shop.customer.id},
    )
    return f"/acme/feedback/{token}"


def answers(session) -> list[tuple[int | None, str | None]]:
    session.expire_all()
    return [(f.nps_score, f.comment) for f in session.exec(select(Feedback)).all()]


def test_a_score_link_records_the_score_and_offers_a_comment(client, session, survey) -> None:
    page = client.get(survey + "?score=9&lang=en").get_data(as_text=True)
    assert answers(session) == [(9, None)]
    assert 'value="9" checked' in page and 'name="comment"' in page


def test_a_later_score_link_changes_the_same_answer(client, session, survey) -> None:
    client.get(survey + "?score=3")
    client.get(survey + "?score=8")
    assert answers(session) == [(8, None)]


def test_a_score_link_after_a_comment_keeps_the_comment(client, session, survey) -> None:
    client.post(survey, data={"score": "6", "comment": "箱が少しつぶれていました"})
    page = client.get(survey + "?score=7").get_data(as_text=True)
    assert answers(session) == [(7, "箱が少しつぶれていました")]
    assert "箱が少しつぶれていました" in page


def test_the_survey_names_both_ends_of_the_scale(client, survey) -> None:
    page = client.get(survey + "?lang=ja").get_data(as_text=True)
    assert "0 = 全く思わない" in page and "10 = 非常にそう思う" in page
    assert "<fieldset" in page and "<legend>" in page


def test_a_survey_posted_without_a_score_is_a_400_naming_the_field(client, survey) -> None:
    response = client.post(survey, data={"comment": "hi"})
    assert response.status_code == 400 and "score" in response.get_data(as_text=True)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_survey_fits_a_phone_and_has_no_serious_accessibility_problem(
    browser, live_server, shoot, axe, survey, lang
) -> None:
    browser.get(f"{live_server}{survey}?score=9&lang={lang}")
    shoot(f"nps-{lang}")
    assert axe() == []
    browser.set_window_size(390, 900)
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
