"""EDD operations: fit per brand, predict at checkout, at order time, at hand-over and on each
tracking transition; write the dates onto the shipment and record every prediction.

Operations take a keyword-only ``session`` and flush; the caller commits.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.lists import format_list
from flask import Flask, has_request_context
from flask_babel import force_locale, format_decimal, get_locale
from sqlalchemy import bindparam, insert
from sqlmodel import Session, col, select

from carriers.slots import find_slot
from carriers.status import CUSTOMS_HOLD, Status
from postpurchase import batched, signals
from postpurchase.clock import utcnow
from postpurchase.edd.backtest import AsOf, Setting, fit
from postpurchase.edd.calendar import CarrierCalendar, cutoff_countdown, parse_cutoff
from postpurchase.edd.customs import CustomsStage, customs_stage, entered_customs
from postpurchase.edd.features import OrderFeatures
from postpurchase.edd.history import HistoryRow, read_history
from postpurchase.edd.leadtimes import LeadTimeRow, brand_table, lookup
from postpurchase.edd.model import YMAX, Estimate, ModelParams, Route, TransitModel, postal_prefix
from postpurchase.edd.slots import cold_start, depot_arrival_time, slot_aware, slot_offers
from postpurchase.i18n import gettext, lazy_gettext, ngettext
from postpurchase.lines import order_lines
from postpurchase.lines import read as read_lines
from postpurchase.models import (
    Brand,
    DeliveryPrediction,
    FulfillmentCentre,
    Order,
    OrderLine,
    Shipment,
    TransitModelState,
)
from postpurchase.models.types import table_of
from postpurchase.settings.model import BrandSettings, DeliveryPart, settings_for
from postpurchase.unitcache import unit_cache

#: Statuses after which the parcel is in the destination's hands today.
ARRIVING_TODAY = frozenset({Status.out_for_delivery, Status.available_for_pickup})
#: Statuses after which no delivery date is predicted any more.
NOT_PREDICTED = frozenset(
    {Status.exception, Status.returning_to_sender, Status.returned, Status.expired}
)


class EddInputError(ValueError):
    """Bad input for a prediction (unknown brand, centre, ...); ``status`` is the HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class BrandEdd:
    """A brand's EDD settings (the ``edd`` part of its typed settings) as the model uses them."""

    promise_level: float
    window: tuple[float, float]
    calendar: CarrierCalendar
    timezone: str
    params: ModelParams
    default_carrier: str
    default_service: str
    #: The brand's own depot cut-offs by slot code, over the assumed ones (``carriers.slots``).
    slot_cutoffs: dict[str, time] = field(default_factory=dict)

    @classmethod
    def of(cls, brand: Brand) -> BrandEdd:
        """The brand's EDD settings, built once per settings document, country and timezone
        (predicting one parcel asks for them three times)."""
        settings = settings_for(brand)  # the same object for the same document
        key = (id(settings), brand.country, brand.timezone)
        known = _BRAND_EDD.get(key)
        if known is not None and known[0] is settings:
            return known[1]
        edd = cls._of(settings.edd, brand)
        if len(_BRAND_EDD) >= 256:
            _BRAND_EDD.clear()
        _BRAND_EDD[key] = (settings, edd)
        return edd

    @classmethod
    def _of(cls, part: DeliveryPart, brand: Brand) -> BrandEdd:
        params = ModelParams.from_dict(part.model)
        if part.default_business_days is not None:
            params = ModelParams.from_dict(
                {**params.to_dict(), "default_business_days": part.default_business_days}
            )
        return cls(
            promise_level=part.promise_level,
            window=part.window,
            calendar=CarrierCalendar.from_settings(
                brand.country or "JP", part.calendar.model_dump(mode="json")
            ),
            timezone=brand.timezone,
            params=params,
            default_carrier=part.default_carrier,
            default_service=part.default_service,
            slot_cutoffs={code: time.fromisoformat(at) for code, at in part.slot_cutoffs.items()},
        )

    def setting(self, centres: Iterable[FulfillmentCentre]) -> Setting:
        """How the brand's history is read, knowing these centres' cut-offs (a single parcel
        needs only its own)."""
        return Setting(
            calendar=self.calendar,
            timezone=self.timezone,
            params=self.params,
            centres={fc.code: (parse_cutoff(fc.cutoff_time), fc.handling_days) for fc in centres},
        )

    @cached_property
    def prior(self) -> tuple[str, dict[str, Any]]:
        """The model of a brand with no history and no default model: its key and payload."""
        params = self.params.to_dict()
        payload = {
            "params": params,
            "as_of": "2000-01-01",
            "levels": [[] for _ in range(5)],
            "calibration": {"lower": [], "upper": []},
        }
        return json.dumps(params, sort_keys=True), payload


#: :meth:`BrandEdd.of` by (id of the settings object, country, timezone), with the object (so
#: its id is not reused while the entry lives).
_BRAND_EDD: dict[tuple[int, str | None, str], tuple[BrandSettings, BrandEdd]] = {}


def _centres(session: Session, brand_id: int) -> dict[str, FulfillmentCentre]:
    rows = session.exec(
        select(FulfillmentCentre)
        .where(FulfillmentCentre.brand_id == brand_id)
        .order_by(col(FulfillmentCentre.id))
    ).all()
    return {fc.code: fc for fc in rows}


def brand_setting(session: Session, brand: Brand) -> Setting:
    """How the brand's history is read, with every fulfilment centre's cut-off."""
    assert brand.id is not None
    return BrandEdd.of(brand).setting(_centres(session, brand.id).values())


# Fitting and persistence -----------------------------------------------------------------------


def order_features(
    shipment: Shipment, order: Order | None, lines: list[OrderLine]
) -> OrderFeatures:
    """What the model may learn from a parcel's contents: shipping cost, weight, main category.

    The main category is that of the line with the largest amount; the cost is the carrier's
    charge when known, else what the customer paid for shipping.
    """
    main = max(lines, key=lambda line: line.quantity * line.unit_price, default=None)
    cost = (
        shipment.cost_amount
        if shipment.cost_amount is not None
        else (order.shipping_amount if order else None)
    )
    return OrderFeatures(
        cost=float(cost) if cost is not None else None,
        weight_g=float(shipment.weight_g) if shipment.weight_g is not None else None,
        category=(main.category or "") if main else "",
    )


#: Parcels that will not be delivered: they are not "in flight" for the model.
NEVER_DELIVERED = frozenset({Status.returning_to_sender, Status.returned, Status.expired})
#: How far back parcels still in flight are read (older ones no longer inform the fit).
IN_FLIGHT_DAYS = 60


def shipment_history(
    *, session: Session, brand_id: int, waiting_since: datetime | None = None
) -> list[HistoryRow]:
    """The brand's delivered parcels as history rows (origin = fulfilment-centre code).

    With ``waiting_since``: instead, the parcels created since then that are still on their way
    (delivered_at empty), which the fit reads as "transit at least this long so far".
    """
    centres = {fc.id: fc for fc in _centres(session, brand_id).values()}
    rows = []
    query = (
        select(Shipment, Order)
        .join(Order, col(Order.id) == col(Shipment.order_id), isouter=True)
        .where(col(Shipment.brand_id) == brand_id)
    )
    if waiting_since is None:
        query = query.where(col(Shipment.delivered_at).is_not(None))
    else:
        query = query.where(
            col(Shipment.delivered_at).is_(None),
            col(Shipment.created_at) >= waiting_since,
            col(Shipment.status).not_in([Status.delivered, *NEVER_DELIVERED]),
        )
    found = session.exec(query).all()
    lines = read_lines(session, {order.id for _, order in found if order and order.id})
    for shipment, order in found:
        fc = centres.get(shipment.fc_id)
        features = order_features(
            shipment, order, lines.get(order.id, []) if order and order.id else []
        )
        rows.append(
            HistoryRow(
                shipment_id=str(shipment.id),
                carrier=shipment.carrier_code,
                service=shipment.service,
                origin_postal_code=(fc.postal_code or "") if fc else "",
                origin_region=fc.code if fc else "",
                destination_postal_code=shipment.destination_postal_code or "",
                destination_region=shipment.destination_region or "",
                destination_country=shipment.destination_country or "",
                ordered_at=order.placed_at if order else None,
                shipped_at=shipment.shipped_at,
                delivered_at=shipment.delivered_at,
                promised_at=None,
                cost=features.cost,
                weight_g=features.weight_g,
                category=features.category,
            )
        )
    return rows


def store_model(
    *, session: Session, brand_id: int, mode: AsOf, model: TransitModel, now: datetime
) -> None:
    state = session.exec(
        select(TransitModelState).where(
            TransitModelState.brand_id == brand_id, TransitModelState.as_of == mode.value
        )
    ).first()
    if state is None:
        state = TransitModelState(brand_id=brand_id, as_of=mode.value)
        session.add(state)
    state.fitted_at = now
    state.sample_size = model.sample_size
    state.payload = model.to_dict()
    session.flush()
    session.info.get(_VERSIONS, {}).pop((brand_id, mode), None)


def fit_brand(
    *, session: Session, brand: Brand, now: datetime, extra: list[HistoryRow] | None = None
) -> dict[str, int]:
    """Refit both models (as of order, as of hand-over) of a brand; returns sample sizes.

    Parcels still on their way are passed as in flight: a slow month shows in them (and in the
    calibration) before its slow parcels are delivered.
    """
    assert brand.id is not None
    delivered, undelivered = _split_delivered(extra or [])
    rows = shipment_history(session=session, brand_id=brand.id) + delivered
    waiting = undelivered + shipment_history(
        session=session, brand_id=brand.id, waiting_since=now - timedelta(days=IN_FLIGHT_DAYS)
    )
    setting = brand_setting(session, brand)
    sizes = {}
    for mode in AsOf:
        model = fit(rows, setting=setting, mode=mode, now=now, waiting=waiting)
        store_model(session=session, brand_id=brand.id, mode=mode, model=model, now=now)
        sizes[mode.value] = model.sample_size
    return sizes


@dataclass
class ModelStore:
    """Where an app's default models are (``<instance>/edd``; None: none), and the models parsed so far.

    One per app (see :func:`models_of`): parsed models are keyed by their version, so a request
    does not re-parse JSON, and one app never reads another's models.
    """

    directory: Path | None
    parsed: dict[tuple[Any, ...], TransitModel] = field(default_factory=dict)

    def default_path(self, mode: AsOf) -> Path | None:
        return self._default_paths[mode]

    @cached_property
    def _default_paths(self) -> dict[AsOf, Path | None]:
        """Built once: every parcel predicted asks for one."""
        return {
            mode: self.directory / f"default-{mode.value}.json"
            if self.directory is not None
            else None
            for mode in AsOf
        }

    def model(self, key: tuple[Any, ...], payload: Callable[[], Any]) -> TransitModel:
        """The model of version ``key``, parsed from ``payload()`` the first time it is asked for."""
        found = self.parsed.get(key)
        if found is None:
            if len(self.parsed) > 64:
                self.parsed.clear()
            found = self.parsed[key] = TransitModel.from_dict(payload())
        return found


MODELS_KEY = "postpurchase.edd.models"


def models_of(app: Flask) -> ModelStore:
    """The app's :class:`ModelStore`, reading default models from its instance folder."""
    store: ModelStore | None = app.extensions.get(MODELS_KEY)
    if store is None:
        store = app.extensions[MODELS_KEY] = ModelStore(Path(app.instance_path) / "edd")
    return store


def fit_from_history_file(
    app: Flask, *, path: Path, brand_slug: str | None, mode: AsOf, now: datetime | None = None
) -> str:
    """``postpurchase edd fit``: a brand's models from a CSV (plus its own shipments), or the default."""
    from postpurchase.brands import get_brand
    from postpurchase.db import session_scope

    now = now or utcnow()
    if brand_slug is None:
        timezone = str(app.config.get("DEFAULT_TIMEZONE", "Asia/Tokyo"))
        rows = read_history(path, timezone=timezone)
        setting = Setting(calendar=CarrierCalendar(country=_country_of(rows)), timezone=timezone)
        delivered, undelivered = _split_delivered(rows)
        lines = []
        for each in AsOf:
            model = fit(delivered, setting=setting, mode=each, now=now, waiting=undelivered)
            target = models_of(app).default_path(each)
            assert target is not None
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(model.to_dict()))
            lines.append(f"as of {each.value}: {model.sample_size} delivered parcels → {target}")
        return "\n".join([f"{len(rows)} rows read from {path}", *lines])
    with session_scope(app) as session:
        brand = get_brand(session=session, slug=brand_slug)
        if brand is None:
            raise LookupError(f"no brand {brand_slug!r}")
        rows = read_history(path, timezone=brand.timezone)
        sizes = fit_brand(session=session, brand=brand, now=now, extra=rows)
    return "\n".join(
        [f"{len(rows)} rows read from {path}"]
        + [
            f"as of {m}: {n} delivered parcels, stored for brand {brand_slug}"
            for m, n in sizes.items()
        ]
    )


def _split_delivered(rows: list[HistoryRow]) -> tuple[list[HistoryRow], list[HistoryRow]]:
    """History rows delivered, and those not (yet): the fit reads the latter as parcels in flight."""
    return [r for r in rows if r.delivered_at], [r for r in rows if not r.delivered_at]


def _country_of(rows: list[HistoryRow]) -> str:
    countries = [r.destination_country for r in rows if r.destination_country]
    return max(set(countries), key=countries.count) if countries else "JP"


def load_model(
    *, session: Session, brand: Brand, mode: AsOf, models: ModelStore, edd: BrandEdd | None = None
) -> tuple[TransitModel, datetime | None]:
    """The brand's stored model, else the default in ``models``, else the prior alone.

    The stored model's version is read once per unit of work (a batch predicts many parcels of
    one brand; :func:`store_model` forgets it when it writes a new one); its (large) payload is
    read and parsed once per version by ``models``. ``edd``: the brand's EDD settings, when the
    caller has them.
    """
    versions: dict[tuple[int | None, AsOf], Any] = session.info.setdefault(_VERSIONS, {})
    if (brand.id, mode) not in versions:
        versions[(brand.id, mode)] = session.execute(
            _MODEL_VERSION, {"brand_id": brand.id, "as_of": mode.value}
        ).first()
    version = versions[(brand.id, mode)]
    if version is not None:
        state_id, fitted_at = version

        def payload() -> Any:
            state = session.get(TransitModelState, state_id)
            assert state is not None
            return state.payload

        return models.model(("brand", state_id, fitted_at), payload), fitted_at
    path = models.default_path(mode)
    if path is not None and (stamp := _modified_at(session, path)) is not None:
        return models.model(("file", str(path), stamp), lambda: json.loads(path.read_text())), None
    key, prior = (edd or BrandEdd.of(brand)).prior
    return models.model(("prior", key), lambda: prior), None


def _modified_at(session: Session, path: Path) -> float | None:
    """When the default model file at ``path`` was written (None: there is none), looked at once
    per unit of work rather than for every parcel predicted."""
    stamps: dict[Path, float | None] = unit_cache(session, _DEFAULT_STAMPS)
    if path not in stamps:
        try:
            stamps[path] = path.stat().st_mtime
        except FileNotFoundError:
            stamps[path] = None
    return stamps[path]


def refit_all(app: Flask) -> None:
    """Scheduler job: refit every brand's models from its delivered shipments."""
    from postpurchase.db import session_scope

    with session_scope(app) as session:
        for brand in session.exec(select(Brand)).all():
            fit_brand(session=session, brand=brand, now=utcnow())


# Predictions -----------------------------------------------------------------------------------


def _local_today(now: datetime, timezone: str) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


#: How the order features of :mod:`postpurchase.edd.features` are named in explanations.
FEATURE_NAMES = {
    "cost": lazy_gettext("shipping cost"),
    "weight_g": lazy_gettext("weight"),
    "category": lazy_gettext("product category"),
    "weekday": lazy_gettext("day it ships"),
}
#: Feature factors closer to 1 than this are not worth a sentence.
NOTABLE_FACTOR = 0.1


def describe(basis: dict[str, Any], *, origin: str, destination: str) -> str:
    """One or two sentences a customer or merchant can read: what the estimate rests on."""
    if basis["sample_size"] == 0:
        return str(
            ngettext(
                "No delivered parcels yet on this route; the estimate uses the brand's default "
                "of %(num)s business day.",
                "No delivered parcels yet on this route; the estimate uses the brand's default "
                "of %(num)s business days.",
                basis["typical_business_days"],
            )
        )
    text: str = ngettext(
        "Usually %(num)s business day from %(origin)s to %(destination)s, based on %(count)s "
        "parcels (%(recent)s in the last %(period)s days).",
        "Usually %(num)s business days from %(origin)s to %(destination)s, based on %(count)s "
        "parcels (%(recent)s in the last %(period)s days).",
        basis["typical_business_days"],
        origin=origin or gettext("the warehouse"),
        destination=destination or gettext("this area"),
        count=basis["sample_size"],
        recent=basis["recent_sample_size"],
        period=basis["recent_days"],
    )
    factors = {
        k: v for k, v in (basis.get("factors") or {}).items() if abs(v - 1) >= NOTABLE_FACTOR
    }
    if factors:
        combined = math.prod(factors.values())
        names = [str(FEATURE_NAMES.get(name, name)) for name in factors]
        text += " " + gettext(
            "For this order's %(features)s, about %(factor)s× as long as usual.",
            features=format_list(names, locale=str(get_locale() or "en")),
            factor=format_decimal(round(combined, 1)),
        )
    return text


def _basis(estimate: Estimate, route: Route, calendar: CarrierCalendar) -> dict[str, Any]:
    """What a prediction rests on, as facts; the sentence that explains them is written when
    someone reads them (:func:`explained`), not for every parcel predicted."""
    basis = estimate.basis.to_dict()
    basis["route"] = {
        "carrier": route.carrier,
        "service": route.service,
        "origin": route.origin,
        "region": route.region,
        "postal_prefix": route.postal_prefix,
    }
    basis["anchor_date"] = estimate.anchor.isoformat()
    basis["calendar_days_skipped"] = calendar.skipped_days(estimate.anchor, estimate.promise_date)
    basis["levels"] = {k: round(v, 4) for k, v in estimate.levels.items()}
    return basis


def explained(basis: dict[str, Any] | None, locale: str) -> dict[str, Any] | None:
    """``basis`` with its ``text``: a sentence in ``locale`` (the request's when there is one) on
    what an estimate from the brand's history rests on. A prediction made otherwise (delivered,
    arriving today, a redelivery) has no such sentence."""
    route = (basis or {}).get("route")
    if not basis or "sample_size" not in basis or not isinstance(route, dict):
        return basis
    # jobs and commands speak the brand's language
    with nullcontext() if has_request_context() else force_locale(locale):
        text = describe(
            basis,
            origin=route.get("origin") or "",
            destination=route.get("region") or route.get("postal_prefix") or "",
        )
    return {**basis, "text": text}


def checkout_estimate(
    *,
    session: Session,
    models: ModelStore,
    brand_slug: str,
    postal_code: str,
    service: str | None = None,
    fc_code: str | None = None,
    carrier: str | None = None,
    region: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Dates to show at checkout for a parcel ordered ``now``, with the cut-off countdown."""
    from postpurchase.brands import get_brand

    now = now or utcnow()
    if not postal_code or not postal_code.strip():
        raise EddInputError(400, "missing_postal_code", "postal_code is required")
    if not postal_prefix(postal_code):
        raise EddInputError(
            400, "invalid_postal_code", f"postal_code {postal_code!r} has too few digits"
        )
    brand = get_brand(session=session, slug=brand_slug)
    if brand is None:
        raise EddInputError(404, "unknown_brand", f"no brand {brand_slug!r}")
    assert brand.id is not None
    edd = BrandEdd.of(brand)
    centres = _centres(session, brand.id)
    if fc_code and fc_code not in centres:
        raise EddInputError(
            404, "unknown_fc", f"brand {brand_slug!r} has no fulfilment centre {fc_code!r}"
        )
    fc = centres.get(fc_code) if fc_code else next(iter(centres.values()), None)
    route = Route(
        carrier=carrier or edd.default_carrier,
        service=service or edd.default_service,
        origin=fc.code if fc else "",
        region=region or "",
        postal_prefix=postal_prefix(postal_code),
    )
    setting = edd.setting(centres.values())
    model, _ = load_model(session=session, brand=brand, mode=AsOf.ordered, models=models, edd=edd)
    anchor = setting.anchor(now, shipped=False, origin=route.origin)
    estimate = model.estimate(
        route, anchor, edd.calendar, promise_level=edd.promise_level, window=edd.window
    )
    cutoff_at, seconds = cutoff_countdown(
        now,
        calendar=edd.calendar,
        timezone=fc.timezone if fc else edd.timezone,
        cutoff=parse_cutoff(fc.cutoff_time) if fc else None,
    )
    row = _lead_time(
        session,
        brand_id=brand.id,
        origin=fc.postal_code if fc else None,
        destination=postal_code,
        country=brand.country,
    )
    predicted, window_start, window_end, promise = cold_start(estimate, row, edd.calendar)
    basis = _basis(estimate, model.complete(route), edd.calendar)
    if row is not None:
        basis["lead_time"] = _lead_time_basis(row)
    basis = explained(basis, brand.locale) or basis
    # Not recorded: anyone may ask, so a row per call would let anyone grow the database.
    return {
        "brand": brand.slug,
        "postal_code": postal_code,
        "carrier": route.carrier or None,
        "service": route.service,
        "fc": route.origin or None,
        "dispatch_date": estimate.anchor.isoformat(),
        "predicted_date": predicted.isoformat(),
        "window_start": window_start.isoformat(),
        "window_end": window_end.isoformat(),
        "promise_date": promise.isoformat(),
        "promise_level": edd.promise_level,
        "slots": slot_offers(
            route.carrier,
            predicted,
            depot_arrival_time(row, edd.slot_cutoffs),
            edd.calendar,
            edd.slot_cutoffs,
        ),
        "cutoff": {"at": cutoff_at.isoformat() if cutoff_at else None, "seconds_left": seconds},
        "basis": basis,
    }


def _record(
    *,
    session: Session,
    brand_id: int,
    shipment_id: int | None,
    order_id: int | None,
    trigger: str,
    status: str | None,
    mode: AsOf,
    estimate: Estimate | None,
    promise_level: float,
    fitted_at: datetime | None,
    inputs: dict[str, Any],
    basis: dict[str, Any],
    now: datetime,
    dates: tuple[date, date, date, date] | None = None,
) -> None:
    """Store a prediction with its inputs and basis (a plain INSERT: one per processed event, so no
    ORM object; in a batch, one ``executemany`` for all of them). Without autoflush: the row needs
    nothing pending, and the parcel's new dates then go out in one UPDATE with whatever else this
    unit of work changes on it (its first poll)."""
    if dates is None:
        assert estimate is not None
        dates = (
            estimate.predicted_date,
            estimate.window_start,
            estimate.window_end,
            estimate.promise_date,
        )
    row = {
        "brand_id": brand_id,
        "shipment_id": shipment_id,
        "order_id": order_id,
        "trigger": trigger,
        "status": status,
        "as_of": mode.value,
        "made_at": now,
        "predicted_date": dates[0],
        "window_start": dates[1],
        "window_end": dates[2],
        "promise_date": dates[3],
        "promise_level": promise_level,
        "model_fitted_at": fitted_at,
        "inputs": inputs,
        "basis": basis,
    }
    if batched.insert_later(session, _INSERT_PREDICTION, row):
        return
    with session.no_autoflush:
        session.execute(_INSERT_PREDICTION, [row])


#: Core, not ORM: the ORM's bulk-insert path costs more than the statement for one row.
_INSERT_PREDICTION = insert(table_of(DeliveryPrediction))
#: ``session.info`` key: the stored model version per (brand, mode), read once per unit of work.
_VERSIONS = "edd_model_versions"
#: The default model files' modification times, looked at once per unit of work (a model
#: written meanwhile by ``edd fit`` is used from the next one).
_DEFAULT_STAMPS = "edd_default_model_stamps"
_MODEL_VERSION = select(TransitModelState.id, TransitModelState.fitted_at).where(
    TransitModelState.brand_id == bindparam("brand_id"),
    TransitModelState.as_of == bindparam("as_of"),
)


def predict_for_shipment(
    *,
    session: Session,
    models: ModelStore,
    shipment_id: int,
    now: datetime | None = None,
    trigger: str = "status",
) -> tuple[date, date, date, date] | None:
    """Re-predict one parcel from its current status; write the dates onto it and record them.

    Before hand-over: the as-of-order model from the order time (cut-off and handling of its
    centre). After: the as-of-hand-over model, conditioned on the business days already elapsed.
    Out for delivery or waiting for pickup: today. After a failed attempt: the next
    delivery day. A requested delivery date is never undercut. The promise is set once, at the
    first prediction, and not moved afterwards. Emits ``shipment_prediction_changed`` when the
    predicted date changes. Returns the dates (predicted, window start and end, promise), or None
    when nothing is predicted (exception, return, ...).
    """
    now = now or utcnow()
    shipment = session.get(Shipment, shipment_id)
    if shipment is None or shipment.status in NOT_PREDICTED:
        return None
    brand = session.get(Brand, shipment.brand_id)
    assert brand is not None and brand.id is not None
    edd = BrandEdd.of(brand)
    order = session.get(Order, shipment.order_id) if shipment.order_id else None
    fc = session.get(FulfillmentCentre, shipment.fc_id) if shipment.fc_id else None
    route = Route(
        carrier=shipment.carrier_code,
        service=shipment.service,
        origin=fc.code if fc else "",
        region=shipment.destination_region or "",
        postal_prefix=postal_prefix(shipment.destination_postal_code),
    )
    today = _local_today(now, edd.timezone)
    # Days are counted in the destination's calendar: a JP→US parcel does not move on US holidays.
    calendar = edd.calendar.for_destination(shipment.destination_country)
    mode = AsOf.shipped if shipment.shipped_at else AsOf.ordered
    model, fitted_at = load_model(session=session, brand=brand, mode=mode, models=models, edd=edd)
    setting = edd.setting([fc] if fc else [])
    estimate = None
    status = Status(shipment.status)
    if status is Status.delivered and shipment.delivered_at:
        day = _local_today(shipment.delivered_at, edd.timezone)
        dates = (day, day, day, day)
        basis: dict[str, Any] = {"reason": "delivered"}
    elif status in ARRIVING_TODAY:
        day = max(today, shipment.requested_date or today)
        dates = (day, day, day, day)
        basis = {"reason": "arriving_today" if day == today else "requested_date"}
    elif status is Status.attempt_fail:
        day = max(
            calendar.roll_forward(today + timedelta(days=1)), shipment.requested_date or today
        )
        dates = (day, day, day, day)
        basis = {"reason": "redelivery_next_day", "time_slot": shipment.time_slot}
    else:
        moment = shipment.shipped_at or (order.placed_at if order else None) or shipment.created_at
        anchor = setting.anchor(
            moment, shipped=shipment.shipped_at is not None, origin=route.origin
        )
        elapsed = calendar.business_days_between(anchor, today) if shipment.shipped_at else 0
        lines = order_lines(session, order.id) if order and order.id is not None else []
        features = order_features(shipment, order, lines)
        estimate = model.estimate(
            route,
            anchor,
            calendar,
            promise_level=edd.promise_level,
            window=edd.window,
            elapsed=min(max(elapsed, 0), YMAX),
            features=features,
        )
        row = _lead_time(
            session,
            brand_id=brand.id,
            origin=fc.postal_code if fc else None,
            destination=shipment.destination_postal_code,
            country=shipment.destination_country or brand.country,
        )
        dates = cold_start(estimate, row, calendar)
        basis = _basis(estimate, model.complete(route), calendar)
        basis["order_features"] = features.to_dict()
        basis["destination_country"] = calendar.country
        if row is not None:
            basis["lead_time"] = _lead_time_basis(row)
        slot = find_slot(shipment.carrier_code, shipment.time_slot, edd.slot_cutoffs)
        if slot is not None:
            scanned = shipment.last_event_at if status is Status.in_transit else None
            dates, basis["slot"] = slot_aware(
                dates,
                slot=slot,
                arrival=depot_arrival_time(row, edd.slot_cutoffs),
                last_scan=scanned.astimezone(ZoneInfo(edd.timezone)) if scanned else None,
                calendar=calendar,
            )
        dates = _respect_request(dates, shipment.requested_date)
        if status in CUSTOMS_HOLD:
            stage = customs_stage(
                session=session,
                brand_id=brand.id,
                calendar=calendar,
                timezone=edd.timezone,
                now=now,
            )
            entered = entered_customs(session=session, shipment_id=shipment_id)
            since = _local_today(entered, edd.timezone) if entered else today
            dates, basis["customs"] = _after_customs(dates, status, calendar, stage, since, today)
    if shipment.time_slot:
        basis["time_slot"] = str(shipment.time_slot)
    previous = shipment.predicted_date
    shipment.predicted_date, shipment.window_start, shipment.window_end = (
        dates[0],
        dates[1],
        dates[2],
    )
    if shipment.promised_date is None:
        shipment.promised_date = dates[3]
    shipment.updated_at = now
    inputs = {
        "status": status.value,
        "sub_status": shipment.sub_status,
        "shipped_at": _iso(shipment.shipped_at),
        "ordered_at": _iso(order.placed_at if order else None),
        "requested_date": _iso(shipment.requested_date),
        "time_slot": str(shipment.time_slot) if shipment.time_slot else None,
        "route": basis.get("route"),
    }
    _record(
        session=session,
        brand_id=brand.id,
        shipment_id=shipment.id,
        order_id=shipment.order_id,
        trigger=trigger,
        status=status.value,
        mode=mode,
        estimate=estimate,
        promise_level=edd.promise_level,
        fitted_at=fitted_at,
        inputs=inputs,
        basis=basis,
        now=now,
        dates=dates,
    )
    if previous != shipment.predicted_date:
        signals.shipment_prediction_changed.send(
            shipment.id,
            session=session,
            brand_id=brand.id,
            previous_date=previous,
            predicted_date=shipment.predicted_date,
            promised_date=shipment.promised_date,
            now=now,
        )
    return dates


def _lead_time(
    session: Session,
    *,
    brand_id: int,
    origin: str | None,
    destination: str | None,
    country: str | None,
) -> LeadTimeRow | None:
    """The lead-time row of a route inside Japan (the brand's table, else the default), or None."""
    if (country or "JP").upper() != "JP":
        return None
    return lookup(brand_table(session=session, brand_id=brand_id), origin, destination)


def _lead_time_basis(row: LeadTimeRow) -> dict[str, Any]:
    """The lead-time row an estimate was blended with (cold start)."""
    return {
        "origin": row.origin,
        "destination": row.destination,
        "days": row.days,
        "earliest_slot": row.earliest_slot or None,
    }


def _after_customs(
    dates: tuple[date, date, date, date],
    status: Status,
    calendar: CarrierCalendar,
    stage: CustomsStage,
    since: date,
    today: date,
) -> tuple[tuple[date, date, date, date], dict[str, Any]]:
    """Customs holding the parcel is a state of its own: no date before it can be released.

    The parcel leaves customs the lane's customs stage (:mod:`postpurchase.edd.customs`) in
    destination business days after ``since``, the day customs first had it, and not before today;
    it needs one more business day to reach the door. Dates the model put later stand.
    """
    released = max(
        calendar.add_business_days(calendar.roll_forward(since), stage.business_days),
        calendar.roll_forward(today),
    )
    earliest = calendar.add_business_days(released, 1)
    predicted, start, end, promise = dates
    moved = (max(predicted, earliest), max(start, earliest), max(end, earliest), promise)
    return moved, {
        "state": status.value,
        **stage.basis(),
        "entered": since.isoformat(),
        "earliest_release": released.isoformat(),
    }


def _respect_request(
    dates: tuple[date, date, date, date], requested: date | None
) -> tuple[date, date, date, date]:
    if requested is None:
        return dates
    predicted, start, end, promise = (max(d, requested) for d in dates)
    return predicted, start, end, promise


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value else None


def shipment_basis(
    *, session: Session, brand_id: int | None, shipment_id: int
) -> dict[str, Any] | None:
    """A parcel's dates and its predictions, newest first, each with inputs and basis."""
    shipment = session.get(Shipment, shipment_id)
    if shipment is None or shipment.brand_id != brand_id:
        return None
    brand = session.get(Brand, brand_id)
    assert brand is not None  # the parcel is the brand's
    predictions = session.exec(
        select(DeliveryPrediction)
        .where(DeliveryPrediction.shipment_id == shipment_id)
        .order_by(col(DeliveryPrediction.id).desc())
    ).all()
    history = [
        {
            "made_at": p.made_at.isoformat(),
            "trigger": p.trigger,
            "status": p.status,
            "as_of": p.as_of,
            "predicted_date": p.predicted_date.isoformat(),
            "window_start": p.window_start.isoformat(),
            "window_end": p.window_end.isoformat(),
            "promise_date": p.promise_date.isoformat(),
            "promise_level": p.promise_level,
            "inputs": p.inputs,
            "basis": explained(p.basis, brand.locale),
        }
        for p in predictions
    ]
    return {
        "id": shipment.id,
        "shipment_id": shipment.external_id,
        "status": str(shipment.status),
        "predicted_date": _iso(shipment.predicted_date),
        "window_start": _iso(shipment.window_start),
        "window_end": _iso(shipment.window_end),
        "promised_date": _iso(shipment.promised_date),
        "basis": history[0]["basis"] if history else None,
        "predictions": history,
    }
