"""How a brand looks to its customers, on pages and in emails: read from its settings in one place.

Every customer page (through ``pages/base.html``) and every message takes the brand's colour, logo,
links, sender name and footer from :func:`branding_for`, so a change in the console shows the same
everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from postpurchase.models import Brand
from postpurchase.settings.model import settings_for

#: Uploaded logos by their file extension (the upload checks the bytes and names the file).
LOGO_MIMETYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


@dataclass(frozen=True)
class Branding:
    #: The brand's accent (page header, email header, buttons), ``#rrggbb`` in lower case.
    color: str
    #: Text on the accent: white or near-black, whichever contrasts more (WCAG).
    on_color: str
    #: The uploaded logo's URL (absolute when a base URL was given), or None: the name is shown.
    logo_url: str | None
    shop_url: str | None
    contact_url: str | None
    faq_url: str | None
    #: Who messages come from: the sender named in the settings, else the brand's name.
    sender_name: str
    footer: str | None


def readable_on(color: str) -> str:
    """``#ffffff`` or ``#1b1b1b``, whichever contrasts more with the ``#rrggbb`` colour ``color``."""
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    # Contrast with white is 1.05 / (L + 0.05); with #1b1b1b (L ≈ 0.0116) it is (L + 0.05) / 0.0616.
    return "#ffffff" if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.0616 else "#1b1b1b"


def logo_path(brand_slug: str, name: str) -> str:
    """The public path that serves a brand's uploaded logo (file names are content hashes)."""
    return f"/{brand_slug}/logo/{name}"


def logo_file(instance_path: str | Path, brand_slug: str, name: str) -> Path:
    """Where an uploaded logo is stored: outside the web root, one folder per brand."""
    return Path(instance_path) / "logos" / brand_slug / name


def branding_for(brand: Brand, *, base_url: str = "") -> Branding:
    """The brand's look from :func:`settings_for` (validated there: the colour is ``#rrggbb``, links
    are http(s)). ``base_url`` makes the logo's URL absolute, as an email needs."""
    settings = settings_for(brand)
    part = settings.branding
    color = part.color.lower()
    return Branding(
        color=color,
        on_color=readable_on(color),
        logo_url=base_url.rstrip("/") + logo_path(brand.slug, part.logo) if part.logo else None,
        shop_url=part.shop_url,
        contact_url=part.contact_url,
        faq_url=part.faq_url,
        sender_name=settings.messaging.sender.name or brand.name,
        footer=part.footer,
    )
