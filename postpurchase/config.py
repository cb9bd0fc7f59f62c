"""Settings read from the environment (``POSTPURCHASE_*``) with documented defaults.

``create_app(config)`` starts from :func:`settings_from_env` and applies the mapping on top, so tests
and scripts override any key without touching the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app

PREFIX = "POSTPURCHASE_"


@dataclass(frozen=True)
class Setting:
    key: str
    default: object
    kind: type
    help: str


#: Every setting the service reads. The README's configuration table is generated from this list.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "DATABASE_URL",
        "",
        str,
        "SQLAlchemy URL. Empty: SQLite file `instance/postpurchase.db` (WAL). "
        "PostgreSQL: `postgresql+psycopg://user:pass@host/db`.",
    ),
    Setting("INSTANCE_PATH", "instance", str, "Folder for the SQLite file and generated secrets."),
    Setting(
        "SECRET_KEY",
        "",
        str,
        "Flask session secret. Empty: a random key is generated once into the instance folder.",
    ),
    Setting("BASE_URL", "http://127.0.0.1:8000", str, "Public base URL used in links in messages."),
    Setting("MAX_BODY_BYTES", 1024 * 1024, int, "Largest accepted webhook body in bytes."),
    Setting(
        "SIGNATURE_TOLERANCE_SECONDS", 300, int, "How far the signature timestamp may be from now."
    ),
    Setting(
        "SCHEDULER",
        True,
        bool,
        "Run the in-process scheduler (polling, outbox, inbox retries) with `postpurchase run`.",
    ),
    Setting(
        "INBOX_INLINE",
        True,
        bool,
        "Process intake events right after they are stored (in a background thread of the web "
        "process). Off: only the scheduler's inbox job processes them.",
    ),
    Setting(
        "INBOX_UNIT_MS",
        25,
        int,
        "SQLite without the accept spool (INBOX_SPOOL=false): longest a worker applies claimed "
        "events before it commits them and claims again (at least one event per commit). A unit "
        "of work holds SQLite's only write lock, so this bounds how long webhooks wait to be "
        "stored. 0: one event per commit. Not applied with the spool, where webhooks do not wait "
        "for it, nor on PostgreSQL, where units of work lock only their own rows.",
    ),
    Setting(
        "INBOX_BATCH",
        0,
        int,
        "Most events a worker claims and applies in one unit of work (one transaction). 0: 50 on "
        "SQLite, where a unit holds the only write lock; 200 on PostgreSQL, where larger units "
        "share their fixed cost among more events.",
    ),
    Setting(
        "INBOX_SPOOL",
        True,
        bool,
        "SQLite: accepted webhooks are committed to a second file next to the database "
        "(``<database>.spool``, its own write lock) and moved into the inbox by the next unit of "
        "work, so accepting never waits for processing. Off: webhooks insert into the inbox "
        "directly. Not used on PostgreSQL.",
    ),
    Setting("RAW_RETENTION_DAYS", 30, int, "Days raw carrier responses and inbox bodies are kept."),
    Setting(
        "INSIGHTS_REUSE_SECONDS",
        60,
        int,
        "Seconds a web process reuses a merchant's insights report (page, sorts, CSV, PDF) for the "
        "same period before computing it again; the page and PDF say when it was computed. 0: "
        "computed for every request.",
    ),
    Setting(
        "DEFAULT_LOCALE",
        "ja",
        str,
        "Locale for pages when the visitor chose none (the pages' 日本語 / English switch, "
        "kept in a `lang` cookie), the browser asks for neither and the brand has none.",
    ),
    Setting("DEFAULT_TIMEZONE", "Asia/Tokyo", str, "Timezone for brands that do not set one."),
    Setting("SMTP_HOST", "127.0.0.1", str, "SMTP server for email messages."),
    Setting("SMTP_PORT", 8025, int, "SMTP port."),
    Setting("SMTP_USERNAME", "", str, "SMTP user (optional)."),
    Setting("SMTP_PASSWORD", "", str, "SMTP password (optional)."),
    Setting("SMTP_STARTTLS", False, bool, "Use STARTTLS."),
    Setting("LOG_LEVEL", "INFO", str, "Python logging level."),
    Setting(
        "SESSION_COOKIE_SECURE",
        "",
        bool,
        "Send the merchant sign-in cookie over HTTPS only. Empty: on when BASE_URL is https.",
    ),
    Setting(
        "SESSION_COOKIE_SAMESITE",
        "Lax",
        str,
        "SameSite of the sign-in cookie: `Lax`, `Strict` or `None` (`None` needs a secure cookie).",
    ),
    Setting("SESSION_COOKIE_HTTPONLY", True, bool, "Keep the sign-in cookie away from scripts."),
    Setting(
        "CONTENT_SECURITY_POLICY",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        str,
        "Content-Security-Policy header of every response (pages use inline styles, no scripts).",
    ),
    Setting(
        "HSTS_MAX_AGE",
        365 * 24 * 3600,
        int,
        "Strict-Transport-Security max-age in seconds, sent when BASE_URL is https. 0: not sent.",
    ),
    Setting(
        "TRUSTED_PROXIES",
        0,
        int,
        "Reverse proxies in front of the app whose `X-Forwarded-For`/`-Proto` are believed; the "
        "client address that sign-in and order lookups are throttled by comes from them.",
    ),
    Setting(
        "REJECTED_RETENTION_DAYS",
        7,
        int,
        "Days requests refused for a bad signature are kept (for debugging a sender), then deleted.",
    ),
    Setting(
        "EDD_REQUESTS_PER_MINUTE",
        60,
        int,
        "Public checkout estimates (`GET /api/v1/edd`) one client address may ask for per "
        "minute, counted in the database across all workers.",
    ),
    Setting("DB_POOL_SIZE", 10, int, "PostgreSQL connections each process keeps open."),
    Setting(
        "DB_MAX_OVERFLOW",
        10,
        int,
        "Extra PostgreSQL connections a process may open above DB_POOL_SIZE at peaks. Size "
        "processes × (DB_POOL_SIZE + DB_MAX_OVERFLOW) below the server's `max_connections`.",
    ),
    Setting(
        "LEADER_LEASE_SECONDS",
        15,
        int,
        "How long the scheduler leader's lease lasts without renewal: another process takes the "
        "scheduler over within this time after the leader dies.",
    ),
    Setting("LEADER_RENEW_SECONDS", 5, int, "How often processes renew or try to take the lease."),
    Setting(
        "INBOX_POLL_MS",
        1000,
        int,
        "`postpurchase worker`: how often it looks for pending events when no notification came "
        "(PostgreSQL wakes it at once with LISTEN/NOTIFY; SQLite relies on this poll).",
    ),
    Setting(
        "WORKER_NICE",
        "idle",
        str,
        "`postpurchase worker`: how far it lowers its own CPU priority. `idle` (Linux's "
        "`SCHED_IDLE`; niceness 19 elsewhere): it runs on the CPU time web processes leave and "
        "gives way the moment one has a request; `0`-`19`: a Unix niceness, which keeps it a share "
        "of a saturated machine (`0`: the web's priority). On a machine it shares with web "
        "processes, webhook answers and pages come first and processing, which the inbox holds "
        "safely, catches up when they are idle; a machine of its own has nothing to yield to.",
    ),
    Setting("LOG_FORMAT", "text", str, "`text`, or `json`: one JSON object per log line."),
    Setting(
        "PASSWORD_HASH_METHOD",
        "scrypt",
        str,
        "How merchant passwords are hashed: a werkzeug method such as `scrypt` or "
        "`pbkdf2:sha256:600000`. A password keeps the method it was hashed with; a new method "
        "applies to passwords set from then on.",
    ),
    Setting(
        "METRICS_TOKEN",
        "",
        str,
        "Bearer token `/metrics` asks for (`Authorization: Bearer <token>`). Empty: open.",
    ),
)

_BY_KEY = {s.key: s for s in SETTINGS}


def default_of(key: str) -> object:
    """The documented default of the setting ``key`` (for code that may run without an app)."""
    return _BY_KEY[key].default


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def parse_bool(value: object) -> bool:
    """``True``/``False`` from a bool or from ``1/0``, ``true/false``, ``yes/no``, ``on/off``."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"expected one of {sorted(_TRUE | _FALSE)}")


def _coerce(setting: Setting, raw: str) -> object:
    if not raw.strip() and setting.kind is not str:
        return setting.default
    if setting.kind is bool:
        return parse_bool(raw)
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
        key = name[len(PREFIX) :]
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


SAMESITE_VALUES = ("Lax", "Strict", "None")


@dataclass(frozen=True)
class WebSecurity:
    """Cookie flags and security headers, parsed once from the settings."""

    https: bool
    cookie_secure: bool
    cookie_samesite: str
    cookie_httponly: bool
    content_security_policy: str
    hsts_max_age: int

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> WebSecurity:
        """Read the settings, also when a mapping gives them as strings (``"0"`` is off)."""
        https = str(config.get("BASE_URL", "")).lower().startswith("https://")
        secure = config.get("SESSION_COOKIE_SECURE", "")
        samesite = str(config.get("SESSION_COOKIE_SAMESITE") or "Lax").strip().capitalize()
        if samesite not in SAMESITE_VALUES:
            raise ValueError(
                f"SESSION_COOKIE_SAMESITE={samesite!r}: expected one of {SAMESITE_VALUES}"
            )
        cookie_secure = https if secure in ("", None) else parse_bool(secure)
        if samesite == "None" and not cookie_secure:
            raise ValueError("SESSION_COOKIE_SAMESITE=None needs SESSION_COOKIE_SECURE on")
        return cls(
            https=https,
            cookie_secure=cookie_secure,
            cookie_samesite=samesite,
            cookie_httponly=parse_bool(config.get("SESSION_COOKIE_HTTPONLY", True)),
            content_security_policy=str(config.get("CONTENT_SECURITY_POLICY") or ""),
            hsts_max_age=int(str(config.get("HSTS_MAX_AGE") or 0)),
        )

    def flask_config(self) -> dict[str, object]:
        """The ``SESSION_COOKIE_*`` values Flask reads, as the types it expects."""
        return {
            "SESSION_COOKIE_SECURE": self.cookie_secure,
            "SESSION_COOKIE_SAMESITE": self.cookie_samesite,
            "SESSION_COOKIE_HTTPONLY": self.cookie_httponly,
        }


def running_app() -> Flask:
    """The app behind Flask's ``current_app`` proxy, for code that hands it on (to a job, a
    thread or a domain function that takes the app as an argument)."""
    # Werkzeug's LocalProxy provides _get_current_object at runtime; its stubs do not declare it.
    return current_app._get_current_object()  # type: ignore[attr-defined, no-any-return]
