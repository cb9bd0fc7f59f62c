"""Jinja templates per brand, trigger, variant, channel and locale.

Lookup order for a part (``subject.txt``, ``txt``, ``html``, ``short.txt``) of template ``T`` with
variant ``V`` in locale ``L`` for brand ``B`` (first found wins; the instance folder is searched
before the repository's ``templates/``, so a brand overrides wording without a code change)::

    emails/B/L/T.V.part · emails/B/L/T.part · emails/L/T.V.part · emails/L/T.part

The brand's own text edited in the console, the API or the command line (``MessageTemplate`` rows,
read by :mod:`postpurchase.messaging.own_templates`) is handed in as ``own`` and stands at
``emails/B/L/T.part``, before any file of that name.

Email HTML falls back to ``emails/_layout.html`` around the plain-text part when a trigger has no
HTML template of its own. SMS and LINE use the ``short.txt`` form.

The caller hands in the template environment (``MessagingSettings.templates``, one per app).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    DictLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
)
from markupsafe import Markup

from postpurchase import ROOT
from postpurchase.models import Channel

URL = re.compile(r"https?://[^\s<>\"')]+")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None = None


def _linkify(text: str) -> Markup:
    """Plain text to HTML paragraphs with clickable links (the fallback HTML part)."""
    paragraphs = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        escaped = html.escape(chunk)
        linked = URL.sub(
            lambda m: f'<a href="{m.group(0)}" style="word-break:break-all;">{m.group(0)}</a>',
            escaped,
        )
        paragraphs.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    return Markup("\n".join(paragraphs))  # noqa: S704 (every chunk went through html.escape)


def environment(instance_path: str) -> Environment:
    """Templates from the instance folder first, then the repository's."""
    loader = ChoiceLoader(
        [
            FileSystemLoader(str(Path(instance_path) / "templates")),
            FileSystemLoader(str(ROOT / "templates")),
        ]
    )
    env = Environment(
        loader=loader,
        # on for .html; .txt parts are plain text and must not be escaped
        autoescape=lambda name: bool(name and name.endswith(".html")),  # noqa: S701
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["linkify"] = _linkify
    return env


def own_name(brand_slug: str, template: str, locale: str, part: str) -> str:
    """Where the brand's own text of a part stands in the lookup order (no variant)."""
    return f"emails/{brand_slug}/{locale}/{template}.{part}"


def with_own(
    templates: Environment, brand_slug: str, template: str, locale: str, own: Mapping[str, str]
) -> Environment:
    """``templates`` with the brand's own ``part → source`` found before any file."""
    if not own:
        return templates
    sources = {own_name(brand_slug, template, locale, part): text for part, text in own.items()}
    # The app's environment always has a loader; Jinja types it as optional.
    return templates.overlay(loader=ChoiceLoader([DictLoader(sources), templates.loader]))  # type: ignore[list-item]


def candidates(
    brand_slug: str, template: str, variant: str | None, locale: str, part: str
) -> list[str]:
    names = []
    for prefix in (f"emails/{brand_slug}/{locale}", f"emails/{locale}"):
        if variant:
            names.append(f"{prefix}/{template}.{variant}.{part}")
        names.append(f"{prefix}/{template}.{part}")
    return names


def render_part(
    templates: Environment,
    brand_slug: str,
    template: str,
    variant: str | None,
    locale: str,
    part: str,
    context: dict[str, Any],
    **extra: Any,
) -> str | None:
    """One part, or None when no template for it exists anywhere in the lookup order."""
    try:
        tpl = templates.select_template(candidates(brand_slug, template, variant, locale, part))
    except TemplateNotFound:
        return None
    return tpl.render(**_defaults(context), **extra).strip()


def _defaults(context: dict[str, Any]) -> dict[str, Any]:
    """Keys every template may test without StrictUndefined raising."""
    base: dict[str, Any] = {
        "order": None,
        "shipment": None,
        "care": [],
        "recommendations": [],
        "blocks": [],
        "feedback": None,
        "replenishment": None,
        "return": None,
        "unsubscribe_url": None,
        "tracking_page_url": None,
        "test": False,
        "state": None,
    }
    return {**base, **context}


def render_message(
    *,
    templates: Environment,
    brand_slug: str,
    template: str,
    variant: str | None,
    locale: str,
    channel: Channel,
    context: dict[str, Any],
    own: Mapping[str, str] | None = None,
) -> Rendered:
    """Subject, text and (email only) HTML for ``channel``; raises if the trigger has no text template.

    ``own`` is the brand's own text per part for this template and locale (none: the files')."""
    templates = with_own(templates, brand_slug, template, locale, own or {})
    subject = (
        render_part(templates, brand_slug, template, variant, locale, "subject.txt", context) or ""
    )
    text = render_part(templates, brand_slug, template, variant, locale, "txt", context)
    if text is None:
        raise TemplateNotFound(candidates(brand_slug, template, variant, locale, "txt")[-1])
    if channel != Channel.email:
        short = render_part(templates, brand_slug, template, variant, locale, "short.txt", context)
        return Rendered(
            subject, short or f"{subject}\n{context.get('tracking_page_url') or ''}".strip()
        )
    body_html = render_part(
        templates,
        brand_slug,
        template,
        variant,
        locale,
        "html",
        context,
        subject=subject,
        text_body=text,
    )
    if body_html is None:
        layout = templates.get_template("emails/_layout.html")
        body_html = layout.render(**_defaults(context), subject=subject, text_body=text).strip()
    return Rendered(subject, text, body_html)
