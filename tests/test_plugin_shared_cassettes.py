"""A cassette shared on purpose by several tests is recorded without loss, serially and
under xdist, in every record mode that writes (a lock serialises the recorders)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from pytest_relaytokens.clock import Clock
from pytest_relaytokens.relay.service import RelayService
from pytest_relaytokens.transports.server import LoopbackServer, PathRouter
from pytest_relaytokens.ucwa.service import UcwaService

SHARED = """
import time
import pytest, requests

pytestmark = pytest.mark.relaytokens_cassette("cassettes/shared.yaml")

def test_relay(relay_api):
    time.sleep(0.2)  # overlap with the other worker
    creds = relay_api.credentials
    answer = requests.post(relay_api.base_url + "/api/auth/accesstokens?clientName=one",
                           auth=(creds.username, creds.password))
    assert answer.status_code == 200

def test_ucwa(ucwa_api):
    time.sleep(0.2)
    answer = requests.get(ucwa_api.base_url + "/autodiscover/autodiscoverservice.svc/root",
                          headers={"Accept": "application/json"})
    assert answer.status_code == 200
"""


@pytest.fixture
def live_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    """A loopback server standing in for live UCWA and Relay servers."""
    clock = Clock()
    ucwa = UcwaService(clock=clock, seed=21)
    relay = RelayService(clock=clock, seed=22)
    with LoopbackServer(PathRouter([("/api/", relay)], default=ucwa)) as server:
        monkeypatch.setenv("RELAYTOKENS_RELAY_URL", server.url)
        monkeypatch.setenv("RELAYTOKENS_RELAY_USERNAME", relay.credentials.username)
        monkeypatch.setenv("RELAYTOKENS_RELAY_PASSWORD", relay.credentials.password)
        monkeypatch.setenv("RELAYTOKENS_UCWA_URL", server.url)
        monkeypatch.setenv("RELAYTOKENS_UCWA_USERNAME", ucwa.credentials.username)
        monkeypatch.setenv("RELAYTOKENS_UCWA_PASSWORD", ucwa.credentials.password)
        yield server


@pytest.mark.parametrize(
    ("mode", "xdist"),
    [
        ("new_episodes", False),
        ("all", False),
        ("rewrite", False),
        pytest.param("all", True, marks=pytest.mark.heavy),
        pytest.param("rewrite", True, marks=pytest.mark.heavy),
    ],
    ids=["new_episodes-serial", "all-serial", "rewrite-serial", "all-xdist", "rewrite-xdist"],
)
def test_shared_cassette_keeps_every_tests_interactions(
    pytester: pytest.Pytester, live_server: LoopbackServer, mode: str, xdist: bool
) -> None:
    pytester.makepyfile(test_shared=SHARED)
    args = ["--relaytokens-backend=live", f"--relaytokens-record-mode={mode}"]
    if xdist:
        args += ["-n", "2", "-p", "xdist"]
    for _ in range(2):  # the second run must not lose anything either (rewrite, all)
        pytester.runpytest(*args).assert_outcomes(passed=2)
        text = (pytester.path / "cassettes" / "shared.yaml").read_text()
        assert "/api/auth/accesstokens?clientName=one" in text
        assert "/autodiscover/autodiscoverservice.svc/root" in text
    if mode == "rewrite":  # rewritten once per run: one copy of each interaction
        uris = [i["request"]["uri"] for i in yaml.safe_load(text)["interactions"]]
        assert sum(u.endswith("/autodiscover/autodiscoverservice.svc/root") for u in uris) == 1
