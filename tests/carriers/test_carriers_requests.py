"""The requests each adapter builds, served by ``responses`` through the real requests stack."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import responses
from responses import matchers

from carriers import registry
from carriers.base import AuthError, CarrierError, NotFound, RateLimited, TemporaryError
from carriers.http import HttpClient, OAuthClientCredentials, no_waiting
from carriers.registry import CarrierSettings
from carriers.status import Status
from tests.conftest import CONFORMANCE, PINNED_NOW

TRACKING = CONFORMANCE / "carrier_tracking"
AGGREGATORS = CONFORMANCE / "aggregator_webhooks"
FIXTURES = Path(__file__).parent / "fixtures"
FAST = {"backoff": 0, "clock": lambda: PINNED_NOW}


def adapter(code: str, **credentials: str):
    return registry.create(code, CarrierSettings(credentials=credentials, options=FAST))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def token_endpoint(url: str, token: str = "tok-123", **match) -> None:
    responses.add(responses.POST, url, json={"access_token": token, "expires_in": 3600}, **match)


@responses.activate
def test_ups_fetches_an_oauth_token_with_basic_auth_then_gets_details() -> None:
    token_endpoint(
        "https://onlinetools.ups.com/security/v1/oauth/token",
        match=[
            matchers.header_matcher({"Authorization": basic("ups-id", "ups-secret")}),
            matchers.urlencoded_params_matcher({"grant_type": "client_credentials"}),
        ],
    )
    responses.add(
        responses.GET,
        "https://onlinetools.ups.com/api/track/v1/details/1Z1442YY7229014688",
        body=(TRACKING / "ups_track_v1_delivered.json").read_bytes(),
        match=[
            matchers.header_matcher({"Authorization": "Bearer tok-123"}),
            matchers.query_param_matcher({"locale": "en_US", "returnSignature": "false"}),
        ],
    )
    [result] = adapter("ups", client_id="ups-id", client_secret="ups-secret").track(
        ["1Z1442YY7229014688"]
    )
    assert result.status is Status.delivered
    assert "transId" in responses.calls[1].request.headers


@responses.activate
def test_oauth_token_is_cached_between_calls() -> None:
    token_endpoint("https://apis.fedex.com/oauth/token")
    body = (TRACKING / "fedex_track_api_exception_then_delivered.json").read_bytes()
    responses.add(responses.POST, "https://apis.fedex.com/track/v1/trackingnumbers", body=body)
    fedex = adapter("fedex", client_id="fx-id", client_secret="fx-secret")
    fedex.track(["776094337676"])
    fedex.track(["776094337676"])
    assert [c.request.url for c in responses.calls].count("https://apis.fedex.com/oauth/token") == 1


@responses.activate
def test_fedex_sends_credentials_in_the_form_and_numbers_in_one_batch() -> None:
    token_endpoint(
        "https://apis.fedex.com/oauth/token",
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "grant_type": "client_credentials",
                    "client_id": "fx-id",
                    "client_secret": "fx-secret",
                }
            )
        ],
    )
    responses.add(
        responses.POST,
        "https://apis.fedex.com/track/v1/trackingnumbers",
        body=(TRACKING / "fedex_track_api_exception_then_delivered.json").read_bytes(),
        match=[
            matchers.json_params_matcher(
                {
                    "includeDetailedScans": True,
                    "trackingInfo": [
                        {"trackingNumberInfo": {"trackingNumber": "776094337676"}},
                        {"trackingNumberInfo": {"trackingNumber": "111"}},
                    ],
                }
            )
        ],
    )
    results = adapter("fedex", client_id="fx-id", client_secret="fx-secret").track(
        ["776094337676", "111"]
    )
    assert [r.status for r in results] == [Status.delivered]


@responses.activate
def test_expired_token_is_refetched_once_after_a_401() -> None:
    responses.add(
        responses.POST, "https://apis.usps.com/oauth2/v3/token", json={"access_token": "old"}
    )
    responses.add(
        responses.POST, "https://apis.usps.com/oauth2/v3/token", json={"access_token": "new"}
    )
    url = "https://apis.usps.com/tracking/v3/tracking/9400109104250532908587"
    responses.add(
        responses.GET,
        url,
        status=401,
        match=[matchers.header_matcher({"Authorization": "Bearer old"})],
    )
    responses.add(
        responses.GET,
        url,
        body=(TRACKING / "usps_v3_tracking_delivered_parcel_locker.json").read_bytes(),
        match=[matchers.header_matcher({"Authorization": "Bearer new"})],
    )
    [result] = adapter("usps", client_id="u", client_secret="usps-secret").track(
        ["9400109104250532908587"]
    )
    assert result.status is Status.delivered
    assert json.loads(responses.calls[0].request.body) == {
        "grant_type": "client_credentials",
        "client_id": "u",
        "client_secret": "usps-secret",
    }


@responses.activate
def test_dhl_unified_sends_the_api_key_header() -> None:
    responses.add(
        responses.GET,
        "https://api-eu.dhl.com/track/shipments",
        body=(TRACKING / "dhl_unified_tracking_doc_sample.json").read_bytes(),
        match=[
            matchers.header_matcher({"DHL-API-Key": "dhl-key"}),
            matchers.query_param_matcher({"trackingNumber": "7777777770"}),
        ],
    )
    [result] = adapter("dhl", api_key="dhl-key").track(["7777777770"])
    assert result.status is Status.info_received


@responses.activate
def test_dhl_express_repeats_the_number_parameter_with_basic_auth() -> None:
    responses.add(
        responses.GET,
        "https://express.api.dhl.com/mydhlapi/tracking",
        body=(TRACKING / "dhl_express_mydhl_api_tracking.json").read_bytes(),
        match=[matchers.header_matcher({"Authorization": basic("user", "pw")})],
    )
    adapter("dhl_express", username="user", password="pw").track(["9356579890", "123"])
    query = parse_qs(urlparse(responses.calls[0].request.url).query)
    assert query == {
        "shipmentTrackingNumber": ["9356579890", "123"],
        "trackingView": ["all-checkpoints"],
    }


@responses.activate
def test_canada_post_gets_the_pin_detail_as_xml() -> None:
    responses.add(
        responses.GET,
        "https://soa-gw.canadapost.ca/vis/track/pin/1680678172650919/detail",
        body=(
            TRACKING / "canadapost_tracking_detail_notice_card_pickup_delivered.xml"
        ).read_bytes(),
        match=[
            matchers.header_matcher(
                {
                    "Accept": "application/vnd.cpc.track-v2+xml",
                    "Authorization": basic("cp", "cp-pw"),
                }
            )
        ],
    )
    [result] = adapter("canadapost", username="cp", password="cp-pw").track(["1680678172650919"])
    assert result.status is Status.delivered


@responses.activate
def test_royal_mail_sends_the_gateway_client_headers() -> None:
    responses.add(
        responses.GET,
        "https://api.royalmail.net/mailpieces/v2/FQ087430672GB/events",
        body=(TRACKING / "royalmail_tracking_v2_events.json").read_bytes(),
        match=[
            matchers.header_matcher(
                {
                    "X-IBM-Client-Id": "rm-id",
                    "X-IBM-Client-Secret": "rm-secret",
                    "X-Accept-RMG-Terms": "yes",
                }
            )
        ],
    )
    [result] = adapter("royalmail", client_id="rm-id", client_secret="rm-secret").track(
        ["FQ087430672GB"]
    )
    assert result.status is Status.in_transit


@responses.activate
def test_australia_post_asks_for_several_ids_in_one_call() -> None:
    responses.add(
        responses.GET,
        "https://digitalapi.auspost.com.au/shipping/v1/track",
        body=(TRACKING / "australiapost_track_items_multi.json").read_bytes(),
        match=[
            matchers.query_param_matcher({"tracking_ids": "ET123456789AU,LX123456789US"}),
            matchers.header_matcher(
                {"account-number": "0001", "Authorization": basic("key", "pw")}
            ),
        ],
    )
    results = adapter("australiapost", api_key="key", password="pw", account_number="0001").track(
        ["ET123456789AU", "LX123456789US"]
    )
    assert len(results) == 3


@responses.activate
def test_aftership_lists_trackings_by_number_with_its_api_key_header() -> None:
    tracking = json.loads(
        (AGGREGATORS / "aftership_tracking_fedex_cn_to_jp_delivered.json").read_text()
    )["data"]["tracking"]
    responses.add(
        responses.GET,
        "https://api.aftership.com/tracking/2024-04/trackings",
        json={"meta": {"code": 200}, "data": {"trackings": [tracking]}},
        match=[
            matchers.header_matcher({"as-api-key": "as-key"}),
            matchers.query_param_matcher({"tracking_numbers": "111111111111"}),
        ],
    )
    [result] = adapter("aftership", api_key="as-key").track(["111111111111"])
    assert (result.status, result.extra["carrier_slug"]) == (Status.delivered, "fedex")


@responses.activate
def test_seventeentrack_registers_numbers_it_does_not_know_yet() -> None:
    base = "https://api.17track.net/track/v2.2"
    responses.add(
        responses.POST,
        f"{base}/gettrackinfo",
        json={
            "code": 0,
            "data": {
                "accepted": [],
                "rejected": [
                    {
                        "number": "RR123456789CN",
                        "error": {"code": -18019902, "message": "not registered"},
                    }
                ],
            },
        },
        match=[
            matchers.header_matcher({"17token": "k17"}),
            matchers.json_params_matcher([{"number": "RR123456789CN"}]),
        ],
    )
    responses.add(
        responses.POST,
        f"{base}/register",
        json={"code": 0, "data": {"accepted": [], "rejected": []}},
        match=[matchers.json_params_matcher([{"number": "RR123456789CN"}])],
    )
    [result] = adapter("seventeentrack", api_key="k17").track(["RR123456789CN"])
    assert result.status is Status.pending
    assert len(responses.calls) == 2


@responses.activate
def test_easypost_creates_a_tracker_with_basic_auth() -> None:
    event = json.loads((AGGREGATORS / "easypost_event_tracker_updated.json").read_text())
    responses.add(
        responses.POST,
        "https://api.easypost.com/v2/trackers",
        json=event["result"],
        match=[
            matchers.json_params_matcher({"tracker": {"tracking_code": "1"}}),
            matchers.header_matcher({"Authorization": basic("ep-key", "")}),
        ],
    )
    [result] = adapter("easypost", api_key="ep-key").track(["1"])
    assert result.status is Status.in_transit


@responses.activate
def test_shippo_gets_the_track_for_the_configured_carrier() -> None:
    responses.add(
        responses.GET,
        "https://api.goshippo.com/tracks/usps/9205590164917337534322",
        body=(AGGREGATORS / "shippo_track_usps_delivered.json").read_bytes(),
        match=[matchers.header_matcher({"Authorization": "ShippoToken sh-key"})],
    )
    shippo = registry.create(
        "shippo", CarrierSettings(credentials={"api_key": "sh-key"}, options={"carrier": "usps"})
    )
    [result] = shippo.track(["9205590164917337534322"])
    assert result.status is Status.delivered


@responses.activate
def test_yamato_posts_up_to_ten_numbers_in_one_form() -> None:
    responses.add(
        responses.POST,
        "https://toi.kuronekoyamato.co.jp/cgi-bin/tneko",
        body=(FIXTURES / "yamato_multi_constructed.html").read_bytes(),
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "category": "0",
                    "number01": "400000000001",
                    "number02": "400000000002",
                    "number03": "400000000003",
                }
            )
        ],
    )
    results = adapter("yamato").track(["4000-0000-0001", "400000000002", "4000 0000 0003"])
    assert [r.status for r in results] == [
        Status.delivered,
        Status.returning_to_sender,
        Status.pending,
    ]


def test_yamato_refuses_more_than_ten_numbers() -> None:
    with pytest.raises(ValueError, match="at most 10"):
        adapter("yamato").track([str(n) for n in range(11)])


@responses.activate
def test_sagawa_and_japan_post_get_their_pages() -> None:
    responses.add(
        responses.GET,
        "https://k2k.sagawa-exp.co.jp/p/web/okurijosearch.do",
        body=(FIXTURES / "sagawa_delivered_constructed.html").read_bytes(),
        match=[matchers.query_param_matcher({"okurijoNo": "360011112222"})],
    )
    responses.add(
        responses.GET,
        "https://trackings.post.japanpost.jp/services/srv/search/direct",
        body=(FIXTURES / "japanpost_delivered_constructed.html").read_bytes(),
        match=[
            matchers.query_param_matcher(
                {"searchKind": "S002", "locale": "ja", "reqCodeNo1": "123456789012"}
            )
        ],
    )
    assert adapter("sagawa").track(["3600-1111-2222"])[0].status is Status.delivered
    assert adapter("japanpost").track(["1234-5678-9012"])[0].status is Status.delivered


# -- HTTP error mapping -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthError),
        (403, AuthError),
        (404, NotFound),
        (400, CarrierError),
        (500, TemporaryError),
    ],
)
@responses.activate
def test_http_status_maps_to_a_typed_error(status: int, error: type[Exception]) -> None:
    responses.add(
        responses.GET, "https://api-eu.dhl.com/track/shipments", status=status, body="nope"
    )
    with pytest.raises(error) as raised:
        adapter("dhl", api_key="dhl-key").track(["1"])
    assert raised.value.carrier == "dhl"


@responses.activate
def test_429_raises_rate_limited_with_retry_after() -> None:
    responses.add(
        responses.GET,
        "https://api-eu.dhl.com/track/shipments",
        status=429,
        headers={"Retry-After": "42"},
    )
    with pytest.raises(RateLimited) as raised:
        adapter("dhl", api_key="dhl-key").track(["1"])
    assert raised.value.retry_after == 42


@responses.activate
def test_get_is_retried_on_503_before_giving_up() -> None:
    url = "https://api-eu.dhl.com/track/shipments"
    responses.add(responses.GET, url, status=503)
    responses.add(
        responses.GET, url, body=(TRACKING / "dhl_unified_tracking_doc_sample.json").read_bytes()
    )
    [result] = adapter("dhl", api_key="dhl-key").track(["7777777770"])
    assert result.status is Status.info_received
    assert len(responses.calls) == 2


@responses.activate
def test_post_is_not_retried() -> None:
    responses.add(responses.POST, "https://api.17track.net/track/v2.2/gettrackinfo", status=503)
    with pytest.raises(TemporaryError):
        adapter("seventeentrack", api_key="k17").track(["1"])
    assert len(responses.calls) == 1


@responses.activate
def test_timeouts_and_connection_errors_are_temporary() -> None:
    responses.add(
        responses.GET,
        "https://api-eu.dhl.com/track/shipments",
        body=requests.ConnectTimeout("slow"),
    )
    with pytest.raises(TemporaryError):
        registry.create(
            "dhl", CarrierSettings(credentials={"api_key": "k"}, options={"retries": 0})
        ).track(["1"])


@responses.activate
def test_secrets_never_appear_in_error_messages() -> None:
    responses.add(
        responses.POST,
        "https://apis.fedex.com/oauth/token",
        status=401,
        body='{"error": "invalid client", "client_secret": "fx-very-secret", "echo": "fx-very-secret"}',
    )
    with pytest.raises(AuthError) as raised:
        adapter("fedex", client_id="fx-id", client_secret="fx-very-secret").track(["1"])
    assert "fx-very-secret" not in str(raised.value)


def test_missing_credentials_raise_auth_error_before_any_request() -> None:
    with pytest.raises(AuthError, match="client_secret"):
        registry.create("ups", CarrierSettings(credentials={"client_id": "x"})).track(["1Z"])


@responses.activate
def test_token_is_refreshed_when_it_expires() -> None:
    now = [0.0]
    responses.add(
        responses.POST, "https://auth.example/token", json={"access_token": "a", "expires_in": 120}
    )
    responses.add(
        responses.POST, "https://auth.example/token", json={"access_token": "b", "expires_in": 120}
    )
    oauth = OAuthClientCredentials(
        HttpClient("test"), "https://auth.example/token", "id", "secret", clock=lambda: now[0]
    )
    assert oauth.token() == "a"
    now[0] = 59.0
    assert oauth.token() == "a"
    now[0] = 61.0
    assert oauth.token() == "b"


# -- waits inside a call --------------------------------------------------------------------------

DHL = "https://api-eu.dhl.com/track/shipments"


@responses.activate
def test_429_is_never_retried_in_place_even_with_a_huge_retry_after() -> None:
    from carriers.http import HttpClient

    responses.add(responses.GET, DHL, status=429, headers={"Retry-After": "100000"})
    waits: list[float] = []
    with pytest.raises(RateLimited) as raised:
        HttpClient("dhl", sleep=waits.append).request("GET", DHL)
    assert raised.value.retry_after == 100000 and waits == [] and len(responses.calls) == 1


@responses.activate
def test_503_asking_for_a_longer_wait_than_the_cap_fails_at_once() -> None:
    from carriers.http import HttpClient

    responses.add(responses.GET, DHL, status=503, headers={"Retry-After": "100000"})
    waits: list[float] = []
    with pytest.raises(TemporaryError):
        HttpClient("dhl", sleep=waits.append, max_wait=5).request("GET", DHL)
    assert waits == [] and len(responses.calls) == 1


def _answer(status: int, retry_after: str | None = None):
    from urllib3 import HTTPResponse

    return HTTPResponse(status=status, headers={"Retry-After": retry_after} if retry_after else {})


def test_503_with_a_short_retry_after_waits_that_long() -> None:
    from carriers.http import BoundedRetry

    waits: list[float] = []
    BoundedRetry(total=2, max_wait=5, sleep=waits.append).sleep(_answer(503, "2"))
    assert waits == [2]


def test_backoff_between_retries_is_capped() -> None:
    from carriers.http import BoundedRetry

    waits: list[float] = []
    retry = BoundedRetry(total=9, backoff_factor=100, max_wait=3, sleep=waits.append)
    for _ in range(3):
        retry = retry.increment("GET", "/", response=_answer(502))
        retry.sleep(_answer(502))
    assert waits == [
        3,
        3,
    ]  # urllib3 retries the first failure at once, then backs off (100 s, 200 s capped)


@responses.activate
def test_an_adapter_never_sleeps_on_a_rate_limit(monkeypatch) -> None:
    import time

    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    responses.add(responses.GET, DHL, status=429, headers={"Retry-After": "100000"})
    with pytest.raises(RateLimited):
        adapter("dhl", api_key="dhl-key").track(["1"])
    assert waits == [] and len(responses.calls) == 1


@responses.activate
def test_inside_no_waiting_a_5xx_is_not_retried_in_place() -> None:
    responses.add(responses.GET, DHL, status=503)
    responses.add(responses.GET, DHL, json={})
    waits: list[float] = []
    with no_waiting(), pytest.raises(TemporaryError):
        HttpClient("dhl", sleep=waits.append).request("GET", DHL)
    assert waits == [] and len(responses.calls) == 1
