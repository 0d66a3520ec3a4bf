"""The naive build of examples/tokenclient/lifecycle.py fails every lifecycle scenario, on
every transport, with a message that names its mistake (the correct build passes them in
examples/tests/test_lifecycle.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

CONFTEST = """
import httpx, pytest, requests
from tokenclient.lifecycle import LifecycleClient

@pytest.fixture
def naive(request, relay_api, relaytokens_clock):
    if TRANSPORT == "loopback":
        request.getfixturevalue("relaytokens_server")
    http = httpx.Client() if TRANSPORT == "httpx" else requests.Session()
    def make(**kwargs):
        creds = relay_api.credentials
        kwargs.setdefault("sleep", relaytokens_clock.advance)
        return LifecycleClient(relay_api.base_url, creds.username, creds.password, http=http,
                               now=relaytokens_clock.now, naive=True, **kwargs)
    yield make
    http.close()
"""

SCENARIOS = """
import asyncio, datetime as dt, time
import httpx, pytest
from tokenclient.lifecycle import TOKENS, AsyncLifecycleClient

@pytest.mark.relaytokens_refresh(token_requests=2)
def test_threads(naive, relay_api, relaytokens_clock, relaytokens_lifecycle):
    client = naive()
    client.endpoints()
    relaytokens_clock.advance(dt.timedelta(weeks=2, seconds=1))
    relay_api.arm_delay(0.2, times=None, path=f"^{TOKENS}$")  # all five find it stale
    relaytokens_lifecycle.in_flight(client.endpoints, 5)

def test_revoked(naive, relay_api):
    client = naive()
    client.endpoints()
    relay_api.revoke(client.token)
    print("TOKEN", client.token)
    client.endpoints()

def test_retry_after(naive, relay_api):
    relay_api.arm_error("TooManyRequests", path="^/api/endpoints$")
    naive().endpoints()

@pytest.mark.relaytokens_skews("0s", "-15d")
@pytest.mark.relaytokens_refresh(token_requests=1)
def test_skews(naive, relaytokens_clock):
    client = naive(trust="local")
    for _ in range(3):
        client.endpoints()
        relaytokens_clock.advance(3600)

@pytest.mark.relaytokens_date_skew("+15d")
@pytest.mark.relaytokens_refresh(token_requests=1)
def test_date(naive, relaytokens_clock):
    client = naive(trust="date")
    for _ in range(3):
        client.endpoints()
        relaytokens_clock.advance(3600)

@pytest.mark.relaytokens_chaos(truncate=0.5, reset=0.5, path="^/api/endpoints$")
def test_chaos(naive):
    naive().endpoints()
"""


def _sections(output: str) -> dict[str, str]:
    """Each failing test's report section, by test name (``_ ERROR at teardown of x _``)."""
    found: dict[str, str] = {}
    parts = re.split(r"\n_{3,} (?:ERROR at teardown of )?(\S+) _{3,}\n", output)
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        found[name] = found.get(name, "") + body
    return found


@pytest.mark.parametrize("transport", ["requests", "httpx", "loopback"])
def test_the_naive_client_fails_each_scenario_naming_its_mistake(
    pytester: pytest.Pytester, transport: str
) -> None:
    pytester.syspathinsert(EXAMPLES)
    pytester.makeconftest(f"TRANSPORT = {transport!r}\n" + CONFTEST)
    pytester.makepyfile(test_naive=SCENARIOS)
    result = pytester.runpytest("-p", "no:randomly", "-s")
    out = result.stdout.str()
    sections = _sections(out)
    # single-flight: one fetch per caller, each listed with its times
    threads = sections["test_threads"]
    assert "expected exactly 2 token request(s)" in threads
    assert "no single-flight refresh" in threads
    count = int(re.search(r"the fakes got (\d+)", threads).group(1))  # type: ignore[union-attr]
    assert count >= 3
    assert (
        len(re.findall(r"token: POST /api/auth/accesstokens -> 200 at \S+ \(\+", threads)) == count
    )
    # dead-token reuse: the request, the fingerprints, never the token
    revoked = sections["test_revoked"]
    assert "dead-token reuse" in revoked
    assert re.search(
        r"GET /api/endpoints -> 401 at \S+ carried sha256:[0-9a-f]{12} after sha256:", revoked
    )
    assert "relaytokens_lifecycle(dead_tokens=False)" in revoked
    token = re.search(r"TOKEN (\S+)", out).group(1)  # type: ignore[union-attr]
    assert token not in revoked
    # Retry-After: both times
    early = sections["test_retry_after"]
    assert "came before Retry-After allowed them" in early
    assert re.search(
        r"said Retry-After 1 s \(retry allowed from \S+\), but GET /api/endpoints -> 200 came at \S+",
        early,
    )
    # skews: only the run beyond the token lifetime fails
    assert "test_skews[skew=-15d]" in out and "test_skews[skew=0s]" not in sections
    assert (
        "expected exactly 1 token request(s) and sign-in(s), the fakes got 3"
        in sections["test_skews[skew=-15d]"]
    )
    assert "the fakes got 3" in sections["test_date"]
    # chaos: the broken connection surfaces, with the seed to reproduce it
    chaos = sections["test_chaos"]
    assert "reproduce with --relaytokens-seed=" in chaos
    # teardown errors count on top of the calls: five calls pass, two fail
    result.assert_outcomes(passed=5, failed=2, errors=5)


def test_a_client_sleeping_on_the_real_clock_is_told_to_advance_the_test_clock(
    pytester: pytest.Pytester,
) -> None:
    pytester.syspathinsert(EXAMPLES)
    pytester.makeconftest("TRANSPORT = 'requests'\n" + CONFTEST)
    pytester.makepyfile(
        """
        import time

        def test_real_sleep(naive, relay_api):
            relay_api.arm_error("TooManyRequests", path="^/api/endpoints$")
            client = naive()
            client.naive = False  # it waits, but on the real clock
            client.sleep = time.sleep
            client.endpoints()
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*slept on the real clock while the test's clock is frozen*relaytokens_clock.advance*"]
    )


def test_naive_asyncio_tasks_fetch_one_token_each(pytester: pytest.Pytester) -> None:
    pytester.syspathinsert(EXAMPLES)
    pytester.makepyfile(
        """
        import asyncio
        import httpx
        from tokenclient.lifecycle import TOKENS, AsyncLifecycleClient

        def test_tasks(relay_api, relaytokens_clock, relaytokens_lifecycle):
            relay_api.arm_delay(0.05, times=None, path=f"^{TOKENS}$")
            creds = relay_api.credentials

            async def run():
                async with httpx.AsyncClient() as http:
                    client = AsyncLifecycleClient(
                        relay_api.base_url, creds.username, creds.password, http=http,
                        now=relaytokens_clock.now, naive=True,
                    )
                    await relaytokens_lifecycle.in_flight_async(client.endpoints, 5)

            asyncio.run(run())
            relaytokens_lifecycle.assert_token_requests(1)
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*relaytokens_lifecycle: expected exactly 1 token request(s) and sign-in(s), the "
            "fakes got 5; more than promised*no single-flight refresh*",
        ]
    )
