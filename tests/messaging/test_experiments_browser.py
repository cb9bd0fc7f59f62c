"""The experiment page in a real browser, at phone and desktop widths, without serious
accessibility violations."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.by import By

from postpurchase.db import get_db
from postpurchase.experiments import operations
from postpurchase.messaging.catalogue import Trigger
from tests.browser import sign_in_merchant
from tests.messaging.conftest import NOW
from tests.messaging.test_experiments import _sign_in


def test_experiment_page_at_phone_and_desktop_widths(
    app, client, browser: Any, live_server: str, brand, shoot: Any, axe: Any
) -> None:
    _sign_in(app, client, brand.brand_id)
    with app.app_context():
        s = get_db(app).session()
        experiment = operations.create(
            session=s,
            brand_id=brand.brand_id,
            actor="test",
            name="件名テスト",
            trigger=Trigger.delivered,
            variants=[{"key": "control"}, {"key": "care_tips", "subject": "お手入れのコツ"}],
        )
        operations.start(session=s, experiment=experiment, actor="test", now=NOW)
        experiment_id = experiment.id
        s.commit()
        s.close()
    sign_in_merchant(browser, live_server)
    browser.get(f"{live_server}/merchant/experiments/{experiment_id}")
    assert "件名テスト" in browser.find_element(By.TAG_NAME, "h1").text
    assert all(path.stat().st_size > 1000 for path in shoot("experiment"))
    assert axe() == []
    browser.get(f"{live_server}/merchant/experiments/")
    assert all(path.stat().st_size > 1000 for path in shoot("experiments"))
    assert axe() == []
