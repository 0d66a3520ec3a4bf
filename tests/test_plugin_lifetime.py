"""Nothing the plugin makes for a test outlives it: after 20 (in random order 100) and after
200 tests the number of live objects of ``pytest_relaytokens`` types is the same (counted
with ``gc``)."""

from __future__ import annotations

import json

import pytest

COUNTER = """
import collections, gc, json, os

def live_plugin_objects():
    gc.collect()
    counts = collections.Counter(
        f"{type(obj).__module__}.{type(obj).__qualname__}"
        for obj in gc.get_objects()
        if str(getattr(type(obj), "__module__", "")).startswith("pytest_relaytokens")
    )
    return counts

DONE = [0]
COUNTS = {}

def pytest_runtest_logfinish(nodeid, location):
    DONE[0] += 1
    if str(DONE[0]) in os.environ["LIFETIME_AT"].split(","):
        COUNTS[DONE[0]] = live_plugin_objects()

def pytest_unconfigure(config):
    with open(os.environ["LIFETIME_OUT"], "w") as out:
        json.dump({str(k): dict(v) for k, v in COUNTS.items()}, out)
"""

# Ten kinds of test, cycled: every kind has run twice before the first count.
SUITE = """
import pytest, requests, httpx

KINDS = 10

@pytest.mark.parametrize("n", range(200))
def test_mixed(n, request):
    kind = n % KINDS
    if kind == 0:
        token = request.getfixturevalue("ucwa_token")
        assert not token.is_expired()
    elif kind == 1:
        token = request.getfixturevalue("relay_access_token")
        clock = request.getfixturevalue("relaytokens_clock")
        clock.advance(60)
        assert token.remaining().total_seconds() > 0
    elif kind == 2:
        api = request.getfixturevalue("ucwa_api")
        r = requests.get(api.token_url(),
                         headers={"Authorization": "Bearer " + api.credentials.bearer})
        assert r.status_code == 200
    elif kind == 3:
        api = request.getfixturevalue("relay_api")
        with httpx.Client() as client:
            r = client.post(api.token_url(),
                            auth=(api.credentials.username, api.credentials.password))
        assert r.status_code == 200
    elif kind == 4:
        server = request.getfixturevalue("relaytokens_server")
        r = requests.get(server.url.rstrip("/") + "/api/enterprises/self",
                         headers={"X-Access-Token": server.relay.credentials.access_token})
        assert r.status_code == 200
    elif kind == 5:
        shared = request.getfixturevalue("relaytokens_shared_server")
        r = requests.get(shared.url.rstrip("/") + "/api/enterprises/self",
                         headers={"X-Access-Token": shared.relay.credentials.access_token})
        assert r.status_code == 200
    elif kind == 6:
        response = request.getfixturevalue("ucwa_token_response")
        assert response.status == 200
    elif kind == 7:
        api = request.getfixturevalue("relay_api")
        api.revoke(api.credentials.access_token)
        r = requests.get(api.base_url + "/api/enterprises/self",
                         headers={"X-Access-Token": api.credentials.access_token})
        assert r.status_code == 401
    elif kind == 8:
        fake = request.getfixturevalue("relaytokens_faker")
        assert fake.relay_access_token()
    else:
        assert n  # a test that does not use the plugin at all
"""


def _counts(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, first: int, *args: str
) -> dict[str, dict[str, int]]:
    """Live plugin objects after test ``first`` and after test 200."""
    monkeypatch.setenv("LIFETIME_AT", f"{first},200")
    pytester.makeconftest(COUNTER)
    pytester.makepyfile(test_many=SUITE)
    out = pytester.path / "counts.json"
    monkeypatch.setenv("LIFETIME_OUT", str(out))
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=200)
    counts: dict[str, dict[str, int]] = json.loads(out.read_text())
    return counts


def _growth(counts: dict[str, dict[str, int]], first: int) -> dict[str, tuple[int, int]]:
    early, late = counts[str(first)], counts["200"]
    return {
        name: (early.get(name, 0), late.get(name, 0))
        for name in sorted(set(early) | set(late))
        if late.get(name, 0) > early.get(name, 0)
    }


@pytest.mark.heavy
def test_no_plugin_object_outlives_its_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = _counts(pytester, monkeypatch, 20)
    assert sum(counts["20"].values()) > 0  # the counter sees the plugin's run-wide objects
    assert _growth(counts, 20) == {}, "plugin objects pile up from test 20 to test 200"
    late = counts["200"]
    for kept in ("TestContext", "FakeBackend", "UcwaService", "RelayService", "Clock"):
        alive = {name: n for name, n in late.items() if name.endswith("." + kept)}
        assert not alive, f"{kept} objects alive after 200 tests: {alive}"


@pytest.mark.heavy
def test_no_plugin_object_outlives_its_test_with_random_order(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In random order every kind has surely run by test 100 (each kind is 20 of the 200), so
    # the run-wide objects made on first use (catalogues, defaults) are all there by then.
    counts = _counts(pytester, monkeypatch, 100, "-p", "randomly")
    assert _growth(counts, 100) == {}
    assert not any(name.endswith(".TestContext") for name in counts["200"])
