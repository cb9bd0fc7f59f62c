"""People: who works in a brand with which role, invitations and password resets by one-time
links, and the brand's audit log page."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the people and audit pages, the public link pages, and their console links."""
    from postpurchase.i18n import lazy_gettext
    from postpurchase.people.web import merchant_people, people_links
    from postpurchase.web.merchant import add_merchant_link

    app.register_blueprint(merchant_people)
    app.register_blueprint(people_links)
    add_merchant_link(app, "merchant_people.people", lazy_gettext("People"))
    add_merchant_link(
        app, "merchant_people.audit_log", lazy_gettext("Audit log"), under="merchant_people.people"
    )
