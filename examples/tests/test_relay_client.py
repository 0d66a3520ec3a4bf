"""The Relay half of the example client, tested against the plugin's fake."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import pytest
from tokenclient import AsyncRelayClient, RelayClient, RelayError


def make_client(relay_api, clock, **kwargs) -> RelayClient:
    creds = relay_api.credentials
    return RelayClient(relay_api.base_url, creds.username, creds.password, now=clock.now, **kwargs)


def test_token_then_enterprise_by_header(relay_api, relaytokens_clock):
    client = make_client(relay_api, relaytokens_clock)
    assert client.enterprise()["name"] == relay_api.credentials.enterprise_name
    assert [e.credential for e in relay_api.log] == ["basic", "x-access-token"]


def test_token_in_the_query(relay_api, relaytokens_clock):
    client = make_client(relay_api, relaytokens_clock, in_query=True)
    client.enterprise()
    assert relay_api.log[-1].credential == "accesstoken-query"


def test_refreshes_after_two_weeks(relay_api, relaytokens_clock):
    client = make_client(relay_api, relaytokens_clock)
    client.enterprise()
    relaytokens_clock.advance(dt.timedelta(weeks=2, seconds=1))
    client.enterprise()
    assert client.refreshes == 2


@pytest.mark.token_clock_skew(3600)
def test_server_clock_ahead_shows_in_creation_date(relay_api, relaytokens_clock):
    client = make_client(relay_api, relaytokens_clock)
    body = client.create_token(duration_ms=30 * 60 * 1000)
    assert body["creationDate"] - relaytokens_clock.now_ms() == 3_600_000
    # the client trusts expirationDate, so its token lasts 90 minutes by its own clock
    assert client.expires_at - relaytokens_clock.now() == dt.timedelta(minutes=90)


@pytest.mark.token_never_expires
def test_never_expiring_token(relay_api, relaytokens_clock, relay_access_token):
    client = make_client(relay_api, relaytokens_clock)
    body = client.create_token(duration_ms=-1)
    assert body["expirationDate"] is None and client.expires_at is None
    assert relay_access_token.expires_at is None


@pytest.mark.token_expired
def test_expired_token_is_replaced(relay_api, relaytokens_clock):
    client = make_client(relay_api, relaytokens_clock)
    client.token = relay_api.credentials.access_token  # handed out already expired
    client.expires_at = None
    with pytest.raises(RelayError) as raised:
        client.enterprise()
    assert raised.value.status == 401


@pytest.mark.relay_error("BadCredentialsException")
def test_bad_credentials(relay_api, relaytokens_clock):
    with pytest.raises(RelayError) as raised:
        make_client(relay_api, relaytokens_clock).enterprise()
    assert (raised.value.status, raised.value.name) == (401, "BadCredentialsException")


@pytest.mark.relaytokens_errors("5xx")
def test_every_server_error_is_reported(relay_api, relay_error, relaytokens_clock):
    with pytest.raises(RelayError) as raised:
        make_client(relay_api, relaytokens_clock).enterprise()
    assert raised.value.name == relay_error.name


def test_async_httpx_client(relay_api):
    async def run() -> dict:
        async with httpx.AsyncClient() as http:
            client = AsyncRelayClient(
                relay_api.base_url,
                relay_api.credentials.username,
                relay_api.credentials.password,
                client=http,
            )
            return await client.enterprise()

    assert asyncio.run(run())["name"] == relay_api.credentials.enterprise_name


def test_seeded_tokens_are_reproducible(relaytokens_seed, relay_access_token, relaytokens_clock):
    from pytest_relaytokens import RelayTokenFactory

    again = RelayTokenFactory(relaytokens_seed, relaytokens_clock).build()
    assert again.access_token == relay_access_token.access_token
