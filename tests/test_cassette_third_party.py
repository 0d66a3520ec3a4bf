"""The shipped cassettes are plain vcrpy cassettes: vcrpy alone and pytest-recording play them
back (every one, through ``requests``), repeated headers included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from pytest_relaytokens.cassettes import _vcr_compat
from pytest_relaytokens.library import SCENARIOS, scenario_path


def _interactions(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    interactions: list[dict[str, Any]] = data["interactions"]
    return interactions


def _send(request: dict[str, Any]) -> requests.Response:
    headers = {k: v[0] for k, v in request["headers"].items() if k.lower() != "content-length"}
    body = request["body"]
    data = body.encode() if isinstance(body, str) else body
    return requests.request(
        request["method"], request["uri"], headers=headers, data=data, timeout=5
    )


def _values(headers: dict[str, list[str]], name: str) -> list[str]:
    return [v for k, values in headers.items() if k.lower() == name for v in values]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_plain_vcrpy_plays_every_shipped_cassette(scenario: str) -> None:
    import vcr

    # vcrpy 7-8 (with urllib3 2) join repeated headers only with the workaround the plugin
    # applies whenever it builds a vcr; apply it here too, so the order of tests is irrelevant.
    _vcr_compat.apply()
    path = scenario_path(scenario)
    recorded = _interactions(path)
    with vcr.use_cassette(str(path), record_mode="none") as cassette:
        for interaction in recorded:
            got = _send(interaction["request"])
            want = interaction["response"]
            assert got.status_code == want["status"]["code"], interaction["request"]["uri"]
            assert got.content == want["body"]["string"].encode()
            challenges = _values(want["headers"], "www-authenticate")
            if challenges:
                assert got.headers["WWW-Authenticate"] == ", ".join(challenges)
        assert cassette.all_played


PYTEST_RECORDING_SUITE = """
import pytest
import requests
import yaml
from vcr.errors import CannotOverwriteExistingCassetteException

from pytest_relaytokens.library import library_root

SHIPPED = library_root() / "relay" / "token-basic.yaml"


@pytest.fixture(scope="module")
def vcr_cassette_dir():
    return str(SHIPPED.parent)


@pytest.mark.default_cassette(SHIPPED.name)
@pytest.mark.vcr
def test_replays_the_shipped_relay_token():
    request = yaml.safe_load(SHIPPED.read_text())["interactions"][0]["request"]
    r = requests.post(request["uri"], headers={"Authorization": request["headers"]["Authorization"][0]})
    assert r.status_code == 200
    assert len(r.json()["accessToken"]) == 32


@pytest.mark.default_cassette(SHIPPED.name)
@pytest.mark.vcr
def test_refuses_a_request_the_cassette_lacks():
    with pytest.raises(CannotOverwriteExistingCassetteException):
        requests.get("https://relay.bluejeans.com/api/enterprises/self")
"""


def test_pytest_recording_plays_a_shipped_cassette(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_with_pytest_recording=PYTEST_RECORDING_SUITE)
    result = pytester.runpytest("-p", "recording", "--record-mode=none")
    result.assert_outcomes(passed=2)
