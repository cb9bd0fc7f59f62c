"""PDFs (return labels, insight reports) rendered from our own HTML with WeasyPrint."""

from __future__ import annotations

from typing import Any


def _no_fetching(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Our PDFs need nothing from outside their HTML: refuse every URL (no ``file:``, no network)."""
    raise ValueError(f"PDFs fetch no resources ({url})")


def pdf_bytes(html: str) -> bytes:
    """``html`` (self-contained: inline styles, SVG and data URIs) as PDF bytes."""
    from weasyprint import HTML  # imported here: it loads Pango, which only PDF requests need

    document: bytes = HTML(string=html, url_fetcher=_no_fetching).write_pdf()
    return document
