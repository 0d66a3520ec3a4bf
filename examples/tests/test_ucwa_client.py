"""The UCWA half of the example client, tested against the plugin's fake."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from tokenclient import UcwaClient, UcwaError
from tokenclient.ucwa import parse_token


def make_client(ucwa_api, clock, accept: str = "application/json") -> UcwaClient:
    return UcwaClient(
        ucwa_api.base_url + "/autodiscover/autodiscoverservice.svc/root",
        ucwa_api.credentials.username,
        ucwa_api.credentials.password,
        accept=accept,
        now=clock.now,
    )


def test_walks_autodiscover_signin_application_and_gets_credentials(ucwa_api, relaytokens_clock):
    client = make_client(ucwa_api, relaytokens_clock)
    creds = client.media_relay_credentials()
    assert creds.valid_until - relaytokens_clock.now() == dt.timedelta(minutes=480)
    assert creds.relays and creds.relays[0][1:] == (443, 3478)
    paths = [e.request.path for e in ucwa_api.log]
    assert paths[0] == "/autodiscover/autodiscoverservice.svc/root"
    assert any(p.endswith("/WebTicket/oauthtoken") for p in paths)
    assert paths[-1].endswith("/mediaRelayAccessToken")


def test_credentials_are_cached_until_they_expire(ucwa_api, relaytokens_clock):
    client = make_client(ucwa_api, relaytokens_clock)
    first = client.media_relay_credentials()
    calls = len(ucwa_api.log)
    assert client.media_relay_credentials() is first
    assert len(ucwa_api.log) == calls
    relaytokens_clock.advance(dt.timedelta(minutes=480))
    second = client.media_relay_credentials()
    assert second.user_name != first.user_name


@pytest.mark.ucwa_format("xml")
def test_xml_representation(ucwa_api, relaytokens_clock, ucwa_token_response, ucwa_token):
    client = make_client(ucwa_api, relaytokens_clock, accept="application/xml")
    creds = client.media_relay_credentials()
    assert ucwa_api.log[-1].response.content_type == "application/xml"
    assert len(creds.password) == 28
    parsed = parse_token(ucwa_token_response.body, "application/xml")
    assert parsed.user_name == ucwa_token.user_name


@pytest.mark.ucwa_quirks(uri_key="uri", timestamps="ms_offset")
def test_client_parses_every_quirk(ucwa_token_response, ucwa_token):
    parsed = parse_token(ucwa_token_response.body, "application/json")
    issued = ucwa_token.valid_until  # /Date(ms)/ carries the whole millisecond (truncated)
    assert parsed.valid_until == issued.replace(microsecond=issued.microsecond // 1000 * 1000)


def test_bearer_expiry_makes_the_client_sign_in_again(ucwa_api, relaytokens_clock):
    client = make_client(ucwa_api, relaytokens_clock)
    client.media_relay_credentials()
    before = len(ucwa_api.log)
    relaytokens_clock.advance(dt.timedelta(hours=9))  # bearer (8 h) and token (8 h) expired
    client.media_relay_credentials()
    after = [
        (e.request.path.rsplit("/", 1)[-1], e.response.status) for e in list(ucwa_api.log)[before:]
    ]
    assert after[0] == ("mediaRelayAccessToken", 401)  # expired bearer
    assert ("oauthtoken", 200) in after  # signed in again
    assert ("mediaRelayAccessToken", 410) in after  # the idle application ended too (Gone)
    assert after[-1] == ("mediaRelayAccessToken", 200)


@pytest.mark.token_expires_in(120)
def test_short_lived_token_is_refetched(ucwa_api, relaytokens_clock):
    client = make_client(ucwa_api, relaytokens_clock)
    first = client.media_relay_credentials()
    relaytokens_clock.advance(61)  # inside the client's one-minute margin
    assert client.media_relay_credentials() is not first


@pytest.mark.token_clock_skew(-600)
def test_server_clock_behind_the_client(ucwa_api, relaytokens_clock):
    client = make_client(ucwa_api, relaytokens_clock)
    creds = client.media_relay_credentials()
    assert creds.valid_until - relaytokens_clock.now() == dt.timedelta(minutes=470)


@pytest.mark.relaytokens_errors("mediaRelayAccessToken")
def test_every_documented_token_error_surfaces_as_ucwa_error(
    ucwa_api, ucwa_error, relaytokens_clock
):
    client = make_client(ucwa_api, relaytokens_clock)
    with pytest.raises(UcwaError) as raised:
        client.media_relay_credentials()
    assert (raised.value.status, raised.value.code, raised.value.subcode) == (
        ucwa_error.status,
        ucwa_error.code,
        ucwa_error.subcode,
    )


@pytest.mark.ucwa_error("ServiceFailure", "InvalidExchangeServerVersion", times=1)
def test_marker_arms_one_failure_then_recovers(ucwa_api, relaytokens_clock):
    client = make_client(ucwa_api, relaytokens_clock)
    with pytest.raises(UcwaError):
        client.media_relay_credentials()
    assert client.media_relay_credentials().user_name


def test_token_fixture_is_realistic(ucwa_token, relaytokens_faker):
    assert ucwa_token.uri.startswith("sip:")
    assert relaytokens_faker.ucwa_application_id().isdigit()


def test_any_client_over_a_real_socket(relaytokens_server):
    ucwa = relaytokens_server.ucwa
    session = requests.Session()
    client = UcwaClient(
        relaytokens_server.url + "/autodiscover/autodiscoverservice.svc/root",
        ucwa.credentials.username,
        ucwa.credentials.password,
        session=session,
        now=ucwa.clock.now,
    )
    assert client.media_relay_credentials().relays


@pytest.mark.relaytokens_backend("replay")
@pytest.mark.relaytokens_cassette("library:ucwa/full-flow")
# The shipped recording was made by the library's own client, whose application body
# (EndpointId, UserAgent) is not this client's: compare everything but the body.
@pytest.mark.relaytokens_replay(match_on=["scheme", "host", "port", "query", "accept"])
def test_the_same_client_against_a_recorded_server(ucwa_api, relaytokens_clock):
    """Replay: the shipped recording of a full sign-in and token fetch, offline, with the
    clock pinned to when it was recorded so the recorded token is still valid."""
    client = UcwaClient(
        ucwa_api.base_url + "/autodiscover/autodiscoverservice.svc/root",
        "dan.harris@fabrikam.com",
        "anything",
        now=relaytokens_clock.now,
    )
    creds = client.media_relay_credentials()
    assert not creds.expired(relaytokens_clock.now())
    assert ucwa_api.log[-1].request.path.endswith("/mediaRelayAccessToken")
