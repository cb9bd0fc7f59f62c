"""The console's settings pages: one per part of the settings, message templates with a live
preview, the logo, and the history of changes with an undo button (``/merchant/settings``)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale

from postpurchase.branding import LOGO_MIMETYPES, logo_file
from postpurchase.clock import utcnow
from postpurchase.db import get_session
from postpurchase.i18n import SUPPORTED_LOCALES, format_local_time
from postpurchase.i18n import gettext as _
from postpurchase.i18n import lazy_gettext as _l
from postpurchase.messaging import current_settings
from postpurchase.messaging.catalogue import CATALOGUE, Trigger
from postpurchase.models import Brand, Channel, MerchantUser
from postpurchase.models.enums import LabelPayment
from postpurchase.returns.wording import RESOLUTION_LABELS
from postpurchase.settings import message_templates, operations
from postpurchase.settings.errors import translated
from postpurchase.settings.forms import (
    LOGO,
    PAGES,
    RADIO_MAX,
    Page,
    field_of,
    form_values,
    patch_from_form,
    widget,
)
from postpurchase.settings.model import SettingsInvalid, settings_for
from postpurchase.web.merchant import check_csrf, current_merchant_user, require_merchant
from postpurchase.web.params import Params
from postpurchase.web.wording import CHANNEL_LABELS

merchant_settings = Blueprint("merchant_settings", __name__, url_prefix="/merchant/settings")

#: Logos larger than this are refused (a logo is shown small; big files only slow pages).
MAX_LOGO_BYTES = 512 * 1024
#: Image types by their first bytes; what the browser says a file is counts for nothing.
IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
    (b"\xff\xd8\xff", "jpg", "image/jpeg"),
    (b"GIF87a", "gif", "image/gif"),
    (b"GIF89a", "gif", "image/gif"),
)

PAGE_TITLES = {
    "returns": _l("Return policy"),
    "messaging": _l("Messages"),
    "triggers": _l("Message triggers"),
    "delivery": _l("Delivery dates"),
    "reports": _l("Reports"),
    "exceptions": _l("Exception queue"),
    "carriers": _l("Carriers"),
    "branding": _l("Branding"),
    "kitting": _l("Unboxing kits"),
    "categories": _l("Product categories"),
}

#: Field labels by the last part of the path.
LABELS = {
    "window_days": _l("Return window (days after delivery)"),
    "auto_approve": _l("Approve requests automatically"),
    "final_sale_returnable": _l("Final-sale items can be returned"),
    "categories": _l("Categories that cannot be returned (JSON)"),
    "resolutions": _l("Resolutions offered"),
    "reasons": _l("Return reasons per language (JSON)"),
    "address": _l("Return address (one line each)"),
    "label_payment": _l("Who pays the return parcel"),
    "wms_webhook_url": _l("WMS webhook URL"),
    "start": _l("Quiet hours start (HH:MM)"),
    "end": _l("Quiet hours end (HH:MM)"),
    "daily_cap": _l("Messages per customer per day at most"),
    "retry_max_hours": _l("Retry failed sends for (hours)"),
    "max_attempts": _l("Attempts at most (empty: no limit)"),
    "name": _l("Sender name"),
    "email": _l("Sender email"),
    "contact": _l("Sender contact (phone or URL)"),
    "rules": _l("Segment rules (JSON)"),
    "blocks": _l("Content blocks (JSON)"),
    "care": _l("Care instructions (JSON)"),
    "catalog": _l("Recommended items (JSON)"),
    "consumables": _l("Days a consumable lasts (JSON)"),
    "pickup_hold_days": _l("Days a pickup point holds a parcel"),
    "webhook_url": _l("Webhook channel URL"),
    "line_notification_templates": _l("LINE notification templates (JSON)"),
    "reorder_url": _l("Reorder URL"),
    "enabled": _l("Send"),
    "delay_minutes": _l("Delay (minutes)"),
    "channels": _l("Channels (none ticked: the default)"),
    "template": _l("Template name"),
    "quiet_hours": _l("Respect quiet hours"),
    "stale_after_hours": _l("Too late after (hours)"),
    "send_at": _l("Send at (HH:MM)"),
    "delay_hours": _l("Delay (hours)"),
    "delay_days": _l("Delay (days)"),
    "lead_days": _l("Days before running out"),
    "promise_level": _l("Promise level (share of parcels on time, 0.5–0.99)"),
    "window": _l("Date window quantiles (JSON)"),
    "workdays": _l("Carrier workdays (0 = Monday, one per line)"),
    "closures": _l("Closures (JSON)"),
    "holidays": _l("Carriers rest on public holidays"),
    "closed_dates": _l("Closed dates (YYYY-MM-DD, one per line)"),
    "default_business_days": _l("Business days before any delivery is known"),
    "default_carrier": _l("Default carrier"),
    "default_service": _l("Default service"),
    "model": _l("Model tuning (JSON, for experts)"),
    "slot_cutoffs": _l("Depot cut-off per time slot (JSON: slot code → HH:MM)"),
    "stalled_business_days": _l("Stalled after (business days without a scan)"),
    "lost_business_days": _l("Suspected lost after (business days without a scan)"),
    "weekly_to": _l("Weekly report recipients (one email per line)"),
    "monthly_to": _l("Monthly report recipients (one email per line)"),
    "redelivery_reference": _l("Reference redelivery rate to compare with (0–1)"),
    "carrier_routes": _l("Routes: carrier → adapter (JSON)"),
    "color": _l("Colour (#rrggbb)"),
    "logo": _l("Logo"),
    "footer": _l("Message footer"),
    "shop_url": _l("Shop URL"),
    "contact_url": _l("Contact page URL"),
    "faq_url": _l("FAQ URL"),
    "category_names": _l("Category names per language (JSON: category → language → name)"),
}
#: Where two parts share a field name, the part's own words.
PATH_LABELS = {
    "messaging.sender.address": _l("Sender address"),
    "kitting.rules": _l("Kits (JSON)"),
    "kitting.webhook_url": _l("Kitting instructions URL (empty: the returns WMS webhook URL)"),
}


#: Words for the values of single- and multiple-choice fields ("" keeps the default).
OPTION_LABELS: dict[Any, Any] = {
    "": _l("Default"),
    "true": _l("Yes"),
    "false": _l("No"),
    **CHANNEL_LABELS,
    **RESOLUTION_LABELS,
    LabelPayment.cash_on_delivery: _l("Cash on delivery (着払い): the shop pays"),
    LabelPayment.prepaid: _l("Prepaid (元払い): you pay at hand-over"),
}


def option_label(value: str) -> str:
    return str(OPTION_LABELS.get(value, value))


def label(path: str) -> str:
    return str(PATH_LABELS.get(path) or LABELS.get(path.rsplit(".", 1)[-1], path))


def actor() -> str:
    user: MerchantUser | None = current_merchant_user()
    return f"user:{user.email}" if user else "user"


def _page(slug: str) -> Page:
    return next(page for page in PAGES if page.slug == slug)


def _groups(page: Page) -> list[tuple[str | None, list[str]]]:
    """The page's fields, grouped by trigger on the triggers page."""
    if page.slug != "triggers":
        return [(None, page.paths())]
    groups: dict[str, list[str]] = {}
    for path in page.paths():
        groups.setdefault(path.split(".")[2], []).append(path)
    # The path segment is a trigger's value; Trigger is a StrEnum, so the str finds its entry.
    return [(str(CATALOGUE[t].label), paths) for t, paths in groups.items()]  # type: ignore[index]


def _render_page(
    brand: Brand, page: Page, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> Any:
    return (
        render_template(
            "pages/settings/part.html",
            brand=brand,
            page=page,
            pages=PAGES,
            titles=PAGE_TITLES,
            groups=_groups(page),
            values=values,
            errors=errors,
            widget=widget,
            label=label,
            option_label=option_label,
            radio_max=RADIO_MAX,
            saved=request.args.get("saved") == "1",
            logo=settings_for(brand).branding.logo,
            max_logo_kib=MAX_LOGO_BYTES // 1024,
        ),
        status,
    )


def _part_view(page: Page) -> Any:
    @require_merchant
    def view(brand: Brand) -> Any:
        if request.method == "GET":
            return _render_page(brand, page, form_values(page, operations.document(brand)), {})
        check_csrf()
        patch, errors = patch_from_form(page, request.form)
        if not errors:
            session = get_session()
            try:
                operations.update(session=session, brand=brand, patch=patch, actor=actor())
            except SettingsInvalid as exc:
                for error in translated(exc.errors):
                    errors.setdefault(field_of(error["loc"], page.paths()), error["msg"])
            else:
                session.commit()
                return redirect(url_for(request.endpoint or "", saved=1))
        values = {path: _submitted(path) for path in page.paths()}
        return _render_page(brand, page, values, errors, 400)

    view.__name__ = f"part_{page.slug}"
    return view


def _submitted(path: str) -> Any:
    return (
        request.form.getlist(path) if widget(path).kind == "choices" else request.form.get(path, "")
    )


for _each in PAGES:
    merchant_settings.add_url_rule(
        f"/{_each.slug}", f"part_{_each.slug}", _part_view(_each), methods=["GET", "POST"]
    )


@merchant_settings.get("/")
@require_merchant
def index(brand: Brand) -> Any:
    return render_template(
        "pages/settings/index.html", brand=brand, pages=PAGES, titles=PAGE_TITLES
    )


# Templates -----------------------------------------------------------------------------------


def _template_choice(brand: Brand, source: Any) -> tuple[str, str, Channel]:
    params = Params(source)
    triggers = [str(t) for t in CATALOGUE]
    trigger = params.choice("trigger", triggers, Trigger.shipped) or Trigger.shipped
    default_locale = brand.locale if brand.locale in SUPPORTED_LOCALES else "ja"
    locale = params.locale("locale", default_locale) or default_locale
    channel = params.enum("channel", Channel, Channel.email) or Channel.email
    return trigger, locale, channel


@merchant_settings.route("/templates", methods=["GET", "POST"])
@require_merchant
def templates(brand: Brand) -> Any:
    messaging = current_settings()
    session = get_session()
    source = request.form if request.method == "POST" else request.args
    trigger, locale, channel = _template_choice(brand, source)
    today = utcnow().date()
    errors: dict[str, str] = {}
    saved = request.args.get("saved") == "1"
    if request.method == "POST":
        check_csrf()
        sources = {part: request.form.get(part, "") for part in message_templates.PARTS}
    else:
        sources = message_templates.current_sources(
            session=session,
            templates=messaging.templates,
            brand=brand,
            trigger=trigger,
            locale=locale,
        )
    draft = message_templates.Draft(trigger=trigger, locale=locale, sources=sources)
    if request.method == "POST" and request.form.get("action") == "save":
        try:
            message_templates.save(
                session=session,
                templates=messaging.templates,
                brand=brand,
                draft=draft,
                actor=actor(),
                today=today,
            )
        except message_templates.TemplateInvalid as exc:
            errors = exc.errors
        else:
            session.commit()
            return redirect(
                url_for(
                    ".templates", trigger=trigger, locale=locale, channel=channel.value, saved=1
                )
            )
    rendered = None
    if not errors:
        try:
            rendered = message_templates.render_draft(
                templates=messaging.templates,
                brand=brand,
                draft=draft,
                channel=channel,
                today=today,
            )
        except message_templates.TemplateInvalid as exc:
            errors = exc.errors
    fragment = request.headers.get("X-Preview") == "1"
    return (
        render_template(
            "pages/settings/preview.html" if fragment else "pages/settings/templates.html",
            brand=brand,
            pages=PAGES,
            titles=PAGE_TITLES,
            trigger=trigger,
            locale=locale,
            channel=channel,
            triggers=[(str(t), str(spec.label)) for t, spec in CATALOGUE.items()],
            channels=list(Channel),
            parts=message_templates.PARTS,
            sources=sources,
            rendered=rendered,
            errors=errors,
            saved=saved,
        ),
        400 if errors and request.form.get("action") == "save" else 200,
    )


# Logo ----------------------------------------------------------------------------------------


def sniff_image(data: bytes) -> str | None:
    """The file extension of an image we accept, judged by its bytes; None for anything else."""
    for signature, extension, _mimetype in IMAGE_SIGNATURES:
        if data.startswith(signature):
            return extension
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


@merchant_settings.post("/branding/logo")
@require_merchant
def upload_logo(brand: Brand) -> Any:
    check_csrf()
    page = _page("branding")
    values = form_values(page, operations.document(brand))
    upload = request.files.get("logo")
    data = upload.read(MAX_LOGO_BYTES + 1) if upload else b""
    extension = sniff_image(data)
    error = None
    if not data:
        error = _("Choose an image file.")
    elif len(data) > MAX_LOGO_BYTES:
        error = _("The logo may be at most %(kib)d KiB.", kib=MAX_LOGO_BYTES // 1024)
    elif extension is None:
        error = _("The logo must be a PNG, JPEG, GIF or WebP image.")
    if error is not None:
        return _render_page(brand, page, values, {LOGO: error}, 400)
    name = f"{hashlib.sha256(data).hexdigest()}.{extension}"
    path = logo_file(current_app.instance_path, brand.slug, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    session = get_session()
    operations.update(
        session=session, brand=brand, patch={"branding": {"logo": name}}, actor=actor()
    )
    session.commit()
    return redirect(url_for(".part_branding", saved=1))


@merchant_settings.get("/branding/logo")
@require_merchant
def logo(brand: Brand) -> Any:
    name = settings_for(brand).branding.logo
    path = logo_file(current_app.instance_path, brand.slug, name) if name else None
    if path is None or not path.is_file():
        abort(404, description="This brand has no logo.")
    response = send_file(path, mimetype=LOGO_MIMETYPES[path.suffix.lstrip(".")], max_age=300)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


# History -------------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 300 else text[:300] + "…"


@merchant_settings.get("/history")
@require_merchant
def history(brand: Brand) -> Any:
    params = Params(request.args)
    before = params.id("before")
    rows = operations.history(session=get_session(), brand_id=brand.id or 0, before_id=before)
    locale = str(get_locale())
    entries = [
        {
            "id": row.id,
            "at": format_local_time(row.at, brand.timezone, locale),
            "actor": row.actor,
            "what": row.subject,
            "undone": row.action == operations.UNDO,
            "before": _shown(row.before),
            "after": _shown(row.after),
        }
        for row in rows
    ]
    next_before = rows[-1].id if len(rows) == operations.HISTORY_PAGE else None
    return render_template(
        "pages/settings/history.html",
        brand=brand,
        pages=PAGES,
        titles=PAGE_TITLES,
        entries=entries,
        next_before=next_before,
        undone=request.args.get("undone") == "1",
    )


@merchant_settings.post("/history/<int:entry_id>/undo")
@require_merchant
def undo(brand: Brand, entry_id: int) -> Any:
    check_csrf()
    session = get_session()
    try:
        message_templates.undo(
            session=session,
            brand=brand,
            audit_entry_id=entry_id,
            actor=actor(),
        )
    except operations.EntryNotFound:
        abort(404, description=f"entry_id: no settings change {entry_id} for this brand")
    except SettingsInvalid as exc:
        abort(409, description=str(exc))
    session.commit()
    return redirect(url_for(".history", undone=1))


def init_app(app: Flask) -> None:
    from postpurchase.web.merchant import add_merchant_link

    app.register_blueprint(merchant_settings)
    add_merchant_link(app, "merchant_settings.index", _l("Settings"))
