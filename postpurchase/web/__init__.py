"""HTTP: customer pages, merchant pages and the JSON API (thin views)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from flask import Flask


def merge_query(args: Mapping[str, str], **changes: str) -> str:
    """The current query string with ``changes`` applied (for language links)."""
    merged = {key: value for key, value in args.items() if key not in changes}
    merged.update(changes)
    return urlencode(merged)


def init_app(app: Flask) -> None:
    from postpurchase.web import security, throttling
    from postpurchase.web.customer import customer
    from postpurchase.web.merchant import merchant
    from postpurchase.web.params import IdConverter, refuse_ids_out_of_range, refuse_nul_bytes

    security.init_app(app)
    throttling.init_app(app)

    # Before any blueprint adds its rules, so every feature's ``<int:...>`` ids are bounded.
    app.url_map.converters["int"] = IdConverter
    app.register_blueprint(merchant)
    app.register_blueprint(customer)
    app.add_template_filter(merge_query, "merge_query")
    app.before_request(refuse_nul_bytes)
    app.url_value_preprocessor(refuse_ids_out_of_range)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}
