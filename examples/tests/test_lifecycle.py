"""The token-lifecycle scenarios against the correct build of ``tokenclient.lifecycle``, on
every transport: ``requests`` (through responses), ``httpx`` and the loopback server. The
naive build fails each of them: tests/test_lifecycle_scenarios.py proves it."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import pytest
import requests
from tokenclient.lifecycle import TOKENS, AsyncLifecycleClient, LifecycleClient

TWO_WEEKS = dt.timedelta(weeks=2, seconds=1)


@pytest.fixture(params=["requests", "httpx", "loopback"])
def relay(request, relay_api):
    """The Relay fake and an HTTP client reaching it over one transport."""
    if request.param == "loopback":
        request.getfixturevalue("relaytokens_server")  # relay_api.base_url now points at it
    http = httpx.Client() if request.param == "httpx" else requests.Session()
    yield relay_api, http
    http.close()


def make(relay, clock, **kwargs) -> LifecycleClient:
    service, http = relay
    creds = service.credentials
    return LifecycleClient(
        service.base_url,
        creds.username,
        creds.password,
        http=http,
        now=clock.now,
        sleep=clock.advance,  # waits on the test's clock
        **kwargs,
    )


@pytest.mark.relaytokens_refresh(token_requests=2)  # the first token, then one refresh
def test_single_flight_refresh_in_threads(relay, relaytokens_clock, relaytokens_lifecycle):
    client = make(relay, relaytokens_clock)
    client.endpoints()
    relaytokens_clock.advance(TWO_WEEKS)  # the token expires; five calls are in flight
    relay[0].arm_delay(0.05, times=None, path=f"^{TOKENS}$")  # a slow token endpoint
    results = relaytokens_lifecycle.in_flight(client.endpoints, 5)
    assert all(len(found) == 2 for found in results)


def test_single_flight_refresh_in_asyncio_tasks(
    relay_api, relaytokens_clock, relaytokens_lifecycle
):
    relay_api.arm_delay(0.05, times=None, path=f"^{TOKENS}$")
    creds = relay_api.credentials

    async def run() -> None:
        async with httpx.AsyncClient() as http:
            client = AsyncLifecycleClient(
                relay_api.base_url,
                creds.username,
                creds.password,
                http=http,
                now=relaytokens_clock.now,
            )
            await relaytokens_lifecycle.in_flight_async(client.endpoints, 5)

    asyncio.run(run())
    relaytokens_lifecycle.assert_token_requests(1)


def test_fresh_token_after_revocation(relay, relaytokens_clock):
    client = make(relay, relaytokens_clock)
    client.endpoints()
    relay[0].revoke(client.token)  # dead-token reuse is checked at teardown
    assert len(client.endpoints()) == 2


def test_retry_after_on_the_test_clock(relay, relaytokens_clock):
    client = make(relay, relaytokens_clock)
    relay[0].arm_error("TooManyRequests", path="^/api/endpoints$")  # Retry-After: 1
    assert len(client.endpoints()) == 2  # a retry before it was allowed fails at teardown


@pytest.mark.relaytokens_skews("-50s", "0s", "+50s", "+15d", "-15d")
@pytest.mark.relaytokens_refresh(token_requests=1)
def test_one_token_whatever_the_server_clock(relay, relaytokens_clock):
    client = make(relay, relaytokens_clock)
    for _ in range(3):
        client.endpoints()
        relaytokens_clock.advance(3600)


@pytest.mark.relaytokens_date_skew("+15d")
@pytest.mark.relaytokens_refresh(token_requests=1)
def test_one_token_whatever_the_date_header(relay, relaytokens_clock):
    client = make(relay, relaytokens_clock)
    for _ in range(3):
        client.endpoints()
        relaytokens_clock.advance(3600)


@pytest.mark.relaytokens_chaos(
    truncate=0.1, reset=0.1, dribble=0.2, bad_chunked=0.1, slow_headers=0.1, path="^/api/endpoints$"
)
def test_survives_seeded_chaos(relay, relaytokens_clock, relaytokens_lifecycle):
    client = make(relay, relaytokens_clock, attempts=10)
    for _ in range(8):
        assert len(client.endpoints()) == 2
    chaos = relaytokens_lifecycle.to_dict()["relay"]["chaos"]
    assert {c["kind"] for c in chaos} <= {
        "truncate",
        "reset",
        "dribble",
        "bad_chunked",
        "slow_headers",
    }
