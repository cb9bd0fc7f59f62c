"""Which adapter answers for a brand's carrier, with which credentials.

A shipment names the carrier that carries it (``Shipment.carrier_code``). A brand may route a
carrier through another adapter, typically an aggregator it has an account with:
``Brand.settings["carrier_routes"] = {"yamato": "aftership"}`` (the demo routes everything to
``sandbox``; ``"*"`` routes every carrier not listed).

Credentials come from configuration only: ``CARRIER_<CODE>_<KEY>`` for the installation and
``BRAND_<SLUG>_CARRIER_<CODE>_<KEY>`` for a brand with its own account (environment variables with
the ``POSTPURCHASE_`` prefix). A brand with its own credentials gets its own adapter instance, rate
budget and circuit (account key ``code@slug``). Values are never logged; :class:`Account` keeps
them out of its ``repr``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask

from carriers import registry
from carriers.base import CarrierAdapter
from postpurchase.clock import utcnow
from postpurchase.models import Brand
from postpurchase.settings.model import settings_for

EXTENSION_KEY = "postpurchase.tracking"


@dataclass(frozen=True)
class Account:
    """One adapter instance: the code it speaks and whose credentials it uses."""

    key: str
    code: str
    adapter: CarrierAdapter = field(repr=False)


@dataclass
class TrackingExtension:
    """Per-app tracking state: adapter instances and options given by the demo or a benchmark."""

    #: Extra ``CarrierSettings.options`` per adapter code, e.g. ``{"sandbox": {"time_scale": 60}}``.
    adapter_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    #: "Now" for requests (webhooks, refresh); tests and the demo replace it.
    clock: Callable[[], datetime] = utcnow
    #: When this process last called each account, for pacing within ``requests_per_second``.
    last_request_at: dict[str, datetime] = field(default_factory=dict)


def extension(app: Flask) -> TrackingExtension:
    found: TrackingExtension | None = app.extensions.get(EXTENSION_KEY)
    if found is None:
        found = app.extensions.setdefault(EXTENSION_KEY, TrackingExtension())
        assert isinstance(found, TrackingExtension)
    return found


def route(brand: Brand, carrier_code: str) -> str:
    """The adapter code that answers for ``carrier_code`` for ``brand`` (its ``carrier_routes``)."""
    routes = settings_for(brand).carrier_routes
    return str(routes.get(carrier_code) or routes.get("*") or carrier_code)


def _env_name(value: str) -> str:
    return value.upper().replace("-", "_")


def _prefixed(config: Mapping[str, Any], prefix: str) -> dict[str, str]:
    return {
        name[len(prefix) :].lower(): str(value)
        for name, value in config.items()
        if name.startswith(prefix) and value not in (None, "")
    }


def credentials(
    config: Mapping[str, Any], code: str, brand_slug: str | None
) -> tuple[dict[str, str], bool]:
    """Credentials for ``code`` (keys lower-cased) and whether they are the brand's own."""
    values = _prefixed(config, f"CARRIER_{_env_name(code)}_")
    own = (
        _prefixed(config, f"BRAND_{_env_name(brand_slug)}_CARRIER_{_env_name(code)}_")
        if brand_slug
        else {}
    )
    values.update(own)
    return values, bool(own)


def account_for(app: Flask, brand: Brand, carrier_code: str) -> Account:
    """The adapter instance that answers for ``brand``'s parcels of ``carrier_code``."""
    return account(app, route(brand, carrier_code), brand.slug)


def account(app: Flask, code: str, brand_slug: str | None) -> Account:
    """The instance of adapter ``code`` with the brand's own credentials, else the global ones.

    Raises :class:`carriers.base.Unsupported` when no adapter has that code.
    """
    creds, own = credentials(app.config, code, brand_slug)
    key = f"{code}@{brand_slug}" if own else code
    state = extension(app)
    account = state.accounts.get(key)
    if account is None:
        options = {"clock": state.clock, **state.adapter_options.get(code, {})}
        base_url = creds.pop("base_url", None)
        settings = registry.CarrierSettings(credentials=creds, base_url=base_url, options=options)
        account = Account(key=key, code=code, adapter=registry.create(code, settings))
        state.accounts[key] = account
    return account


def configure_adapter(app: Flask, code: str, **options: Any) -> None:
    """Set adapter options (e.g. the sandbox's ``clock``/``time_scale``) and drop cached instances."""
    state = extension(app)
    state.adapter_options.setdefault(code, {}).update(options)
    for key in [k for k, account in state.accounts.items() if account.code == code]:
        del state.accounts[key]
