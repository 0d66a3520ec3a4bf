"""``relaytokens drift``: a cassette's requests against the live API (issue 19, item 8)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_relaytokens.cassettes.drift import compare, field_types
from pytest_relaytokens.cli import main
from pytest_relaytokens.clock import Clock
from pytest_relaytokens.relay.service import RelayService
from pytest_relaytokens.transports.server import LoopbackServer, PathRouter
from pytest_relaytokens.ucwa.service import UcwaService

FLOW = """
import requests

def test_flow(relay_api):
    creds = relay_api.credentials
    created = requests.post(relay_api.base_url + "/api/auth/accesstokens",
                            auth=(creds.username, creds.password))
    token = created.json()["accessToken"]
    widget = requests.get(relay_api.base_url + "/api/widgets/7",
                          headers={"X-Access-Token": token, "Accept": "application/json"})
    assert widget.json()["name"] == "gear"
"""


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LoopbackServer, RelayService]]:
    """A loopback server playing the live Relay API, with a user route for /api/widgets/7."""
    clock = Clock()
    ucwa, relay = UcwaService(clock=clock, seed=31), RelayService(clock=clock, seed=32)
    relay.route("GET", "/api/widgets/7", json={"id": 7, "name": "gear", "tags": ["a"]})
    with LoopbackServer(PathRouter([("/api/", relay)], default=ucwa)) as server:
        server.ucwa = ucwa  # type: ignore[attr-defined]
        monkeypatch.setenv("RELAYTOKENS_RELAY_URL", server.url)
        monkeypatch.setenv("RELAYTOKENS_RELAY_USERNAME", relay.credentials.username)
        monkeypatch.setenv("RELAYTOKENS_RELAY_PASSWORD", relay.credentials.password)
        yield server, relay


def _record(pytester: pytest.Pytester) -> Path:
    pytester.makepyfile(test_flow=FLOW)
    pytester.runpytest(
        "--relaytokens-backend=live", "--relaytokens-record-mode=once"
    ).assert_outcomes(passed=1)
    return pytester.path / "cassettes" / "test_flow" / "test_flow.yaml"


def test_field_types_and_compare() -> None:
    assert field_types({"a": 1, "b": [{"c": None}], "d": "x"}) == {
        "a": "number",
        "b": "array",
        "b[]": "object",
        "b[].c": "null",
        "d": "string",
    }
    assert compare({"a": 1, "b": "x"}, {"a": "1", "c": True}) == [
        "added: c (boolean)",
        "removed: b (string)",
        "changed type: a number -> string",
    ]


def test_an_unchanged_api_shows_no_drift(
    pytester: pytest.Pytester,
    live: tuple[LoopbackServer, RelayService],
    capsys: pytest.CaptureFixture[str],
) -> None:
    cassette = _record(pytester)
    server, _ = live
    capsys.readouterr()
    assert main(["drift", str(cassette), "--base-url", server.url]) == 0
    out = capsys.readouterr().out
    assert "0 of 2 drifted" in out
    assert "#2 GET /api/widgets/7 (https://" not in out  # recorded against the live URL
    assert "#2 GET /api/widgets/7 (http://127.0.0.1" in out and out.count("no drift") == 2


def test_a_changed_api_reports_fields_per_interaction_without_secrets(
    pytester: pytest.Pytester,
    live: tuple[LoopbackServer, RelayService],
    capsys: pytest.CaptureFixture[str],
) -> None:
    cassette = _record(pytester)
    server, relay = live
    before = cassette.read_bytes()
    relay.route("GET", "/api/widgets/7", json={"id": "7", "tags": ["a"], "colour": "red"})
    capsys.readouterr()
    assert main(["drift", str(cassette), "--base-url", server.url]) == 1
    captured = capsys.readouterr()
    out = captured.out
    assert "1 of 2 drifted" in out
    assert "#1 POST /api/auth/accesstokens (http://127.0.0.1" in out
    assert "#2 GET /api/widgets/7 (http://127.0.0.1:" in out
    assert "    added: colour (string)\n    removed: name (string)\n" in out
    assert "    changed type: id number -> string" in out
    # the live token was presented (a placeholder would have been refused 401)
    assert "status 401" not in out
    secrets = [relay.credentials.password, *(t.access_token for t in relay.issued_tokens)]
    assert relay.issued_tokens and not any(s in out + captured.err for s in secrets)
    assert "red" not in out and "gear" not in out  # values never shown
    assert cassette.read_bytes() == before  # nothing written


def test_missing_credentials_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_relaytokens.library import scenario_path

    monkeypatch.delenv("RELAYTOKENS_RELAY_PASSWORD", raising=False)
    monkeypatch.delenv("RELAYTOKENS_RELAY_USERNAME", raising=False)
    code = main(
        ["drift", str(scenario_path("relay/token-basic")), "--base-url", "http://127.0.0.1:9"]
    )
    assert code == 2
    assert (
        "relaytokens drift: drift: set RELAYTOKENS_RELAY_USERNAME, RELAYTOKENS_RELAY_PASSWORD"
        in capsys.readouterr().err
    )


UCWA_FLOW = """
def test_token(ucwa_token):
    assert ucwa_token.duration
"""


def test_a_ucwa_sign_in_flow_replays_against_the_live_api(
    pytester: pytest.Pytester,
    live: tuple[LoopbackServer, RelayService],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The walk's bearer and application links are the live ones, not the recorded ones."""
    server, _ = live
    ucwa: UcwaService = server.ucwa  # type: ignore[attr-defined]
    monkeypatch.setenv("RELAYTOKENS_UCWA_URL", server.url)
    monkeypatch.setenv("RELAYTOKENS_UCWA_USERNAME", ucwa.credentials.username)
    monkeypatch.setenv("RELAYTOKENS_UCWA_PASSWORD", ucwa.credentials.password)
    pytester.makepyfile(test_flow=UCWA_FLOW)
    pytester.runpytest(
        "--relaytokens-backend=live", "--relaytokens-record-mode=once"
    ).assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "test_flow" / "test_token.yaml"
    fresh = UcwaService(clock=Clock(), seed=31)  # the live API later: same user, no application
    assert fresh.credentials.password == ucwa.credentials.password
    capsys.readouterr()
    with LoopbackServer(fresh) as later:
        code = main(["drift", str(cassette), "--base-url", later.url, "--api", "ucwa"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "0 of 6 drifted" in out
    assert "status" not in out and ucwa.credentials.password not in out
