"""HTTP: customer pages, merchant pages and the JSON API (thin views)."""

from flask import Flask


def init_app(app: Flask) -> None:
    from postpurchase.web.api import api

    app.register_blueprint(api)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}
