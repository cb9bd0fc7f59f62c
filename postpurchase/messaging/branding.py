"""How a brand looks in its messages: accent colour and logo, read in one place.

Typed brand settings are on their way; until then this is the only reader of
``Brand.settings["branding"]`` for messages, so pointing it at them is a one-function change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from postpurchase.models import Brand

DEFAULT_COLOR = "#1f4f8b"
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class Look:
    #: The brand's accent (header and buttons), ``#rrggbb``.
    color: str
    #: Text on the accent: white or near-black, whichever reads better.
    on_color: str
    #: An absolute ``https?://`` URL of the logo, or None (the header shows the name).
    logo_url: str | None


def _on(color: str) -> str:
    """White on dark accents, near-black on light ones (WCAG relative luminance)."""

    def channel(hex_pair: str) -> float:
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(color[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    # Contrast with white is 1.05 / (L + 0.05); with #1b1b1b about (L + 0.05) / 0.0616.
    return "#ffffff" if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.0616 else "#1b1b1b"


def brand_look(brand: Brand) -> Look:
    """The brand's colour and logo; a value that is not a ``#rrggbb`` colour or an http(s) URL is
    ignored (it lands in inline CSS and ``src`` attributes)."""
    branding = (brand.settings or {}).get("branding") or {}
    color = branding.get("color")
    color = color if isinstance(color, str) and _HEX.match(color) else DEFAULT_COLOR
    logo = branding.get("logo_url")
    logo = logo if isinstance(logo, str) and re.match(r"^https?://\S+$", logo) else None
    return Look(color=color.lower(), on_color=_on(color), logo_url=logo)
