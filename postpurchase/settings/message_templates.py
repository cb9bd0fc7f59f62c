"""A brand's own wording of its messages: template texts per trigger, locale and part, stored in the
database (``MessageTemplate``) so every machine of an installation sends the same words, edited
through the three doors of the settings (console, API, command line), previewed with sample data and
recorded in the audit log like any setting.

The renderer (:mod:`postpurchase.messaging.render`) prefers a brand's own text to the files. An
empty text removes the brand's own one: the message goes back to the shipped wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from jinja2 import Environment, TemplateError, TemplateNotFound
from sqlmodel import Session

from postpurchase import audit
from postpurchase.clock import utcnow
from postpurchase.i18n import SUPPORTED_LOCALES
from postpurchase.messaging.catalogue import CATALOGUE, Trigger
from postpurchase.messaging.config import trigger_settings
from postpurchase.messaging.operations import sample_context
from postpurchase.messaging.own_templates import all_own, own_sources
from postpurchase.messaging.render import Rendered, candidates, render_message
from postpurchase.models import AuditEntry, Brand, Channel, MessageTemplate
from postpurchase.models.types import id_of
from postpurchase.settings import operations

#: The audit action of a template change; its subject is ``templates.<trigger>.<locale>.<part>``.
TEMPLATE = "settings.template"
#: The parts a merchant edits: the email's subject and text, and the short form of SMS and LINE.
PARTS = ("subject.txt", "txt", "short.txt")
MAX_CHARS = 20_000
#: The languages a template is written in.
LOCALES = tuple(SUPPORTED_LOCALES)


class TemplateInvalid(ValueError):
    """A template that does not parse or render with sample data; ``errors`` maps part → message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class UnknownTemplate(LookupError):
    """No such trigger or locale; ``field`` names which (``trigger`` or ``locale``)."""

    def __init__(self, field: str, value: str) -> None:
        super().__init__(f"{field}: no such {field} {value!r}")
        self.field = field


def triggers() -> list[str]:
    """The triggers whose messages a brand may word, in the catalogue's order."""
    return [str(t) for t in CATALOGUE]


def check_key(trigger: str, locale: str) -> None:
    """Raise :class:`UnknownTemplate` unless ``trigger`` and ``locale`` name a template."""
    if trigger not in triggers():
        raise UnknownTemplate("trigger", trigger)
    if locale not in LOCALES:
        raise UnknownTemplate("locale", locale)


@dataclass(frozen=True)
class Draft:
    trigger: str
    locale: str
    #: Part → source; an empty source means the shipped wording.
    sources: dict[str, str]


def current_sources(
    *, session: Session, templates: Environment, brand: Brand, trigger: str, locale: str
) -> dict[str, str]:
    """Per part: the brand's own text, else the file's (the shipped one; '' when there is none)."""
    own = own_sources(session=session, brand_id=id_of(brand), trigger=trigger, locale=locale)
    template = trigger_settings(brand, trigger).template
    result = {}
    for part in PARTS:
        if part in own:
            result[part] = own[part]
            continue
        result[part] = ""
        for name in candidates(brand.slug, template, None, locale, part):
            try:
                # The app's environment always has a loader; Jinja types it as optional.
                result[part], _, _ = templates.loader.get_source(templates, name)  # type: ignore[union-attr]
            except TemplateNotFound:
                continue
            break
    return result


def render_draft(
    *, templates: Environment, brand: Brand, draft: Draft, channel: Channel, today: date
) -> Rendered:
    """The message as the draft would send it, with sample data in the draft's locale.

    Raises :class:`TemplateInvalid` naming the part that does not parse or render."""
    errors = {}
    drafts = {}
    for part, source in draft.sources.items():
        if len(source) > MAX_CHARS:
            errors[part] = f"At most {MAX_CHARS} characters."
            continue
        if "\x00" in source:
            errors[part] = "Must not contain NUL (U+0000)."
            continue
        try:
            templates.parse(source)
        except TemplateError as exc:
            errors[part] = f"{exc.message} (line {getattr(exc, 'lineno', '?')})"
        if source.strip():
            drafts[part] = source
    if errors:
        raise TemplateInvalid(errors)
    try:
        return render_message(
            templates=templates,
            brand_slug=brand.slug,
            template=trigger_settings(brand, draft.trigger).template,
            variant=None,
            locale=draft.locale,
            channel=channel,
            context=sample_context(brand, draft.trigger, draft.locale, today),
            own=drafts,
        )
    except TemplateError as exc:
        raise TemplateInvalid({"txt": str(exc.message or exc)}) from None


def save(
    *,
    session: Session,
    templates: Environment,
    brand: Brand,
    draft: Draft,
    actor: str,
    today: date,
) -> list[str]:
    """Store the draft's parts that changed (after it renders on every channel), one audit entry
    each; a part the draft leaves out keeps its text. Returns the parts changed."""
    check_key(draft.trigger, draft.locale)
    current = current_sources(
        session=session,
        templates=templates,
        brand=brand,
        trigger=draft.trigger,
        locale=draft.locale,
    )
    whole = Draft(draft.trigger, draft.locale, {**current, **draft.sources})
    for channel in (Channel.email, Channel.sms):
        render_draft(templates=templates, brand=brand, draft=whole, channel=channel, today=today)
    own = own_sources(
        session=session, brand_id=id_of(brand), trigger=draft.trigger, locale=draft.locale
    )
    changed = []
    for part, source in draft.sources.items():
        text = source.replace("\r\n", "\n")
        # The shipped text shown unchanged, or cleared where the brand has none: nothing to do.
        if text == current[part] or (not text.strip() and part not in own):
            continue
        write(
            session=session,
            brand=brand,
            subject=f"templates.{draft.trigger}.{draft.locale}.{part}",
            source=text if text.strip() else None,
            actor=actor,
        )
        changed.append(part)
    return changed


def write(*, session: Session, brand: Brand, subject: str, source: str | None, actor: str) -> None:
    """Set (or with an empty ``source``, remove) the brand's own text of ``subject``, recorded."""
    _, trigger, locale, part = subject.split(".", 3)
    row = session.get(MessageTemplate, (id_of(brand), trigger, locale, part))
    before = row.source if row else None
    if source:
        row = row or MessageTemplate(
            brand_id=id_of(brand), trigger=Trigger(trigger), locale=locale, part=part, source=source
        )
        row.source, row.updated_at = source, utcnow()
        session.add(row)
    elif row is not None:
        session.delete(row)
    session.flush()
    audit.record(
        session=session,
        brand_id=brand.id,
        actor=actor,
        action=TEMPLATE,
        subject=subject,
        before=before,
        after=source or None,
    )


def undo(*, session: Session, brand: Brand, audit_entry_id: int, actor: str) -> None:
    """Undo a settings or template change of ``brand`` (the history page's one button).

    Raises :class:`~postpurchase.settings.operations.EntryNotFound` for another brand's entry."""
    entry = session.get(AuditEntry, audit_entry_id)
    if entry is not None and entry.brand_id == brand.id and entry.action == TEMPLATE:
        write(session=session, brand=brand, subject=entry.subject, source=entry.before, actor=actor)
        return
    operations.undo(session=session, brand=brand, audit_entry_id=audit_entry_id, actor=actor)


def exported(*, session: Session, brand: Brand) -> dict[str, dict[str, dict[str, str]]]:
    """The brand's own texts as ``{trigger: {locale: {part: source}}}`` (what an export holds)."""
    result: dict[str, dict[str, dict[str, str]]] = {}
    for row in all_own(session=session, brand_id=id_of(brand)):
        result.setdefault(str(row.trigger), {}).setdefault(row.locale, {})[row.part] = row.source
    return result


def replace_all(
    *,
    session: Session,
    templates: Environment,
    brand: Brand,
    document: Any,
    actor: str,
    today: date,
) -> list[str]:
    """Make ``document`` (``{trigger: {locale: {part: source}}}``) the brand's own texts: what it
    leaves out goes back to the shipped wording. Every draft is checked before anything changes;
    :class:`TemplateInvalid` names ``trigger.locale.part``. Returns the subjects changed."""
    if not isinstance(document, Mapping):
        raise TemplateInvalid({"templates": "Must be a mapping of triggers to locales to parts."})
    wanted: dict[str, str] = {}
    for trigger, locales in document.items():
        for locale, parts in (
            (locales or {}).items() if isinstance(locales, Mapping) else [(None, None)]
        ):
            try:
                check_key(str(trigger), str(locale))
            except UnknownTemplate as exc:
                raise TemplateInvalid({f"{trigger}.{locale}": str(exc)}) from None
            if not isinstance(parts, Mapping) or set(parts) - set(PARTS):
                raise TemplateInvalid(
                    {f"{trigger}.{locale}": f"Must map parts ({', '.join(PARTS)}) to texts."}
                )
            draft = Draft(str(trigger), str(locale), {p: str(v or "") for p, v in parts.items()})
            try:
                for channel in (Channel.email, Channel.sms):
                    render_draft(
                        templates=templates, brand=brand, draft=draft, channel=channel, today=today
                    )
            except TemplateInvalid as exc:
                raise TemplateInvalid(
                    {f"{trigger}.{locale}.{p}": m for p, m in exc.errors.items()}
                ) from None
            wanted.update(
                {f"templates.{trigger}.{locale}.{p}": t for p, t in draft.sources.items() if t}
            )
    have = {
        f"templates.{row.trigger}.{row.locale}.{row.part}": row.source
        for row in all_own(session=session, brand_id=id_of(brand))
    }
    changed = []
    for subject in sorted(set(wanted) | set(have)):
        if wanted.get(subject) != have.get(subject):
            write(
                session=session,
                brand=brand,
                subject=subject,
                source=wanted.get(subject),
                actor=actor,
            )
            changed.append(subject)
    return changed
