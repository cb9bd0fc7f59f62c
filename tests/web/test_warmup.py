"""A web process does its first pages' one-time work (templates, locales, carriers) at start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from carriers import registry
from postpurchase.db import get_db
from postpurchase.lookup import order_link_path
from postpurchase.web.warmup import warm_up
from tests.web.parcel_states import BRAND_SETTINGS, seed_state

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def page(app: Any, make_brand: Any) -> str:
    """The signed tracking page of an order with a parcel in transit, brand ``acme``."""
    brand = make_brand("acme", name="Acme Tea", settings=BRAND_SETTINGS)
    with app.app_context():
        session = get_db(app).session()
        order_id = seed_state(session, brand.brand_id, "in_transit")
        session.commit()
        session.close()
    return order_link_path(app.config["SECRET_KEY"], "acme", brand.brand_id, order_id)


def templates_loaded(app: Any, monkeypatch: Any) -> list[str]:
    """The names of the templates the app's environment loads (reads and compiles, or takes from
    the tests' bytecode cache) from now on: those not already in its cache."""
    loaded: list[str] = []
    loader = app.jinja_env.loader
    load = loader.load

    def counting(environment: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        loaded.append(name)
        return load(environment, name, *args, **kwargs)

    monkeypatch.setattr(loader, "load", counting)
    return loaded


def test_after_warm_up_the_first_pages_load_no_template(app, client, page, monkeypatch) -> None:
    names = warm_up(app)
    assert {"pages/track_order.html", "insights/_figures.html", "pdf/insights.html"} <= set(names)
    assert not [name for name in names if name.startswith("emails/")]
    assert registry._loaded
    loaded = templates_loaded(app, monkeypatch)
    for lang in ("ja", "en"):
        assert client.get(f"{page}?lang={lang}").status_code == 200
        assert client.get(f"/acme/track?lang={lang}").status_code == 200
    assert loaded == []


def test_a_cold_app_loads_templates_on_its_first_page(client, page, app, monkeypatch) -> None:
    """The check above can fail: without the warm-up the same page loads its templates."""
    loaded = templates_loaded(app, monkeypatch)
    assert client.get(page).status_code == 200
    assert "pages/track_order.html" in loaded


def test_the_production_entry_point_warms_its_app(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "POSTPURCHASE_INSTANCE_PATH": str(tmp_path),
        "POSTPURCHASE_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "POSTPURCHASE_SECRET_KEY": "x" * 40,
    }
    probe = (
        "import gc, wsgi; print(any(name == 'pages/track_order.html'"
        " for _loader, name in wsgi.app.jinja_env.cache.keys()), gc.get_freeze_count())"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    warmed, frozen = shown.stdout.split()
    assert warmed == "True"
    # the warm process's objects are out of the collector's full passes (about 170,000)
    assert int(frozen) > 50_000
