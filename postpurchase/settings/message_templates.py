"""A brand's own wording of its messages: template files in the instance folder, edited in the
console, previewed with sample data, recorded in the audit log like any setting.

The files are where :mod:`postpurchase.messaging.render` looks first
(``emails/<brand>/<locale>/<template>.<part>``), so a saved template is used by the next message.
An empty text removes the brand's file: the message goes back to the shipped wording.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jinja2 import ChoiceLoader, DictLoader, Environment, TemplateError, TemplateNotFound
from sqlmodel import Session

from postpurchase import audit
from postpurchase.messaging.config import trigger_settings
from postpurchase.messaging.operations import sample_context
from postpurchase.messaging.render import Rendered, render_message
from postpurchase.models import AuditEntry, Brand, Channel
from postpurchase.settings import operations

#: The audit action of a template change; its subject is ``templates.<trigger>.<locale>.<part>``.
TEMPLATE = "settings.template"
#: The parts a merchant edits: the email's subject and text, and the short form of SMS and LINE.
PARTS = ("subject.txt", "txt", "short.txt")
MAX_CHARS = 20_000


class TemplateInvalid(ValueError):
    """A template that does not parse or render with sample data; ``errors`` maps part → message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Draft:
    trigger: str
    locale: str
    #: Part → source; an empty source means the shipped wording.
    sources: dict[str, str]


def own_name(brand: Brand, trigger: str, locale: str, part: str) -> str:
    """The loader name of the brand's own file of this part (no variant)."""
    template = trigger_settings(brand, trigger).template
    return f"emails/{brand.slug}/{locale}/{template}.{part}"


def own_path(instance_path: str, name: str) -> Path:
    return Path(instance_path) / "templates" / name


def current_sources(
    *, templates: Environment, instance_path: str, brand: Brand, trigger: str, locale: str
) -> dict[str, str]:
    """Per part: the brand's own text, else the shipped one ('' when there is none)."""
    template = trigger_settings(brand, trigger).template
    result = {}
    for part in PARTS:
        own = own_path(instance_path, own_name(brand, trigger, locale, part))
        if own.is_file():
            result[part] = own.read_text(encoding="utf-8")
            continue
        try:
            # The app's environment always has a loader; Jinja types it as optional.
            source, _, _ = templates.loader.get_source(  # type: ignore[union-attr]
                templates, f"emails/{locale}/{template}.{part}"
            )
        except TemplateNotFound:
            source = ""
        result[part] = source
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
            drafts[own_name(brand, draft.trigger, draft.locale, part)] = source
    if errors:
        raise TemplateInvalid(errors)
    # As above: the app's environment always has a loader.
    overlay = templates.overlay(loader=ChoiceLoader([DictLoader(drafts), templates.loader]))  # type: ignore[list-item]
    try:
        return render_message(
            templates=overlay,
            brand_slug=brand.slug,
            template=trigger_settings(brand, draft.trigger).template,
            variant=None,
            locale=draft.locale,
            channel=channel,
            context=sample_context(brand, draft.trigger, draft.locale, today),
        )
    except TemplateError as exc:
        raise TemplateInvalid({"txt": str(exc.message or exc)}) from None


def save(
    *,
    session: Session,
    templates: Environment,
    instance_path: str,
    brand: Brand,
    draft: Draft,
    actor: str,
    today: date,
) -> list[str]:
    """Write the draft's parts that changed (after it renders on every channel), one audit entry
    each. Returns the parts changed."""
    for channel in (Channel.email, Channel.sms):
        render_draft(templates=templates, brand=brand, draft=draft, channel=channel, today=today)
    current = current_sources(
        templates=templates,
        instance_path=instance_path,
        brand=brand,
        trigger=draft.trigger,
        locale=draft.locale,
    )
    changed = []
    for part, source in draft.sources.items():
        text = source.replace("\r\n", "\n")
        has_own = own_path(
            instance_path, own_name(brand, draft.trigger, draft.locale, part)
        ).is_file()
        # The shipped text shown unchanged, or cleared where the brand has no file: nothing to do.
        if text == current[part] or (not text.strip() and not has_own):
            continue
        write(
            session=session,
            instance_path=instance_path,
            brand=brand,
            subject=f"templates.{draft.trigger}.{draft.locale}.{part}",
            source=text if text.strip() else None,
            actor=actor,
        )
        changed.append(part)
    return changed


def write(
    *,
    session: Session,
    instance_path: str,
    brand: Brand,
    subject: str,
    source: str | None,
    actor: str,
) -> None:
    """Set (or with an empty ``source``, remove) the brand's file of ``subject``, recorded."""
    _, trigger, locale, part = subject.split(".", 3)
    path = own_path(instance_path, own_name(brand, trigger, locale, part))
    before = path.read_text(encoding="utf-8") if path.is_file() else None
    if source:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    elif path.exists():
        path.unlink()
    audit.record(
        session=session,
        brand_id=brand.id,
        actor=actor,
        action=TEMPLATE,
        subject=subject,
        before=before,
        after=source or None,
    )


def undo(
    *, session: Session, instance_path: str, brand: Brand, audit_entry_id: int, actor: str
) -> None:
    """Undo a settings or template change of ``brand`` (the history page's one button).

    Raises :class:`~postpurchase.settings.operations.EntryNotFound` for another brand's entry."""
    entry = session.get(AuditEntry, audit_entry_id)
    if entry is not None and entry.brand_id == brand.id and entry.action == TEMPLATE:
        write(
            session=session,
            instance_path=instance_path,
            brand=brand,
            subject=entry.subject,
            source=entry.before,
            actor=actor,
        )
        return
    operations.undo(session=session, brand=brand, audit_entry_id=audit_entry_id, actor=actor)
