"""The live backend tells the recorder whether the test passed: ``rewrite`` keeps the
previous cassette when the test fails or the run is interrupted; ``all`` and
``new_episodes`` still add what was recorded (a partial episode loses nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pytest_relaytokens.clock import Clock
from pytest_relaytokens.relay.service import RelayService
from pytest_relaytokens.transports.server import LoopbackServer, PathRouter
from pytest_relaytokens.ucwa.service import UcwaService

CONVERSATION = """
import pathlib
import pytest, requests

HOW = (pathlib.Path(__file__).parent / "how.txt").read_text()

@pytest.mark.relaytokens_cassette("cassettes/conv.yaml")
def test_conv(relay_api):
    creds = relay_api.credentials
    answer = requests.post(relay_api.base_url + "/api/auth/accesstokens",
                           auth=(creds.username, creds.password))
    token = answer.json()["accessToken"]
    if HOW == "fail":
        assert requests.get(relay_api.base_url + "/api/enterprises/self",
                            params={"accesstoken": token}).status_code == 999
    if HOW == "interrupt":
        raise KeyboardInterrupt
    if HOW == "skip":
        pytest.skip("the downstream test skips itself after recording part of its traffic")
    requests.get(relay_api.base_url + "/api/enterprises/self", params={"accesstoken": token})
    requests.get(relay_api.base_url + "/api/enterprises/self",
                 headers={"X-Access-Token": token})
"""


@pytest.fixture
def live_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    """A loopback server standing in for a live Relay server."""
    clock = Clock()
    relay = RelayService(clock=clock, seed=22)
    with LoopbackServer(PathRouter([("/api/", relay)], default=UcwaService(clock=clock))) as srv:
        monkeypatch.setenv("RELAYTOKENS_RELAY_URL", srv.url)
        monkeypatch.setenv("RELAYTOKENS_RELAY_USERNAME", relay.credentials.username)
        monkeypatch.setenv("RELAYTOKENS_RELAY_PASSWORD", relay.credentials.password)
        yield srv


def _run(pytester: pytest.Pytester, mode: str, how: str) -> pytest.RunResult:
    (pytester.path / "how.txt").write_text(how)
    return pytester.runpytest(
        "--relaytokens-backend=live",
        f"--relaytokens-record-mode={mode}",
        "-p",
        "no:randomly",
        no_reraise_ctrlc=True,
    )


def _interactions(path: Path) -> int:
    return len(yaml.safe_load(path.read_text())["interactions"])


def _leftovers(folder: Path) -> list[str]:
    return sorted(
        p.name for p in folder.iterdir() if p.name not in ("conv.yaml", ".conv.yaml.lock")
    )


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("fail", "the test failed"),
        ("interrupt", "the run was interrupted"),
        ("skip", "the test did not pass"),
    ],
)
def test_rewrite_keeps_the_previous_cassette_when_the_test_does_not_pass(
    pytester: pytest.Pytester, live_server: LoopbackServer, how: str, reason: str
) -> None:
    pytester.makepyfile(test_conv=CONVERSATION)
    _run(pytester, "rewrite", "").assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "conv.yaml"
    before = cassette.read_bytes()
    assert _interactions(cassette) == 3

    result = _run(pytester, "rewrite", how)

    assert cassette.read_bytes() == before  # not the partial recording
    assert _leftovers(cassette.parent) == []  # no temporary file left behind
    result.stdout.fnmatch_lines(
        [f"*CassetteKeptWarning: kept the previous cassette *conv.yaml: {reason}*"]
    )
    assert "accesstoken=" not in result.stdout.str().replace("accesstoken=<hidden>", "")


def test_rewrite_replaces_the_cassette_when_the_test_passes(
    pytester: pytest.Pytester, live_server: LoopbackServer
) -> None:
    pytester.makepyfile(test_conv=CONVERSATION)
    _run(pytester, "rewrite", "fail").assert_outcomes(failed=1)
    cassette = pytester.path / "cassettes" / "conv.yaml"
    assert not cassette.exists()  # nothing before, nothing complete: nothing written
    assert _leftovers(cassette.parent) == [] if cassette.parent.exists() else True
    result = _run(pytester, "rewrite", "")
    result.assert_outcomes(passed=1)
    assert _interactions(cassette) == 3
    assert "CassetteKeptWarning" not in result.stdout.str()


@pytest.mark.parametrize("mode", ["all", "new_episodes"])
def test_appending_modes_still_write_a_failed_tests_recording(
    pytester: pytest.Pytester, live_server: LoopbackServer, mode: str
) -> None:
    pytester.makepyfile(test_conv=CONVERSATION)
    _run(pytester, mode, "").assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "conv.yaml"
    before = cassette.read_bytes()
    result = _run(pytester, mode, "fail")
    result.assert_outcomes(failed=1)
    if mode == "all":  # vcrpy's "all" records everything again: the partial episode is written
        assert cassette.read_bytes() != before
    assert _interactions(cassette) >= 2
    assert "CassetteKeptWarning" not in result.stdout.str()
    assert _leftovers(cassette.parent) == []
