"""``/api/v1/settings``: the brand's settings as one JSON document, and its message templates per
trigger and locale (brand API key)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, Field

from postpurchase.clock import utcnow
from postpurchase.db import get_session
from postpurchase.inbox.jsonbody import BadJson, loads
from postpurchase.messaging import current_settings
from postpurchase.messaging.own_templates import own_sources
from postpurchase.models import Brand
from postpurchase.settings import message_templates, operations
from postpurchase.settings.errors import translated
from postpurchase.settings.model import SettingsInvalid
from postpurchase.web.apidoc import Route
from postpurchase.web.auth import bearer_token, require_brand
from postpurchase.web.errors import ApiError

settings_api = Blueprint("settings_api", __name__, url_prefix="/api/v1")


def api_actor() -> str:
    """Who changed the settings, for the history: the key's first characters, never the key."""
    return f"api:{(bearer_token() or '')[:8]}"


def _body() -> Any:
    try:
        return loads(request.get_data())
    except BadJson as exc:
        raise ApiError(400, exc.code, exc.message, [{"loc": "body", "msg": exc.message}]) from None


@settings_api.get("/settings")
def get_settings() -> ResponseReturnValue:
    return operations.document(require_brand())


@settings_api.put("/settings")
def put_settings() -> ResponseReturnValue:
    brand = require_brand()
    patch = _body()
    if not isinstance(patch, dict):
        message = "The body must be a JSON object: the settings, or some of them."
        raise ApiError(400, "invalid_settings", message, [{"loc": "body", "msg": message}])
    session = get_session()
    try:
        operations.update(session=session, brand=brand, patch=patch, actor=api_actor())
    except SettingsInvalid as exc:
        details = translated(exc.errors)
        first = details[0]
        raise ApiError(
            400, "invalid_settings", f"{first['loc']}: {first['msg']}", details
        ) from None
    session.commit()
    return operations.document(brand)


# Message templates ---------------------------------------------------------------------------


class TemplatePart(BaseModel):
    #: The text in use: the brand's own, else the shipped one ('' when there is none).
    source: str
    #: Whether the text is the brand's own (false: the shipped wording).
    own: bool


class MessageTemplateTexts(BaseModel):
    """A trigger's message in one locale: each part's text, the brand's own or the shipped one."""

    trigger: str
    locale: str
    parts: dict[str, TemplatePart] = Field(
        description="By part: `subject.txt` (email subject), `txt` (email text), "
        "`short.txt` (SMS and LINE)."
    )


def _template_texts(brand: Brand, trigger: str, locale: str) -> dict[str, Any]:
    session = get_session()
    try:
        message_templates.check_key(trigger, locale)
    except message_templates.UnknownTemplate as exc:
        raise ApiError(404, "not_found", str(exc), [{"loc": exc.field, "msg": str(exc)}]) from None
    own = own_sources(session=session, brand_id=brand.id or 0, trigger=trigger, locale=locale)
    sources = message_templates.current_sources(
        session=session,
        templates=current_settings().templates,
        brand=brand,
        trigger=trigger,
        locale=locale,
    )
    return MessageTemplateTexts(
        trigger=trigger,
        locale=locale,
        parts={p: TemplatePart(source=sources[p], own=p in own) for p in message_templates.PARTS},
    ).model_dump(mode="json")


@settings_api.get("/settings/templates/<trigger>/<locale>")
def get_template(trigger: str, locale: str) -> ResponseReturnValue:
    return _template_texts(require_brand(), trigger, locale)


@settings_api.put("/settings/templates/<trigger>/<locale>")
def put_template(trigger: str, locale: str) -> ResponseReturnValue:
    brand = require_brand()
    _template_texts(brand, trigger, locale)  # 404 for an unknown trigger or locale
    body = _body()
    parts = message_templates.PARTS
    if not isinstance(body, dict) or any(
        k not in parts or not isinstance(v, str | None) for k, v in body.items()
    ):
        message = f"The body must be a JSON object of parts ({', '.join(parts)}) to texts or null."
        raise ApiError(400, "invalid_template", message, [{"loc": "body", "msg": message}])
    draft = message_templates.Draft(trigger, locale, {k: v or "" for k, v in body.items()})
    session = get_session()
    try:
        message_templates.save(
            session=session,
            templates=current_settings().templates,
            brand=brand,
            draft=draft,
            actor=api_actor(),
            today=utcnow().date(),
        )
    except message_templates.TemplateInvalid as exc:
        details = [{"loc": part, "msg": msg} for part, msg in exc.errors.items()]
        first = details[0]
        raise ApiError(
            422, "invalid_template", f"{first['loc']}: {first['msg']}", details
        ) from None
    session.commit()
    return _template_texts(brand, trigger, locale)


TEMPLATE_PATHS = {
    "trigger": "The trigger, e.g. `shipped` (the console's template page lists them).",
    "locale": "The language of the message: `ja` or `en`.",
}
ROUTES = {
    "settings_api.get_template": Route(
        summary="A message template: each part's text, the brand's own or the shipped one",
        answers={200: ("The template's parts.", MessageTemplateTexts)},
        errors=(404,),
        path_descriptions=TEMPLATE_PATHS,
    ),
    "settings_api.put_template": Route(
        summary="Change the brand's own text of a message template",
        description=(
            "Send the parts to change (`subject.txt`, `txt`, `short.txt`); an empty text or null "
            "goes back to the shipped wording, a part left out keeps its text. Nothing is stored "
            "unless every part parses and renders with sample data; a bad part is a 422 whose "
            '`details` name it and the template error (`{"loc": "txt", "msg": ...}`). Each '
            "change is recorded in the brand's history, which the console can undo."
        ),
        answers={200: ("The template after the change.", MessageTemplateTexts)},
        errors=(400, 404, 413, 422),
        path_descriptions=TEMPLATE_PATHS,
        request_body={
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            p: {"type": ["string", "null"]} for p in message_templates.PARTS
                        },
                        "additionalProperties": False,
                    }
                }
            },
        },
    ),
}
