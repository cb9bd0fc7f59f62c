"""Carrier code → adapter, and what each can do.

Adapters register themselves with :func:`register` in their own module; :data:`ADAPTER_MODULES`
lists the modules so that :func:`create` and :func:`codes` find every adapter without the core
importing carrier modules by name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from carriers.base import Capabilities, CarrierAdapter, CarrierError, Unsupported

#: Modules that call :func:`register`; add a carrier by adding its module here.
ADAPTER_MODULES: tuple[str, ...] = (
    "carriers.sandbox",
    "carriers.dhl",
    "carriers.dhl_express",
    "carriers.ups",
    "carriers.fedex",
    "carriers.usps",
    "carriers.canadapost",
    "carriers.royalmail",
    "carriers.australiapost",
    "carriers.aftership",
    "carriers.seventeentrack",
    "carriers.easypost",
    "carriers.shippo",
    "carriers.yamato",
    "carriers.sagawa",
    "carriers.japanpost",
)


@dataclass(frozen=True)
class CarrierSettings:
    """What an adapter instance needs: credentials, endpoint and an optional HTTP session.

    ``credentials`` come from configuration (environment), per brand where a 3PL uses each brand's
    own carrier account; adapters never log them.
    """

    credentials: Mapping[str, str] = field(default_factory=dict)
    base_url: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


AdapterFactory = Callable[[CarrierSettings], CarrierAdapter]
_FACTORIES: dict[str, AdapterFactory] = {}
_loaded = False


def register(code: str) -> Callable[[AdapterFactory], AdapterFactory]:
    def decorator(factory: AdapterFactory) -> AdapterFactory:
        _FACTORIES[code] = factory
        _ANNOUNCED.pop(code, None)
        return factory

    return decorator


@dataclass(frozen=True)
class CustomerLinks:
    """What a customer is shown of a carrier: its name and the links its adapter announces."""

    carrier_name: str
    tracking_url: str | None
    redelivery_url: str | None
    #: Whether ``redelivery_url`` opens this parcel's form; otherwise the customer types the number.
    redelivery_takes_number: bool = False


@dataclass(frozen=True)
class _Announced:
    """What an adapter says of itself, the same for every instance: names and capabilities."""

    name: str
    capabilities: Capabilities
    local_names: Mapping[str, str]
    service_names: Mapping[str, str]


#: Per carrier code, what its adapter announces; forgotten when the code is registered again.
_ANNOUNCED: dict[str, _Announced] = {}


def _announced(code: str) -> _Announced:
    """What the adapter of ``code`` announces, worked out once per process: building an adapter
    (its HTTP session, its settings) cost 40-90 µs, and every parcel of every page and report
    asks. Raises :class:`CarrierError` for a code with no adapter."""
    known = _ANNOUNCED.get(code)
    if known is None:
        adapter = create(code)
        known = _ANNOUNCED[code] = _Announced(
            name=getattr(adapter, "name", code),
            capabilities=adapter.capabilities,
            local_names=getattr(adapter, "local_names", {}),
            service_names=getattr(adapter, "service_names", {}),
        )
    return known


def customer_links(code: str, tracking_number: str | None) -> CustomerLinks:
    """The carrier's display name, tracking link and redelivery (再配達) link for a parcel.

    An unknown carrier gives its code and no links; callers then point at our own tracking page.
    """
    try:
        adapter = _announced(code)
    except CarrierError:
        return CustomerLinks(code, None, None)
    caps = adapter.capabilities
    number = tracking_number or ""
    return CustomerLinks(
        carrier_name=adapter.name,
        tracking_url=caps.tracking_url.replace("{number}", number)
        if caps.tracking_url and number
        else None,
        redelivery_url=caps.redelivery_url.replace("{number}", number)
        if caps.redelivery_url
        else None,
        redelivery_takes_number=bool(
            caps.redelivery_url and "{number}" in caps.redelivery_url and number
        ),
    )


def unregister(code: str) -> None:
    """Forget an adapter (tests that register a fake one)."""
    _FACTORIES.pop(code, None)
    _ANNOUNCED.pop(code, None)


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in ADAPTER_MODULES:
            importlib.import_module(module)
        _loaded = True


def codes() -> list[str]:
    _load()
    return sorted(_FACTORIES)


def create(code: str, settings: CarrierSettings | None = None) -> CarrierAdapter:
    _load()
    try:
        factory = _FACTORIES[code]
    except KeyError:
        raise Unsupported(f"no adapter for carrier {code!r}", carrier=code) from None
    return factory(settings or CarrierSettings())


def display_names(code: str, service: str | None, locale: str) -> tuple[str, str | None]:
    """The carrier's name in ``locale`` and the name it sells ``service`` under (codes when unknown).

    Service names are the carrier's own (宅急便, ゆうパック) in every locale: they are brand names.
    """
    try:
        adapter = _announced(code)
    except CarrierError:
        return code, service
    carrier = adapter.local_names.get(locale.split("_")[0], adapter.name)
    return carrier, None if service is None else adapter.service_names.get(service, service)
