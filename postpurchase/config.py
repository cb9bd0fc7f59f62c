"""Settings read from the environment (``POSTPURCHASE_*``) with documented defaults.

``create_app(config)`` starts from :func:`settings_from_env` and applies the mapping on top, so tests
and scripts override any key without touching the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PREFIX = "POSTPURCHASE_"


@dataclass(frozen=True)
class Setting:
    key: str
    default: object
    kind: type
    help: str


#: Every setting the service reads. The README's configuration table is generated from this list.
SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", "", str,
            "SQLAlchemy URL. Empty: SQLite file `instance/postpurchase.db` (WAL). "
            "PostgreSQL: `postgresql+psycopg://user:pass@host/db`."),
    Setting("INSTANCE_PATH", "instance", str, "Folder for the SQLite file and generated secrets."),
    Setting("SECRET_KEY", "", str,
            "Flask session secret. Empty: a random key is generated once into the instance folder."),
    Setting("BASE_URL", "http://127.0.0.1:8000", str, "Public base URL used in links in messages."),
    Setting("MAX_BODY_BYTES", 1024 * 1024, int, "Largest accepted webhook body in bytes."),
    Setting("SIGNATURE_TOLERANCE_SECONDS", 300, int,
            "How far the signature timestamp may be from now."),
    Setting("SCHEDULER", True, bool,
            "Run the in-process scheduler (polling, outbox, inbox retries) with `postpurchase run`."),
    Setting("INBOX_INLINE", True, bool,
            "Process intake events right after they are stored (in a background thread of the web "
            "process). Off: only the scheduler's inbox job processes them."),
    Setting("RAW_RETENTION_DAYS", 30, int, "Days raw carrier responses and inbox bodies are kept."),
    Setting("DEFAULT_LOCALE", "ja", str, "Locale for pages when neither brand nor customer says."),
    Setting("DEFAULT_TIMEZONE", "Asia/Tokyo", str, "Timezone for brands that do not set one."),
    Setting("SMTP_HOST", "127.0.0.1", str, "SMTP server for email messages."),
    Setting("SMTP_PORT", 8025, int, "SMTP port."),
    Setting("SMTP_USERNAME", "", str, "SMTP user (optional)."),
    Setting("SMTP_PASSWORD", "", str, "SMTP password (optional)."),
    Setting("SMTP_STARTTLS", False, bool, "Use STARTTLS."),
    Setting("LOG_LEVEL", "INFO", str, "Python logging level."),
    Setting("EDD_REQUESTS_PER_MINUTE", 60, int,
            "Public checkout estimates (`GET /api/v1/edd`) one client address may ask for per "
            "minute, counted in the database across all workers."),
)

_BY_KEY = {s.key: s for s in SETTINGS}


def _coerce(setting: Setting, raw: str) -> object:
    if setting.kind is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if setting.kind is int:
        return int(raw)
    return raw


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """Return every setting, taking ``POSTPURCHASE_<KEY>`` from ``environ`` where present.

    Keys that are not in :data:`SETTINGS` but carry the prefix are passed through as strings, so
    per-brand credentials such as ``POSTPURCHASE_CARRIER_UPS_CLIENT_ID`` reach the app.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {s.key: s.default for s in SETTINGS}
    for name, raw in environ.items():
        if not name.startswith(PREFIX):
            continue
        key = name[len(PREFIX):]
        setting = _BY_KEY.get(key)
        try:
            values[key] = _coerce(setting, raw) if setting else raw
        except ValueError as exc:
            raise ValueError(f"{name}={raw!r}: {exc}") from exc
    return values


def default_database_url(instance_path: str | Path) -> str:
    return f"sqlite:///{Path(instance_path).resolve() / 'postpurchase.db'}"


def secret(app_config: Mapping[str, object], name: str) -> str | None:
    """Look up a secret such as ``CARRIER_UPS_CLIENT_SECRET`` or ``BRAND_ACME_LINE_TOKEN``.

    Secrets live only in the environment (or the config mapping in tests), never in code or the
    database dump of a brand.
    """
    value = app_config.get(name)
    return str(value) if value else None
