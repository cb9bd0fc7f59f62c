"""API keys and the webhook signing secret: rotation with a grace period, revocation."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from postpurchase.brands import revoke_api_key, rotate_api_key, rotate_signing_secret
from postpurchase.cli import keys
from postpurchase.clock import utcnow
from postpurchase.db import get_db
from postpurchase.intake.examples import EXAMPLES
from postpurchase.intake.schemas import EventType
from tests.conftest import sign


@pytest.fixture
def operate(app):
    """``operate(op, **kwargs)``: run a key operation in a committed session of its own."""

    def run(op, **kwargs):
        with get_db(app).session() as s:
            result = op(session=s, now=utcnow(), **kwargs)
            s.commit()
            return result

    return run


def api_status(client, key: str) -> int:
    return client.get("/api/v1/shipments", headers={"Authorization": f"Bearer {key}"}).status_code


def test_a_rotated_out_key_works_during_its_grace_period(client, brand, operate, clock) -> None:
    operate(rotate_api_key, brand_id=brand.brand_id, grace=timedelta(hours=24))
    clock.advance(hours=23)
    assert api_status(client, brand.api_key) == 200


def test_a_rotated_out_key_is_refused_after_its_grace_period(client, brand, operate, clock) -> None:
    operate(rotate_api_key, brand_id=brand.brand_id, grace=timedelta(hours=24))
    clock.advance(hours=24, seconds=1)
    assert api_status(client, brand.api_key) == 401


def test_a_key_rotated_without_grace_is_refused_at_once_and_the_new_one_works(
    client, brand, operate
) -> None:
    rotated = operate(rotate_api_key, brand_id=brand.brand_id)
    assert api_status(client, brand.api_key) == 401
    assert api_status(client, rotated.api_key) == 200


def test_a_revoked_key_is_refused_immediately(client, brand, operate) -> None:
    operate(revoke_api_key, brand_id=brand.brand_id, ref=brand.api_key[:10])
    assert api_status(client, brand.api_key) == 401


def test_a_revoked_key_is_refused_on_webhooks(client, brand, operate) -> None:
    operate(revoke_api_key, brand_id=brand.brand_id, ref="1")
    body = json.dumps(EXAMPLES[EventType.order_created]).encode()
    response = client.post(
        "/webhooks/wms",
        data=body,
        headers={
            "Authorization": f"Bearer {brand.api_key}",
            "Content-Type": "application/json",
            "X-Postpurchase-Signature": sign(brand.signing_secret, body),
        },
    )
    assert (response.status_code, response.json["error"]["code"]) == (401, "invalid_api_key")


def test_another_brands_key_cannot_be_revoked(brand, make_brand, operate) -> None:
    from postpurchase.brands import KeyNotFound

    other = make_brand("other")
    with pytest.raises(KeyNotFound):
        operate(revoke_api_key, brand_id=other.brand_id, ref=brand.api_key[:10])


def post_signed(client, brand, secret: str):
    body = json.dumps(EXAMPLES[EventType.order_created]).encode()
    return client.post(
        "/webhooks/wms",
        data=body,
        headers={
            "Authorization": f"Bearer {brand.api_key}",
            "Content-Type": "application/json",
            "X-Postpurchase-Signature": sign(secret, body),
        },
    )


def test_the_old_signing_secret_is_accepted_during_the_grace_period(client, brand, operate) -> None:
    operate(rotate_signing_secret, brand_id=brand.brand_id, grace=timedelta(hours=1))
    assert post_signed(client, brand, brand.signing_secret).status_code == 202


def test_the_old_signing_secret_is_refused_after_the_grace_period(
    client, brand, operate, clock
) -> None:
    new_secret = operate(rotate_signing_secret, brand_id=brand.brand_id, grace=timedelta(hours=1))
    assert post_signed(client, brand, new_secret).status_code == 202  # the sender is now cached
    clock.advance(hours=1, seconds=1)
    assert post_signed(client, brand, brand.signing_secret).status_code == 401


def test_keys_rotate_command_prints_the_new_key_once_and_the_old_keys_end(
    runner, brand, client
) -> None:
    result = runner.invoke(keys, ["rotate", "--brand", "acme", "--grace-hours", "2"])
    assert result.exit_code == 0, result.output
    new_key = result.output.split("new api key (id 2): ")[1].split()[0]
    assert (
        "old key 1 " in result.output and "works until 2026-11-20T03:00:00+00:00" in result.output
    )
    assert api_status(client, new_key) == 200


def test_keys_list_command_shows_each_keys_state(runner, brand, operate) -> None:
    operate(rotate_api_key, brand_id=brand.brand_id, grace=timedelta(hours=1))
    operate(revoke_api_key, brand_id=brand.brand_id, ref="2")
    lines = runner.invoke(keys, ["list", "--brand", "acme"]).output.splitlines()
    assert [line.split()[3] for line in lines] == ["expiring", "revoked"]


def test_keys_revoke_command_names_an_unknown_key(runner, brand) -> None:
    result = runner.invoke(keys, ["revoke", "--brand", "acme", "pp_nothere"])
    assert result.exit_code == 1 and "no API key 'pp_nothere'" in result.output


def test_keys_rotate_secret_command_prints_the_new_secret(runner, brand) -> None:
    result = runner.invoke(keys, ["rotate-secret", "--brand", "acme", "--grace-hours", "1"])
    assert result.exit_code == 0, result.output
    assert (
        result.output.startswith("signing secret: whsec_")
        and "accepted for 1 hours" in result.output
    )
