"""Browser fixtures: the app behind a real HTTP server, driven by Debian's headless Chromium.

Use them from any test module::

    def test_tracking_page_at_every_width(browser, live_server, shoot, axe):
        browser.get(live_server + "/track")
        shoot("track-lookup")          # one screenshot per width in SCREENSHOT_WIDTHS
        assert axe() == []             # serious and critical accessibility violations

Screenshots go to ``$POSTPURCHASE_SCREENSHOTS`` (default ``build/screenshots``), never into git:
a person looks at them before a page is called done.  Without Chromium the tests skip locally and
fail under CI, where ``scripts/install-system-deps`` installs it.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

SCREENSHOT_WIDTHS = (390, 1280)
SCREENSHOTS = Path(os.environ.get("POSTPURCHASE_SCREENSHOTS", "build/screenshots"))
#: axe-core impacts that fail a test; "minor" and "moderate" findings are reported, not fatal.
FATAL_IMPACTS = ("serious", "critical")


def _chromium() -> tuple[str, str] | None:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (binary, driver) if binary and driver else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the browser, so a run can leave them out (``-m "not browser"``)."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole worker; each test starts from a blank page."""
    found = _chromium()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(
                "chromium and chromedriver are required in CI (scripts/install-system-deps)"
            )
        pytest.skip("chromium/chromedriver not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = found
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--window-size=1280,900",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    # After a click that navigates, look for the next page's elements for a while instead of
    # failing at once: on a loaded machine the new page can take a moment to arrive.
    driver.implicitly_wait(10)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """``app`` served over HTTP on a free loopback port; yields its base URL (no trailing slash).

    The server runs in a thread of the test process, so it shares the pinned clock and database.
    """
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app.config["BASE_URL"]
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture
def shoot(browser: Any, request: pytest.FixtureRequest) -> Callable[..., list[Path]]:
    """``shoot(name)`` saves a full-page screenshot of the current page at every width."""

    def take(name: str, widths: tuple[int, ...] = SCREENSHOT_WIDTHS) -> list[Path]:
        folder = SCREENSHOTS / re.sub(r"[^\w.-]+", "_", request.module.__name__.split(".")[-1])
        folder.mkdir(parents=True, exist_ok=True)
        saved = []
        for width in widths:
            browser.set_window_size(width, 900)
            # A window as tall as the page is cut at the screen's height; DevTools captures all.
            size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
            shot = browser.execute_cdp_cmd(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {
                        "x": 0,
                        "y": 0,
                        "width": size["width"],
                        "height": size["height"],
                        "scale": 1,
                    },
                },
            )
            path = folder / f"{name}-{width}.png"
            path.write_bytes(base64.b64decode(shot["data"]))
            saved.append(path)
        browser.set_window_size(1280, 900)
        return saved

    return take


@pytest.fixture
def axe(browser: Any) -> Callable[..., list[dict[str, Any]]]:
    """``axe()`` runs axe-core in the current page; returns the serious and critical violations
    (each with its rule id, impact, help text and the offending elements' selectors)."""

    def run(impacts: tuple[str, ...] = FATAL_IMPACTS) -> list[dict[str, Any]]:
        from selenium_axe_python import Axe

        checker = Axe(browser)
        checker.inject()
        results = checker.run()
        return [
            {
                "id": violation["id"],
                "impact": violation["impact"],
                "help": violation["help"],
                "targets": [node["target"] for node in violation["nodes"]],
            }
            for violation in results["violations"]
            if violation["impact"] in impacts
        ]

    return run


def sign_in_merchant(
    browser: Any, live_server: str, *, lang: str = "en", email: str = "ops@acme.example"
) -> None:
    """Sign in through the login form as a merchant user whose password is ``pw`` (the test
    users' password) and wait for the console to show."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{live_server}/merchant/login?lang={lang}")
    browser.find_element(By.ID, "email").send_keys(email)
    browser.find_element(By.ID, "password").send_keys("pw")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(browser, 10).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "nav.console"))
    )


#: The words of Chromium's error for an element whose node left the document while a command
#: was reading it, which Selenium passes on as a plain ``WebDriverException``.
NODE_LEFT = "does not belong to the document"


def _replaced(error: Exception) -> bool:
    """Whether ``error`` says the element read was replaced by the next page's."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    return isinstance(error, NoSuchElementException | StaleElementReferenceException) or (
        NODE_LEFT in str(error)
    )


def settled(condition: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """A wait condition: ``condition``, counted as not met yet while the page it reads is being
    replaced (its element missing, stale or leaving the document in the middle of the read)."""
    from selenium.common.exceptions import WebDriverException

    def check(browser: Any) -> bool:
        try:
            return condition(browser)
        except WebDriverException as error:
            if _replaced(error):
                return False
            raise

    return check


def gone(element: Any) -> Callable[[Any], bool]:
    """A wait condition: ``element`` has left the document (its page was replaced).

    Selenium's ``staleness_of`` lets through the error Chromium gives when the element's node
    vanishes in the middle of the check (:data:`NODE_LEFT`), which is the very thing it waits for."""
    from selenium.common.exceptions import WebDriverException

    def check(_browser: Any) -> bool:
        try:
            element.is_enabled()
        except WebDriverException as error:
            if _replaced(error):
                return True
            raise
        return False

    return check


def click_to_new_page(browser: Any, css: str, timeout: float = 20) -> None:
    """Click the element at ``css`` and wait until the page it leads to has replaced this one.

    A form that posts back to the same address (the brand switcher, a settings form) leaves the
    URL unchanged, so waiting on the URL proves nothing: the old page's ``<html>`` element going
    stale does."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.CSS_SELECTOR, css).click()
    WebDriverWait(browser, timeout).until(gone(page))
