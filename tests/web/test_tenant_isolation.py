"""Tenant isolation, walked over the whole URL map: signed in as brand B's merchant user (and with B's
API key, and on B's customer pages), nothing of brand A can be reached or read.

Every rule is either brand-owned, and probed here with brand A's ids, tokens or lookup details, or
listed in :data:`NOT_BRAND_OWNED` with the reason. A new route that is neither fails the walk, so
future routes are checked without anyone remembering to.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import Rule

from postpurchase.settings.forms import PAGES
from tests.web.conftest import SignedIn, Tenant

#: Routes that hold no brand's data, or are guarded and tested elsewhere, each with the reason.
NOT_BRAND_OWNED: dict[str, str] = {
    "static": "files shipped with the app",
    "healthz": "liveness probe; no data",
    "ops.readyz": "readiness probe: database, migrations, scheduler leader; no brand's data",
    "ops.metrics": "installation-wide counts with no brand label, optionally behind METRICS_TOKEN",
    "api.openapi": "the API's own description; no data",
    "edd_api.checkout_edd": "public checkout estimate for the brand named by slug; reads no order or customer",
    "merchant.login": "the sign-in form",
    "merchant.logout": "clears the session; reads nothing",
    "merchant.switch_brand": "switches only among the signed-in user's own brands; another is a 404 "
    "(people tests)",
    "merchant_people.invite_person": "takes no id; invites into the signed-in brand only",
    "people_links.accept_invitation_page": "public one-time link: the signed token is the credential, "
    "whoever holds it (people tests: single use, expiry, forgery)",
    "people_links.reset_password_page": "public one-time link: the signed token is the credential "
    "(people tests)",
    "people_links.forgot_password": "answers the same whatever the email; shows no data (people tests)",
    "merchant_returns.log": "redirects to the returns queue (probed there) keeping only its filter; "
    "reads nothing",
    "merchant_messages.test_send": "takes no id; queues a sample message for the signed-in brand only",
    "merchant_messages.retry_failed": "takes no id; re-queues only the signed-in brand's failed messages "
    "(the filter is the brand's message log query)",
    "api.events": "write-only inbound events, authenticated by the brand's key and signature (intake tests)",
    "webhooks.receive_generic_event": "write-only inbound events, authenticated per brand (intake tests)",
    "webhooks.receive_shopify_webhook": "write-only Shopify webhooks, HMAC-signed per brand (intake tests)",
    "carrier_webhooks.carrier_webhook": "write-only carrier scans, signed per carrier (tracking tests)",
    "messages_public.opened": "open pixel: the same GIF for any token; shows nothing",
    "messages_public.clicked": "redirects only to the URL signed into the token; shows no stored data",
    "merchant_settings.logo": "takes no id; serves only the signed-in brand's own logo (404 without one)",
    "merchant_settings.upload_logo": "takes no id; sets only the signed-in brand's logo",
    "returns_queue.bulk": "ids come in the form; each is looked up within the signed-in brand and "
    "another brand's is refused per row (returns queue tests)",
    "merchant_settings.templates": "takes no id; edits and previews only the signed-in brand's templates",
    **{
        f"merchant_settings.part_{page}": "takes no id; edits only the signed-in brand's settings"
        for page in (each.slug for each in PAGES)
    },
    "settings_api.put_settings": "takes no id; changes only the settings of the key's brand",
    "settings_api.get_template": "trigger and locale name a text of the key's own brand, never "
    "another's (settings template tests)",
    "settings_api.put_template": "trigger and locale name a text of the key's own brand, never "
    "another's (settings template tests)",
    "line_pages.webhook": "write-only LINE events, signed with the brand's channel secret (LINE tests)",
    "line_pages.start": "the order comes from a token signed for one brand; another's is a 404 "
    "(LINE tests)",
    "line_pages.link": "the order comes from a token signed for one brand; another's is a 400 "
    "(LINE tests)",
    "line_pages.sms_optin": "the order comes from a token signed for one brand; another's is a 404 "
    "(LINE tests)",
    "merchant_experiments.create": "takes no id; creates a draft in the signed-in brand only",
    "experiments_api.create_experiment": "takes no id; creates a draft for the key's brand only",
    "network_api.advice": "takes no id and needs an order's lines; ranks only the key's brand's "
    "centres, stock and parcels (network tests: another brand's key sees none)",
}

#: Brand-owned routes with no id in the path that name a record in the query string instead.
QUERY_IDS: dict[str, tuple[str, ...]] = {
    "merchant_messages.preview": ("shipment_id",),
}

#: Customer lookups: order number and email posted on brand B's page must not find brand A's order.
LOOKUP_FORMS = {"customer.lookup", "returns_portal.lookup"}

#: Path arguments that choose whose page it is rather than name a record: B's own values.
OWN_ARGUMENTS = {"brand_slug"}

METHODS_SKIPPED = {"HEAD", "OPTIONS"}


def _request(
    signed_in: SignedIn,
    method: str,
    path: str,
    *,
    query: dict | None = None,
    form: dict | None = None,
):  # type: ignore[no-untyped-def]
    return signed_in.client.open(
        path,
        method=method,
        query_string=query,
        data={"csrf_token": signed_in.csrf_token, **(form or {})} if method == "POST" else None,
        headers={"Authorization": f"Bearer {signed_in.api_key}"},
    )


def _probe(
    rule: Rule, method: str, a: Tenant, b: Tenant, signed_in: SignedIn
) -> tuple[str, int, str, int | None]:
    """Request ``rule`` as B with A's data; the path asked, the status, the body less what the request
    itself sent (a form shows back what was typed), and the status expected (None: a list or form page,
    which answers but must show nothing of A)."""
    names_a_record = rule.arguments - OWN_ARGUMENTS
    values = {
        name: value
        for name, value in a.path_values(rule.endpoint).items()
        if name in names_a_record
    }
    missing = sorted(name for name in names_a_record if values.get(name) is None)
    assert not missing, f"{rule.rule}: no brand-A value for {missing}; add it to Tenant.path_values"
    values["brand_slug"] = b.brand.slug
    _, path = rule.build(values, append_unknown=False)  # type: ignore[misc]
    query, form, expected = None, None, None
    if names_a_record:
        expected = 404
    elif rule.endpoint in QUERY_IDS:
        query, expected = (
            {name: a.path_values(rule.endpoint)[name] for name in QUERY_IDS[rule.endpoint]},
            404,
        )
    elif method == "POST" and rule.endpoint in LOOKUP_FORMS:
        form, expected = {"order_number": a.order_number, "email_or_postal": a.email}, 404
    else:
        assert method == "GET", (
            f"{method} {rule.rule} takes no id: probe it here or list it in NOT_BRAND_OWNED "
            "with the reason"
        )
    response = _request(signed_in, method, path, query=query, form=form)
    body = response.get_data().decode(errors="replace")
    for sent in (form or {}).values():
        body = body.replace(str(sent), "")
    return path, response.status_code, body, expected


def test_every_route_is_probed_or_listed_as_not_brand_owned(app: Flask) -> None:
    listed = set(NOT_BRAND_OWNED) | set(QUERY_IDS) | LOOKUP_FORMS
    stale = listed - {rule.endpoint for rule in app.url_map.iter_rules()}
    assert not stale, f"listed but no longer routes: {sorted(stale)}"


def test_brand_b_reaches_nothing_of_brand_a_on_any_route(
    app: Flask, tenants: tuple[Tenant, Tenant], as_beta: SignedIn
) -> None:
    a, b = tenants
    problems, probed = [], 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_BRAND_OWNED:
            continue
        for method in sorted((rule.methods or set()) - METHODS_SKIPPED):
            path, status, body, expected = _probe(rule, method, a, b, as_beta)
            probed += 1
            if expected is not None and status != expected:
                problems.append(f"{method} {path}: {status}, expected {expected}")
            elif expected is None and status != 200:
                problems.append(f"{method} {path}: {status}, expected B's own page (200)")
            leaked = [marker for marker in a.markers if marker in body]
            if leaked:
                problems.append(f"{method} {path}: shows brand A's {leaked}")
    assert probed >= 20 and not problems, "\n".join(problems)


def test_the_walk_sees_brand_bs_own_data_on_its_list_pages(
    tenants: tuple[Tenant, Tenant], as_beta: SignedIn
) -> None:
    """The negative checks above mean something only if the same pages do show a brand's own data."""
    b = tenants[1]
    for path, marker in (
        ("/merchant/messages/", b.email),
        ("/merchant/messages/mailbox", b.email),
        ("/merchant/returns/queue/", b.rma_number),
        ("/api/v1/shipments", b.tracking_number),
    ):
        assert marker in _request(as_beta, "GET", path).get_data(as_text=True), path
