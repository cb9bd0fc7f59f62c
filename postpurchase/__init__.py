"""postpurchase: the post-purchase experience of a brand, self-hosted."""

from __future__ import annotations

import importlib
import logging
import secrets
from collections.abc import Mapping
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from postpurchase.config import default_database_url, settings_from_env

ROOT = Path(__file__).resolve().parent.parent

#: Feature packages; each has ``init_app(app)`` that connects its signals and blueprints.
FEATURES: tuple[str, ...] = (
    "postpurchase.web",
    "postpurchase.console",
    "postpurchase.intake",
    "postpurchase.tracking",
    "postpurchase.edd",
    "postpurchase.messaging",
    "postpurchase.experiments",
    "postpurchase.personas",
    "postpurchase.insights",
    "postpurchase.returns",
    "postpurchase.kitting",
    "postpurchase.people",
    "postpurchase.settings",
    "postpurchase.ops",
)


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """Build the app: settings, database, Babel, features, CLI. Starts no scheduler by itself."""
    settings = settings_from_env()
    settings.update(config or {})
    instance_path = Path(str(settings["INSTANCE_PATH"])).resolve()
    app = Flask(
        "postpurchase",
        instance_path=str(instance_path),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.update(settings)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = default_database_url(instance_path)
    app.config["SECRET_KEY"] = app.config["SECRET_KEY"] or _instance_secret(instance_path)
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["MAX_BODY_BYTES"])
    # the default JSON provider has this attribute; Flask types app.json as the provider base class
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    if proxies := int(app.config["TRUSTED_PROXIES"]):
        # Flask's documented way to wrap the WSGI app; mypy sees a method being replaced
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    logging.basicConfig(level=str(app.config["LOG_LEVEL"]).upper())
    for chatty in ("mail.log", "alembic.runtime", "apscheduler.executors.default", "werkzeug"):
        logging.getLogger(chatty).setLevel(logging.WARNING)

    from postpurchase import db, i18n
    from postpurchase.accounts import check_hash_method
    from postpurchase.web import errors

    check_hash_method(str(app.config["PASSWORD_HASH_METHOD"]))
    db.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)
    for name in FEATURES:
        importlib.import_module(name).init_app(app)
    return app


def _instance_secret(instance_path: Path) -> str:
    """A random secret kept in the instance folder, so development needs no configuration."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    path.write_text(value)
    path.chmod(0o600)
    return value
