"""Customer profiles kept current from events, personas learned from them, and micro-segments.

- :mod:`postpurchase.profiles` — the stored profile of each customer and its receivers.
- :mod:`.model` — features, k-means with the k of the best silhouette, portraits from centroids.
- :mod:`.operations` — fit and assign personas; the size of every segment; suppression counts.
- :mod:`.wording` — a persona in words, in the reader's language and the brand's category names.
- :mod:`.web` — the console's segments page and customer page.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Keep profiles current from the domain signals; register the console pages and their link."""
    from postpurchase import profiles
    from postpurchase.i18n import lazy_gettext
    from postpurchase.personas.web import merchant_segments
    from postpurchase.web.merchant import add_merchant_link

    profiles.connect()
    app.register_blueprint(merchant_segments)
    add_merchant_link(
        app, "merchant_segments.index", lazy_gettext("Segments"), under="merchant_messages.log"
    )
